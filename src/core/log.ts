/**
 * The logging port. Components receive a `Logger` and namespace it with `forComponent`
 * (as js-libp2p does: `components.logger.forComponent('libp2p:tcp')`).
 */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void
  info(msg: string, fields?: Record<string, unknown>): void
  warn(msg: string, fields?: Record<string, unknown>): void
  error(msg: string, fields?: Record<string, unknown>): void
  /** A child logger for one component, e.g. `orbit:transport-tcp`. */
  forComponent(name: string): Logger
}

/** A logger that drops everything: the default for library use and tests. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  forComponent() {
    return silentLogger
  },
}

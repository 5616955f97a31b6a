import { pino, destination, type Logger as PinoLogger } from 'pino'
import type { Logger } from '../../core/log.js'

function wrap(p: PinoLogger): Logger {
  return {
    debug: (msg, fields) => p.debug(fields ?? {}, msg),
    info: (msg, fields) => p.info(fields ?? {}, msg),
    warn: (msg, fields) => p.warn(fields ?? {}, msg),
    error: (msg, fields) => p.error(fields ?? {}, msg),
    forComponent: (name) => wrap(p.child({ component: name })),
  }
}

/**
 * A pino-backed logger writing JSON lines to stderr. The level comes from `level`, else
 * `$ORBIT_LOG_LEVEL`, else `warn` (quiet by default; tests set `silent`).
 */
export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  const level = options.level ?? process.env.ORBIT_LOG_LEVEL ?? 'warn'
  return wrap(pino({ name: options.name ?? 'orbit', level }, destination(2)))
}

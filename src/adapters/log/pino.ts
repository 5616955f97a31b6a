import { pino, destination, type DestinationStream, type Logger as PinoLogger } from 'pino'
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

/** `json`: one JSON object a line (for machines); `pretty`: one plain line a record (for people). */
export type LogFormat = 'json' | 'pretty'

/**
 * The format logs take: `$ORBIT_LOG_FORMAT` (`json`, or `pretty`/`text`) when set, else `pretty`
 * when stderr is a terminal (someone reads it) and `json` when it is not (a file, a pipe, a log
 * collector).
 */
export function logFormat(env: Record<string, string | undefined> = process.env, stderrIsTTY = process.stderr.isTTY === true): LogFormat {
  const asked = env.ORBIT_LOG_FORMAT?.trim().toLowerCase()
  if (asked === 'json') return 'json'
  if (asked === 'pretty' || asked === 'text') return 'pretty'
  return stderrIsTTY ? 'pretty' : 'json'
}

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' }
/** pino's own fields, shown in the line's fixed part or not at all. */
const FIXED = new Set(['level', 'time', 'pid', 'hostname', 'name', 'component', 'msg'])

/**
 * One pino JSON record as a line for people: `warn  orbit:daemon  the message  key=value …`.
 * A line that is not a pino record is passed through unchanged.
 */
export function formatPretty(record: string): string {
  let r: Record<string, unknown>
  try {
    r = JSON.parse(record) as Record<string, unknown>
  } catch {
    return record.endsWith('\n') ? record : `${record}\n`
  }
  const level = LEVELS[r.level as number] ?? String(r.level)
  const where = typeof r.component === 'string' ? r.component : typeof r.name === 'string' ? r.name : ''
  const extra = Object.entries(r)
    .filter(([k]) => !FIXED.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`)
  return `${[level.padEnd(5), where, String(r.msg ?? ''), ...extra].filter((s) => s !== '').join('  ')}\n`
}

/** A pino destination writing each record through {@link formatPretty} to `out`. */
function prettyDestination(out: { write(s: string): unknown }): DestinationStream {
  return { write: (record: string) => void out.write(formatPretty(record.trimEnd())) }
}

/**
 * A pino-backed logger writing to stderr, as JSON lines or plain lines ({@link logFormat}). The
 * level comes from `level`, else `$ORBIT_LOG_LEVEL`, else `warn` (quiet by default; tests set
 * `silent`).
 */
export function createLogger(options: { level?: string; name?: string; format?: LogFormat } = {}): Logger {
  const level = options.level ?? process.env.ORBIT_LOG_LEVEL ?? 'warn'
  const format = options.format ?? logFormat()
  const stream = format === 'json' ? destination(2) : prettyDestination(process.stderr)
  return wrap(pino({ name: options.name ?? 'orbit', level }, stream))
}

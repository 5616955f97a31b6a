/**
 * Option parsers and small helpers shared by the LAN commands (serve, pair, device, peers, sync).
 * Light on purpose: command modules import this statically.
 */
import { InvalidArgumentError } from 'commander'

/** `90`, `90s`, `10m`, `2h` → milliseconds (bare numbers are seconds). */
export function duration(value: string): number {
  const m = /^(\d{1,7})(ms|s|m|h)?$/.exec(value.trim())
  if (m === null) throw new InvalidArgumentError('expected a duration like 30s, 10m or 2h')
  const n = Number(m[1])
  const unit = m[2] ?? 's'
  const ms = unit === 'ms' ? n : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n * 3_600_000
  if (ms <= 0) throw new InvalidArgumentError('expected a positive duration')
  return ms
}

/** `HOST:PORT` for commander (usage error when malformed). */
export function hostPort(value: string): { host: string; port: number } {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(value) ?? /^([A-Za-z0-9.-]{1,253}):(\d{1,5})$/.exec(value)
  const port = Number(m?.[2])
  if (m === null || !Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError('expected HOST:PORT, e.g. 0.0.0.0:7878')
  return { host: m[1]!, port }
}

/** An IPv4 address for `--interface`. */
export function ipv4(value: string): string {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(value)
  if (m === null || m.slice(1).some((o) => Number(o) > 255)) throw new InvalidArgumentError('expected an IPv4 address, e.g. 192.168.1.20')
  return value
}

/** "3 min ago" style age for people. */
export function ago(ms: number | null, now: number = Date.now()): string {
  if (ms === null) return '-'
  const s = Math.max(0, Math.round((now - ms) / 1000))
  if (s < 60) return `${s}s ago`
  if (s < 3600) return `${Math.round(s / 60)}m ago`
  return `${Math.round(s / 3600)}h ago`
}

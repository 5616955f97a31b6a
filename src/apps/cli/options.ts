/** Option value parsers for commander; a bad value is a usage error (exit 2). */
import { InvalidArgumentError, Option } from 'commander'

/** Collects a repeatable option into a list: `--email a --email b`. */
export const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value]

/** A whole number ≥ `min`. */
export function integer(min: number): (value: string) => number {
  return (value: string) => {
    if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError(`expected a whole number ≥ ${min}`)
    const n = Number(value)
    if (!Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`expected a whole number ≥ ${min}`)
    return n
  }
}

/** One of `choices`. */
export function oneOf<T extends string>(choices: readonly T[]): (value: string) => T {
  return (value: string) => {
    if (!(choices as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${choices.join(', ')}`)
    return value as T
  }
}

/**
 * Milliseconds as people write them in `--ttl 10m`: the largest of h, m, s that divides them
 * (900000 → `15m`, 90000 → `90s`, 250 → `250ms`).
 */
export function formatDuration(ms: number): string {
  if (ms > 0 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`
  if (ms > 0 && ms % 60_000 === 0) return `${ms / 60_000}m`
  if (ms > 0 && ms % 1000 === 0) return `${ms / 1000}s`
  return `${ms}ms`
}

/**
 * A `<duration>` option (parsed by `parse`, e.g. the daemon's `duration`) whose default is
 * `defaultMs` milliseconds and whose `--help` says it as a duration — "(default: 15m)", not
 * "(default: 900000)".
 */
export function durationOption(flags: string, description: string, parse: (value: string) => number, defaultMs: number): Option {
  return new Option(flags, description).argParser(parse).default(defaultMs, formatDuration(defaultMs))
}

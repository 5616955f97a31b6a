/** Option value parsers for commander; a bad value is a usage error (exit 2). */
import { InvalidArgumentError } from 'commander'

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

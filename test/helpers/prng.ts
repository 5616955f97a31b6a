/**
 * A small seeded PRNG (mulberry32) for reproducible randomized tests: the same seed gives the same
 * sequence on every machine, so a failing scenario is re-run from its printed seed.
 */
export class Prng {
  #state: number

  constructor(readonly seed: number) {
    this.#state = seed >>> 0
  }

  /** A float in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0)
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** An integer in [min, max] (inclusive). */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1))
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p
  }

  /** A uniformly chosen element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty array')
    return items[Math.floor(this.next() * items.length)] as T
  }

  /** A short random lowercase word (for field values that must be unique per write). */
  word(length = 6): string {
    let s = ''
    for (let i = 0; i < length; i++) s += String.fromCharCode(97 + Math.floor(this.next() * 26))
    return s
  }

  /** A function form, for APIs that take `random: () => number`. */
  get random(): () => number {
    return () => this.next()
  }
}

/** Derives the seed of scenario `index` of a run from the run's base seed (stable, well spread). */
export function scenarioSeed(base: number, index: number): number {
  let h = (base ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0
  return (h ^ (h >>> 16)) >>> 0
}

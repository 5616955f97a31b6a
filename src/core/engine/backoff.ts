/**
 * Capped exponential backoff with full jitter, for redialling a device that does not answer:
 * the n-th retry waits `random() * min(cap, base * 2^n)` — uniformly anywhere up to the capped
 * exponential. Full jitter (rather than a fixed ladder) keeps a crowd of devices that lost the
 * same network from redialling in lock-step when it comes back.
 *
 * Platform-free; `random` and `now` are injectable so tests choose the draw and the clock.
 */
import { ValidationError } from '../errors.js'

export interface BackoffOptions {
  /** The first ceiling, ms (attempt 0). Default 500. */
  baseMs?: number
  /** The largest ceiling, ms. Default 30 000 (Syncthing redials every 60 s; we stay under). */
  capMs?: number
  /** A number in [0, 1); default Math.random. */
  random?: () => number
  /** Default Date.now. */
  now?: () => number
}

export const DEFAULT_BACKOFF_BASE_MS = 500
export const DEFAULT_BACKOFF_CAP_MS = 30_000

/** The ceiling of attempt `attempt` (0-based): `min(cap, base * 2^attempt)`. */
export function backoffCeiling(attempt: number, baseMs = DEFAULT_BACKOFF_BASE_MS, capMs = DEFAULT_BACKOFF_CAP_MS): number {
  if (!Number.isFinite(attempt) || attempt < 0) attempt = 0
  // 2^attempt overflows to Infinity past ~1024; min() with the cap keeps it finite.
  return Math.min(capMs, baseMs * 2 ** Math.floor(attempt))
}

/**
 * One device's retry schedule: `fail()` after each failed attempt returns when to try next;
 * `succeed()` (or `reset()`, e.g. on a poke) starts over at attempt 0.
 */
export class Backoff {
  readonly baseMs: number
  readonly capMs: number
  readonly #random: () => number
  readonly #now: () => number
  #attempt = 0

  constructor(options: BackoffOptions = {}) {
    this.baseMs = options.baseMs ?? DEFAULT_BACKOFF_BASE_MS
    this.capMs = options.capMs ?? DEFAULT_BACKOFF_CAP_MS
    if (!(this.baseMs > 0) || !(this.capMs >= this.baseMs)) {
      throw new ValidationError(`backoff needs 0 < base (${this.baseMs}) <= cap (${this.capMs})`, { field: 'backoff' })
    }
    this.#random = options.random ?? Math.random
    this.#now = options.now ?? Date.now
  }

  /** Failed attempts since the last success or reset. */
  get attempt(): number {
    return this.#attempt
  }

  /** The delay before the next attempt, ms: full jitter over the current ceiling. Does not advance. */
  delay(): number {
    const r = Math.min(Math.max(this.#random(), 0), 1)
    return Math.floor(r * backoffCeiling(this.#attempt, this.baseMs, this.capMs))
  }

  /** Records a failed attempt; returns `{ delayMs, at }`: wait that long, i.e. try again at `at`. */
  fail(): { delayMs: number; at: number } {
    const delayMs = this.delay()
    this.#attempt++
    return { delayMs, at: this.#now() + delayMs }
  }

  succeed(): void {
    this.#attempt = 0
  }

  reset(): void {
    this.#attempt = 0
  }
}

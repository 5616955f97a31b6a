/**
 * Per-device cooldown after a link was closed for flooding (docs/protocol/link.md, "Limits"): a
 * closed flooder could otherwise reconnect at once with a fresh token bucket. For a while after
 * each strike, new links from that device are refused (told goodbye `cooldown` with
 * `retryAfterMs`); the while doubles with each strike, up to a maximum, and strikes are forgotten
 * after a quiet hour. The table is bounded: the device struck longest ago is forgotten first.
 */

/** First cooldown after a flood. */
export const DEFAULT_FLOOD_COOLDOWN_MS = 10_000
/** Longest cooldown, however often a device floods. */
export const MAX_FLOOD_COOLDOWN_MS = 10 * 60_000
/** Devices remembered at most. */
export const MAX_COOLDOWN_DEVICES = 1024
/** Strikes are forgotten this long after the last one. */
export const COOLDOWN_MEMORY_MS = 60 * 60_000

/** Options of a {@link LinkCooldown}. */
export interface LinkCooldownOptions {
  /** Default {@link DEFAULT_FLOOD_COOLDOWN_MS}. */
  baseMs?: number
  /** Default {@link MAX_FLOOD_COOLDOWN_MS}. */
  maxMs?: number
  /** Default {@link MAX_COOLDOWN_DEVICES}. */
  maxDevices?: number
  now?: () => number
}

interface Entry {
  strikes: number
  lastAt: number
  until: number
}

/**
 * @example
 * const cooldown = new LinkCooldown()
 * cooldown.strike(deviceId)          // { ms: 10000, strikes: 1 }
 * cooldown.remaining(deviceId) > 0   // refuse its new links for now
 */
export class LinkCooldown {
  readonly #baseMs: number
  readonly #maxMs: number
  readonly #maxDevices: number
  readonly #now: () => number
  /** In order of the last strike, oldest first. */
  readonly #entries = new Map<string, Entry>()

  constructor(options: LinkCooldownOptions = {}) {
    this.#baseMs = options.baseMs ?? DEFAULT_FLOOD_COOLDOWN_MS
    this.#maxMs = Math.max(this.#baseMs, options.maxMs ?? MAX_FLOOD_COOLDOWN_MS)
    this.#maxDevices = Math.max(1, options.maxDevices ?? MAX_COOLDOWN_DEVICES)
    this.#now = options.now ?? Date.now
  }

  /** Devices remembered now. */
  get size(): number {
    return this.#entries.size
  }

  /** Records a strike against `deviceId`: how long its links are refused now, and its strike count. */
  strike(deviceId: string): { ms: number; strikes: number } {
    const now = this.#now()
    this.#forgetStale(now)
    const previous = this.#entries.get(deviceId)
    const strikes = previous === undefined ? 1 : previous.strikes + 1
    const ms = Math.min(this.#maxMs, this.#baseMs * 2 ** Math.min(strikes - 1, 30))
    this.#entries.delete(deviceId)
    this.#entries.set(deviceId, { strikes, lastAt: now, until: now + ms })
    while (this.#entries.size > this.#maxDevices) this.#entries.delete(this.#entries.keys().next().value!)
    return { ms, strikes }
  }

  /** Milliseconds `deviceId`'s links are still refused (0: not cooling down). */
  remaining(deviceId: string): number {
    const entry = this.#entries.get(deviceId)
    if (entry === undefined) return 0
    return Math.max(0, entry.until - this.#now())
  }

  #forgetStale(now: number): void {
    for (const [id, entry] of this.#entries) {
      if (now - entry.lastAt < COOLDOWN_MEMORY_MS) break
      this.#entries.delete(id)
    }
  }
}

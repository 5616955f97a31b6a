/**
 * Retrying a device's failed saves until the store takes them again (docs/architecture.md,
 * "Disk full"; docs/protocol/storage.md §4). While a save fails, what the device holds in memory
 * (a peer's sync, a change the CLI was told is not saved) stays there; the retry flushes it all
 * with a backoff, so a daemon whose disk filled up saves everything by itself once space returns.
 */
import { silentLogger, type Logger } from '../../core/log.js'
import { isDiskFull } from './disk-full.js'

/** Whether the store takes writes: `ok`, or failing since `since` (`disk-full` when no space is the reason). */
export type StorageHealth =
  | { state: 'ok' }
  | {
      state: 'disk-full' | 'failing'
      /** When the first failed save of this episode happened (ms since the epoch). */
      since: number
      /** The error's code (`DISK_FULL`, ...) and message, for people. */
      code: string
      message: string
      /** Flushes tried since, and when the next one runs. */
      retries: number
      nextRetryAt: number | undefined
    }

/** Options of {@link SaveRetry}. */
export interface SaveRetryOptions {
  /** Saves everything held in memory; rejects while the store still refuses. */
  flush: () => Promise<void>
  /** Delays between attempts, ms; the last one repeats. Default 250, 500, 1000, 2000, 5000. */
  backoffMs?: readonly number[]
  now?: () => number
  logger?: Logger
}

const DEFAULT_BACKOFF_MS = [250, 500, 1000, 2000, 5000] as const

/**
 * The retry loop of one device. Report each failed save with {@link SaveRetry.failed}; it then
 * flushes after the backoff's delays until a flush succeeds, and {@link SaveRetry.health} is `ok`
 * again. Timers are unref'd (they never keep a process alive); `stop()` ends the loop.
 *
 * @example
 * const retry = new SaveRetry({ flush: () => device.flush() })
 * guardBackgroundSaves(repo, (error) => retry.failed(error))
 */
export class SaveRetry {
  readonly #flush: () => Promise<void>
  readonly #backoff: readonly number[]
  readonly #now: () => number
  readonly #log: Logger
  #health: StorageHealth = { state: 'ok' }
  #timer: ReturnType<typeof setTimeout> | undefined
  #running: Promise<boolean> | undefined
  #stopped = false
  /** Failed saves reported so far: a flush only clears the ones reported before it began. */
  #failures = 0

  constructor(options: SaveRetryOptions) {
    this.#flush = options.flush
    this.#backoff = options.backoffMs !== undefined && options.backoffMs.length > 0 ? options.backoffMs : DEFAULT_BACKOFF_MS
    this.#now = options.now ?? Date.now
    this.#log = (options.logger ?? silentLogger).forComponent('orbit:storage')
  }

  /** The store's state now. */
  get health(): StorageHealth {
    return this.#health
  }

  /**
   * True while the store is failing and no retry is running: work that would only fail again
   * (automerge-repo's background saves, the listing projection) waits for the retry instead.
   */
  get holding(): boolean {
    return this.#health.state !== 'ok' && this.#running === undefined
  }

  /** A save failed: enter (or stay in) the failing state and make sure a retry is scheduled. */
  failed(error: unknown): void {
    if (this.#stopped) return
    this.#failures++
    const code = isDiskFull(error) ? 'DISK_FULL' : (((error as { code?: unknown } | null)?.code as string | undefined) ?? 'INTERNAL')
    const message = error instanceof Error ? error.message : String(error)
    if (this.#health.state === 'ok') {
      this.#log.error('a save failed; what is not saved stays in memory and is retried', { code, error: message })
      this.#health = { state: code === 'DISK_FULL' ? 'disk-full' : 'failing', since: this.#now(), code, message, retries: 0, nextRetryAt: undefined }
    } else {
      this.#health = { ...this.#health, code, message }
    }
    if (this.#timer === undefined && this.#running === undefined) this.#schedule()
  }

  /**
   * Flushes now (unless one runs: then waits for it) and says whether the store is healthy after.
   * For a write that would otherwise be refused while the store is failing.
   */
  async tryNow(): Promise<boolean> {
    if (this.#health.state === 'ok') return true
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    return this.#attempt()
  }

  /** Ends the loop (idempotent); the health stays as it was. */
  stop(): void {
    this.#stopped = true
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
  }

  #schedule(): void {
    if (this.#stopped || this.#health.state === 'ok') return
    const retries = this.#health.retries
    const delay = this.#backoff[Math.min(retries, this.#backoff.length - 1)] ?? 1000
    this.#health = { ...this.#health, nextRetryAt: this.#now() + delay }
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      void this.#attempt()
    }, delay)
    this.#timer.unref?.()
  }

  #attempt(): Promise<boolean> {
    this.#running ??= (async () => {
      const failuresBefore = this.#failures
      try {
        await this.#flush()
        // A save that failed meanwhile may hold more than this flush wrote: go round again.
        if (this.#failures !== failuresBefore) return false
        if (this.#health.state !== 'ok') {
          this.#log.info('the store takes writes again; everything held in memory is saved', {
            downMs: this.#now() - this.#health.since,
            retries: this.#health.retries + 1,
          })
        }
        this.#health = { state: 'ok' }
        return true
      } catch (error) {
        if (this.#health.state === 'ok') this.failed(error)
        else this.#health = { ...this.#health, retries: this.#health.retries + 1, message: error instanceof Error ? error.message : String(error) }
        return false
      } finally {
        this.#running = undefined
        if (this.#health.state !== 'ok' && this.#timer === undefined) this.#schedule()
      }
    })()
    return this.#running
  }
}

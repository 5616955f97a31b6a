/**
 * One writer at a time per data dir: commands that open the device themselves (no daemon), and
 * the node (`orbit serve`, createOrbitNode) from before it opens the store until it has closed it.
 *
 * Two writers on one store each hold their own in-memory documents: the second one's projection
 * can mark a shard clean at a generation that includes a change it never loaded, and its listing
 * row then hides the first one's edit. Serialising them (each opens the device after the previous
 * one closed it) keeps "storage never holds more than memory", which the projection relies on
 * (src/apps/node/projection.ts).
 *
 * The lock is SQLite's own: an exclusive transaction on a small side file, `writer.lock`. The
 * operating system drops it when the process ends, however it ends, so a crashed writer never
 * leaves a stale lock. A waiting writer polls it without blocking the event loop, with a bound;
 * writers in one process (an app embedding Orbit) queue in memory first.
 */
import { join, resolve } from 'node:path'
import Database from 'better-sqlite3'
import { StoreError } from '../../core/errors.js'
import { diskFullError, isDiskFull } from '../../adapters/storage-sqlite/disk-full.js'

/** The side file whose exclusive lock serialises a data dir's writers. */
export const WRITER_LOCK_FILE = 'writer.lock'

/** How long a writer waits for the one before it (`ORBIT_WRITE_WAIT_MS` overrides, e.g. in tests). */
export const DEFAULT_WRITE_WAIT_MS = 60_000

/** Writers of this process, per data dir: they queue here, so only one at a time asks SQLite. */
const queues = new Map<string, Promise<void>>()

/** How a waiting writer may stop waiting. */
export interface WriterLockOptions {
  /** How long to wait for the writer before; default `ORBIT_WRITE_WAIT_MS`, else {@link DEFAULT_WRITE_WAIT_MS}. */
  waitMs?: number
  /**
   * Asked at every poll while another process holds the lock: true gives up the wait with
   * StoreError `DAEMON_STARTED` (the CLI's in-process path asks whether `orbit serve` started on
   * the data dir meanwhile: a daemon holds the lock for as long as it runs, and the command goes
   * through it instead).
   */
  yieldTo?: () => boolean
}

/**
 * Takes the writer lock of `dataDir`, waiting (asynchronously) up to `waitMs` for the writer that
 * holds it — in this process or another. Returns the function that releases it (idempotent).
 * @throws StoreError `WRITER_BUSY` when another writer kept it for all of `waitMs`;
 *   `DAEMON_STARTED` when `yieldTo` said so.
 */
export async function takeWriterLock(dataDir: string, options: WriterLockOptions = {}): Promise<() => void> {
  const waitMs = options.waitMs ?? writeWaitMs()
  const key = resolve(dataDir)
  const deadline = performance.now() + waitMs
  const before = queues.get(key) ?? Promise.resolve()
  let done = (): void => undefined
  const mine = new Promise<void>((resolveMine) => (done = resolveMine))
  const tail = before.then(() => mine)
  queues.set(key, tail)
  const leave = (): void => {
    done()
    if (queues.get(key) === tail) queues.delete(key)
  }
  try {
    let timer: NodeJS.Timeout | undefined
    const turn = await Promise.race([before.then(() => true), new Promise<false>((r) => (timer = setTimeout(() => r(false), waitMs)))])
    clearTimeout(timer)
    if (!turn) throw busy(dataDir, waitMs)
    const db = await lockFile(join(dataDir, WRITER_LOCK_FILE), dataDir, deadline, waitMs, options.yieldTo)
    let held = true
    return () => {
      if (!held) return
      held = false
      try {
        db.close() // closing ends the transaction and drops the lock
      } finally {
        leave()
      }
    }
  } catch (error) {
    leave()
    throw error
  }
}

/** An exclusive transaction on `file`, retried (without blocking the event loop) until `deadline`. */
async function lockFile(file: string, dataDir: string, deadline: number, waitMs: number, yieldTo: (() => boolean) | undefined): Promise<Database.Database> {
  let db: Database.Database
  try {
    db = new Database(file, { timeout: 0 })
  } catch (cause) {
    throw new StoreError(`cannot open the writer lock ${file}: ${(cause as Error).message}`, { code: 'OPEN_FAILED', cause })
  }
  for (;;) {
    try {
      // Rollback-journal mode (the default for this file): EXCLUSIVE keeps every other connection out.
      db.exec('BEGIN EXCLUSIVE')
      return db
    } catch (cause) {
      const left = deadline - performance.now()
      if ((cause as { code?: string }).code !== 'SQLITE_BUSY' || left <= 0) {
        db.close()
        if ((cause as { code?: string }).code === 'SQLITE_BUSY') throw busy(dataDir, waitMs, cause)
        // Taking the lock writes its journal: on a full disk the command could not write anyway.
        if (isDiskFull(cause)) throw diskFullError(dataDir, cause)
        throw new StoreError(`cannot lock ${file}: ${(cause as Error).message}`, { code: 'OPEN_FAILED', cause })
      }
      if (yieldTo?.() === true) {
        db.close()
        throw new StoreError(`orbit serve started on ${dataDir} while this command waited for its turn to write`, { code: 'DAEMON_STARTED' })
      }
      await new Promise((r) => setTimeout(r, Math.min(POLL_MS, left)))
    }
  }
}

/** How often a waiting writer asks again; a write takes far longer, so this costs nothing. */
const POLL_MS = 25

function busy(dataDir: string, waitMs: number, cause?: unknown): StoreError {
  return new StoreError(
    `another orbit command is writing to ${dataDir} and did not finish within ${Math.round(waitMs / 1000)} s. ` +
      'Wait for it to end (or stop it), then retry; to run many writes at once, start `orbit serve` on this data dir ' +
      'and the commands go through it.',
    { code: 'WRITER_BUSY', ...(cause === undefined ? {} : { cause }) },
  )
}

function writeWaitMs(): number {
  const raw = process.env.ORBIT_WRITE_WAIT_MS
  const ms = raw === undefined ? NaN : Number(raw)
  return Number.isFinite(ms) && ms >= 0 ? ms : DEFAULT_WRITE_WAIT_MS
}

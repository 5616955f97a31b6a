/**
 * Opening an Orbit store: refuse anything that is not ours before writing a single byte.
 */
import Database from 'better-sqlite3'
import { StoreError } from '../../core/errors.js'
import { mapDiskFull } from './disk-full.js'
import { MIGRATIONS, ORBIT_APPLICATION_ID, SCHEMA_VERSION } from './schema.js'
import { classifySqliteError, inspect, openFailed } from './store-inspection.js'

/**
 * How hard a commit is pushed to disk.
 *
 * - `full` (default): WAL + `synchronous=FULL` fsyncs the WAL at every commit, so a committed
 *   transaction survives a process kill *and* an OS crash or power cut.
 * - `normal`: WAL + `synchronous=NORMAL` survives a process kill (SIGKILL): a commit is in the
 *   WAL file, i.e. the OS page cache, before `COMMIT` returns. A power cut may lose the last
 *   commits, never corrupt the store. Faster for bulk imports.
 */
export type SyncMode = 'full' | 'normal'

export interface OpenOrbitDatabaseOptions {
  /** Create and initialise the store when the file is missing (or empty). */
  create: boolean
  /** Open read-only: no migrations, no writes (a missing or empty store is NOT_INITIALISED). */
  readonly?: boolean
  /** Default `full`; see {@link SyncMode}. */
  synchronous?: SyncMode
  /** How long a writer waits for another process's lock before failing, ms. Default 5000. */
  busyTimeoutMs?: number
}

/** An open Orbit store. Close it when done; `close()` is idempotent. */
export interface OrbitDatabase {
  /** The underlying better-sqlite3 handle, for the adapters in this folder. */
  readonly sqlite: Database.Database
  readonly file: string
  readonly readonly: boolean
  /**
   * Run `fn` in one IMMEDIATE transaction (nested calls become savepoints). A transaction that
   * finds no space is rolled back and throws StoreError `DISK_FULL` (src/adapters/storage-sqlite/disk-full.ts).
   */
  transaction<T>(fn: () => T): T
  close(): void
}

/**
 * Open (and, with `create`, initialise or migrate) the Orbit store at `file`.
 *
 * Refusals are {@link StoreError}s, told apart by `code`, and leave the file's bytes untouched:
 * - `NOT_INITIALISED`: the file is missing (or empty) and `create` is false, or `readonly` is set;
 * - `CORRUPT_STORE`: not an SQLite file, or a truncated/damaged one;
 * - `FOREIGN_STORE`: an SQLite database of another application (other `application_id`,
 *   or our id without our tables);
 * - `NEWER_STORE`: written by a newer Orbit (`user_version` above {@link SCHEMA_VERSION});
 * - `DISK_FULL`: the disk has no space for the WAL or the first migration (the file is unchanged);
 * - `OPEN_FAILED`: anything else the OS or SQLite refused (permissions, a directory, locks).
 *
 * @example
 * const db = openOrbitDatabase(join(dataDir, 'orbit.sqlite'), { create: true })
 * const repo = new Repo({ storage: new SqliteStorageAdapter(db), network: [] })
 */
export function openOrbitDatabase(file: string, options: OpenOrbitDatabaseOptions): OrbitDatabase {
  const readonly = options.readonly ?? false
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000
  const state = inspect(file, busyTimeoutMs)
  if (state.kind === 'missing' || state.kind === 'empty') {
    if (!options.create || readonly) {
      throw new StoreError(`no Orbit store at ${file}: run \`orbit init\` first`, { code: 'NOT_INITIALISED' })
    }
  } else if (readonly && state.version < SCHEMA_VERSION) {
    throw new StoreError(`the store at ${file} needs a migration; open it read-write once`, { code: 'NEEDS_MIGRATION' })
  }

  let sqlite: Database.Database
  try {
    sqlite = new Database(file, { readonly, fileMustExist: readonly || state.kind !== 'missing', timeout: busyTimeoutMs })
  } catch (cause) {
    throw openFailed(file, cause)
  }
  try {
    if (!readonly) {
      // WAL: readers never block the writer (daemon + CLI), and a commit is one append.
      sqlite.pragma('journal_mode = WAL')
      sqlite.pragma(`synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`)
      // Keep the WAL from staying at its high-water mark after a big initial sync.
      sqlite.pragma('journal_size_limit = 67108864')
    }
    sqlite.pragma('foreign_keys = ON')
    if (!readonly) migrate(sqlite, file)
  } catch (cause) {
    sqlite.close()
    if (cause instanceof StoreError) throw cause
    throw classifySqliteError(file, cause)
  }
  return new OpenDatabase(sqlite, file, readonly)
}

class OpenDatabase implements OrbitDatabase {
  #closed = false
  constructor(
    readonly sqlite: Database.Database,
    readonly file: string,
    readonly readonly: boolean,
  ) {}

  transaction<T>(fn: () => T): T {
    try {
      return this.sqlite.transaction(fn).immediate()
    } catch (error) {
      throw mapDiskFull(this.file, error)
    }
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.sqlite.close()
  }
}

/** Bring a store to {@link SCHEMA_VERSION} in one transaction, re-checking under the write lock. */
function migrate(sqlite: Database.Database, file: string): void {
  // The common case, an up-to-date store, must not wait for the write lock (the daemon may hold it).
  const current = sqlite.pragma('user_version', { simple: true }) === SCHEMA_VERSION
  if (current && sqlite.pragma('application_id', { simple: true }) === ORBIT_APPLICATION_ID) return
  sqlite
    .transaction(() => {
      const appId = sqlite.pragma('application_id', { simple: true }) as number
      const version = sqlite.pragma('user_version', { simple: true }) as number
      if (version > SCHEMA_VERSION) {
        throw new StoreError(`${file} was written by a newer Orbit (schema ${version})`, { code: 'NEWER_STORE' })
      }
      if (version === SCHEMA_VERSION) return
      if (appId !== ORBIT_APPLICATION_ID) {
        const objects = sqlite.prepare(`SELECT count(*) AS n FROM sqlite_schema`).get() as { n: number }
        // Another process may have made it foreign between inspection and this lock.
        if (appId !== 0 || objects.n !== 0) {
          throw new StoreError(`${file} is an SQLite database of another application`, { code: 'FOREIGN_STORE' })
        }
        sqlite.pragma(`application_id = ${ORBIT_APPLICATION_ID}`)
      }
      for (let v = version; v < SCHEMA_VERSION; v++) sqlite.exec(MIGRATIONS[v] ?? '')
      sqlite.pragma(`user_version = ${SCHEMA_VERSION}`)
    })
    .immediate()
}

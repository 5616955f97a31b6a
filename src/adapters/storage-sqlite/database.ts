/**
 * Opening an Orbit store: refuse anything that is not ours before writing a single byte.
 */
import { closeSync, existsSync, openSync, readSync, rmSync, statSync } from 'node:fs'
import Database from 'better-sqlite3'
import { StoreError } from '../../core/errors.js'
import { MIGRATIONS, ORBIT_APPLICATION_ID, REQUIRED_TABLES, SCHEMA_VERSION } from './schema.js'

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
  /** Run `fn` in one IMMEDIATE transaction (nested calls become savepoints). */
  transaction<T>(fn: () => T): T
  close(): void
}

const SQLITE_MAGIC = 'SQLite format 3\u0000'

/**
 * Open (and, with `create`, initialise or migrate) the Orbit store at `file`.
 *
 * Refusals are {@link StoreError}s, told apart by `code`, and leave the file's bytes untouched:
 * - `NOT_INITIALISED`: the file is missing (or empty) and `create` is false, or `readonly` is set;
 * - `CORRUPT_STORE`: not an SQLite file, or a truncated/damaged one;
 * - `FOREIGN_STORE`: an SQLite database of another application (other `application_id`,
 *   or our id without our tables);
 * - `NEWER_STORE`: written by a newer Orbit (`user_version` above {@link SCHEMA_VERSION});
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
    return this.sqlite.transaction(fn).immediate()
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.sqlite.close()
  }
}

type Inspection = { kind: 'missing' } | { kind: 'empty' } | { kind: 'orbit'; version: number }

/**
 * Classify the file without writing: the header by hand, then a read-only SQLite connection.
 * A read-only connection never rolls back a hot journal nor checkpoints a WAL, so a foreign
 * database keeps its bytes.
 */
function inspect(file: string, busyTimeoutMs: number): Inspection {
  let size: number
  try {
    const st = statSync(file)
    if (!st.isFile()) throw new StoreError(`${file} is not a regular file`, { code: 'OPEN_FAILED' })
    size = st.size
  } catch (cause) {
    if (cause instanceof StoreError) throw cause
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' }
    throw openFailed(file, cause)
  }
  const wal = walSize(file)
  // A 0-byte file is what a crash between creating the file and the first commit leaves
  // (unless that commit sits in the WAL, not yet checkpointed: then SQLite must judge).
  if (size === 0 && wal === 0) return { kind: 'empty' }
  const hadSiblings = siblingFiles(file)
  try {
    if (size > 0) {
      const header = checkHeader(file, size)
      // With no WAL to replay, the main file's header is authoritative: refuse without SQLite.
      if (wal === 0) classify(file, header.applicationId, header.userVersion, undefined)
    }
    return inspectWithSqlite(file, busyTimeoutMs)
  } catch (cause) {
    // A read-only connection to a WAL-mode file creates empty -wal/-shm files; take back the
    // ones we made so that a refused file is left exactly as we found it.
    removeNewEmptySiblings(file, hadSiblings)
    throw cause
  }
}

function inspectWithSqlite(file: string, busyTimeoutMs: number): Inspection {
  let ro: Database.Database
  try {
    ro = new Database(file, { readonly: true, fileMustExist: true, timeout: busyTimeoutMs })
  } catch (cause) {
    throw classifySqliteError(file, cause)
  }
  try {
    const appId = ro.pragma('application_id', { simple: true }) as number
    const version = ro.pragma('user_version', { simple: true }) as number
    const names = new Set(
      (ro.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table'`).all() as { name: string }[]).map((r) => r.name),
    )
    const objects = ro.prepare(`SELECT count(*) AS n FROM sqlite_schema`).get() as { n: number }
    // Our own creation crashed before its first migration committed: adopt it.
    if (appId === 0 && version === 0 && objects.n === 0) return { kind: 'empty' }
    classify(file, appId, version, names)
    return { kind: 'orbit', version }
  } catch (cause) {
    if (cause instanceof StoreError) throw cause
    throw classifySqliteError(file, cause)
  } finally {
    ro.close()
  }
}

/**
 * Throw unless (application_id, user_version, tables) describe an Orbit store we can open.
 * `tables` undefined: only judge what the header alone can tell (id 0 may still be an empty,
 * adoptable database).
 */
function classify(file: string, appId: number, version: number, tables: Set<string> | undefined): void {
  if (appId !== ORBIT_APPLICATION_ID && (tables !== undefined || appId !== 0)) {
    throw new StoreError(`${file} is an SQLite database of another application (application_id ${appId})`, { code: 'FOREIGN_STORE' })
  }
  if (appId === ORBIT_APPLICATION_ID && version > SCHEMA_VERSION) {
    throw new StoreError(`${file} was written by a newer Orbit (schema ${version}, this one knows ${SCHEMA_VERSION}): upgrade Orbit`, {
      code: 'NEWER_STORE',
    })
  }
  if (tables === undefined) return
  const missing = REQUIRED_TABLES.filter((t) => !tables.has(t))
  if (version === SCHEMA_VERSION && missing.length > 0) {
    throw new StoreError(`${file} has Orbit's application id but lacks tables ${missing.join(', ')}`, { code: 'FOREIGN_STORE' })
  }
}

const SIBLINGS = ['-wal', '-shm'] as const

function siblingFiles(file: string): Set<string> {
  return new Set(SIBLINGS.filter((s) => existsSync(file + s)))
}

function removeNewEmptySiblings(file: string, before: Set<string>): void {
  if (before.has('-wal') || walSize(file) !== 0) return
  for (const s of SIBLINGS) if (!before.has(s)) rmSync(file + s, { force: true })
}

/** The 100-byte SQLite header: magic, and (with no WAL to replay) a file as long as it claims. */
function checkHeader(file: string, size: number): { applicationId: number; userVersion: number } {
  const header = readPrefix(file, 100)
  if (header.length < 100 || new TextDecoder('latin1').decode(header.subarray(0, 16)) !== SQLITE_MAGIC) {
    throw new StoreError(`${file} is not an SQLite database`, { code: 'CORRUPT_STORE' })
  }
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength)
  const rawPageSize = view.getUint16(16)
  const pageSize = rawPageSize === 1 ? 65536 : rawPageSize
  if (pageSize < 512 || (pageSize & (pageSize - 1)) !== 0) {
    throw new StoreError(`${file} has a damaged SQLite header`, { code: 'CORRUPT_STORE' })
  }
  const changeCounter = view.getUint32(24)
  const pages = view.getUint32(28)
  const validFor = view.getUint32(92)
  // With frames in a WAL, the main file may legitimately lag; only judge a self-contained file.
  if (changeCounter === validFor && pages > 0 && walSize(file) === 0 && size < pages * pageSize) {
    throw new StoreError(`${file} is truncated (${size} bytes, header says ${pages * pageSize})`, { code: 'CORRUPT_STORE' })
  }
  return { applicationId: view.getInt32(68), userVersion: view.getUint32(60) }
}

function walSize(file: string): number {
  try {
    return statSync(`${file}-wal`).size
  } catch {
    return 0
  }
}

function readPrefix(file: string, n: number): Uint8Array {
  const fd = openSync(file, 'r')
  try {
    const buf = new Uint8Array(n)
    let got = 0
    while (got < n) {
      const r = readSync(fd, buf, got, n - got, got)
      if (r === 0) break
      got += r
    }
    return buf.subarray(0, got)
  } finally {
    closeSync(fd)
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

function classifySqliteError(file: string, cause: unknown): StoreError {
  const code = (cause as { code?: unknown }).code
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
    return new StoreError(`${file} is not a readable SQLite database`, { code: 'CORRUPT_STORE', cause })
  }
  return openFailed(file, cause)
}

function openFailed(file: string, cause: unknown): StoreError {
  return new StoreError(`cannot open the store at ${file}: ${(cause as Error).message}`, { code: 'OPEN_FAILED', cause })
}

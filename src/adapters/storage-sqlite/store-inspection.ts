/**
 * Classifying a would-be store file without writing to it (see docs/protocol/storage.md §1).
 */
import { closeSync, existsSync, openSync, readSync, rmSync, statSync } from 'node:fs'
import Database from 'better-sqlite3'
import { StoreError } from '../../core/errors.js'
import { diskFullError, isDiskFull } from './disk-full.js'
import { ORBIT_APPLICATION_ID, REQUIRED_TABLES, SCHEMA_VERSION } from './schema.js'

const SQLITE_MAGIC = 'SQLite format 3\u0000'

/** What the file at a store path is, when it is something we may open. */
export type Inspection = { kind: 'missing' } | { kind: 'empty' } | { kind: 'orbit'; version: number }

/**
 * Classify the file without writing: the header by hand, then a read-only SQLite connection.
 * A read-only connection never rolls back a hot journal nor checkpoints a WAL, so a foreign
 * database keeps its bytes.
 */
export function inspect(file: string, busyTimeoutMs: number): Inspection {
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

export function classifySqliteError(file: string, cause: unknown): StoreError {
  const code = (cause as { code?: unknown }).code
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
    return new StoreError(`${file} is not a readable SQLite database`, { code: 'CORRUPT_STORE', cause })
  }
  if (isDiskFull(cause)) return diskFullError(file, cause)
  return openFailed(file, cause)
}

export function openFailed(file: string, cause: unknown): StoreError {
  return new StoreError(`cannot open the store at ${file}: ${(cause as Error).message}`, { code: 'OPEN_FAILED', cause })
}

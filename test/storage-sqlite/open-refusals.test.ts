import { createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openOrbitDatabase } from '../../src/adapters/storage-sqlite/database.js'
import { ORBIT_APPLICATION_ID, SCHEMA_VERSION } from '../../src/adapters/storage-sqlite/schema.js'
import { SqliteStorageAdapter } from '../../src/adapters/storage-sqlite/storage-adapter.js'

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'orbit-sqlite-open-'))
})
afterEach(() => {
  rmSync(dir, { recursive: true, force: true })
})

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex')
const siblings = (file: string) => ['-wal', '-shm', '-journal'].filter((s) => existsSync(file + s))

/** Opening must throw StoreError(code) for every option combination, leaving the bytes alone. */
function expectRefused(file: string, code: string): void {
  const before = sha(file)
  for (const options of [{ create: true }, { create: false }, { create: false, readonly: true }]) {
    expect(() => openOrbitDatabase(file, options)).toThrow(expect.objectContaining({ name: 'StoreError', code }))
    expect(sha(file)).toBe(before)
    expect(siblings(file)).toEqual([])
  }
}

/** A real Orbit store with one chunk in it, cleanly closed (checkpointed, no WAL left). */
async function makeStore(file: string): Promise<void> {
  const db = openOrbitDatabase(file, { create: true })
  await new SqliteStorageAdapter(db).save(['doc', 'snapshot', 'h'], randomBytes(50_000))
  db.close()
}

describe('openOrbitDatabase', () => {
  it('refuses a missing file without create, and creates nothing', () => {
    const file = join(dir, 'missing.sqlite')
    expect(() => openOrbitDatabase(file, { create: false })).toThrow(expect.objectContaining({ name: 'StoreError', code: 'NOT_INITIALISED' }))
    expect(() => openOrbitDatabase(file, { create: true, readonly: true })).toThrow(expect.objectContaining({ code: 'NOT_INITIALISED' }))
    expect(existsSync(file)).toBe(false)
  })

  it('creates a store with its application id, schema version and WAL, and reopens it', async () => {
    const file = join(dir, 'store.sqlite')
    await makeStore(file)
    const raw = new Database(file, { readonly: true })
    expect(raw.pragma('application_id', { simple: true })).toBe(ORBIT_APPLICATION_ID)
    expect(raw.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION)
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal')
    raw.close()
    const again = openOrbitDatabase(file, { create: false })
    expect(await new SqliteStorageAdapter(again).loadRange(['doc'])).toHaveLength(1)
    again.close()
    const ro = openOrbitDatabase(file, { create: false, readonly: true })
    expect(await new SqliteStorageAdapter(ro).load(['doc', 'snapshot', 'h'])).toHaveLength(50_000)
    await expect(new SqliteStorageAdapter(ro).save(['x'], new Uint8Array(1))).rejects.toThrow()
    ro.close()
  })

  it('initialises an empty (0-byte) file only when asked to create', () => {
    const file = join(dir, 'empty.sqlite')
    writeFileSync(file, '')
    expect(() => openOrbitDatabase(file, { create: false })).toThrow(expect.objectContaining({ code: 'NOT_INITIALISED' }))
    expect(statSync(file).size).toBe(0)
    openOrbitDatabase(file, { create: true }).close()
    openOrbitDatabase(file, { create: false }).close()
  })

  it('refuses a text file as CORRUPT_STORE', () => {
    const file = join(dir, 'notes.txt')
    writeFileSync(file, 'Dear diary,\nthis is not a database.\n'.repeat(20))
    expectRefused(file, 'CORRUPT_STORE')
  })

  it('refuses random garbage as CORRUPT_STORE', () => {
    const file = join(dir, 'garbage.sqlite')
    writeFileSync(file, randomBytes(8192))
    expectRefused(file, 'CORRUPT_STORE')
  })

  it('refuses a truncated store as CORRUPT_STORE', async () => {
    const file = join(dir, 'store.sqlite')
    await makeStore(file)
    truncateSync(file, Math.floor(statSync(file).size / 2))
    expectRefused(file, 'CORRUPT_STORE')
  })

  it('refuses a store whose header is garbage after the magic as CORRUPT_STORE', async () => {
    const file = join(dir, 'store.sqlite')
    await makeStore(file)
    const bytes = readFileSync(file)
    randomBytes(4000).copy(bytes, 16)
    writeFileSync(file, bytes)
    expectRefused(file, 'CORRUPT_STORE')
  })

  it("refuses another application's SQLite database as FOREIGN_STORE", () => {
    const file = join(dir, 'other.sqlite')
    const other = new Database(file)
    other.exec(`CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices (total) VALUES (9.5);`)
    other.pragma('user_version = 1')
    other.close()
    expectRefused(file, 'FOREIGN_STORE')
  })

  it("refuses another application's WAL-mode database as FOREIGN_STORE, leaving no -wal/-shm behind", () => {
    const file = join(dir, 'other-wal.sqlite')
    const other = new Database(file)
    other.pragma('journal_mode = WAL')
    other.exec(`CREATE TABLE songs (id INTEGER PRIMARY KEY, title TEXT); INSERT INTO songs (title) VALUES ('x');`)
    other.close()
    expect(siblings(file)).toEqual([])
    expectRefused(file, 'FOREIGN_STORE')
  })

  it('refuses a database with our application id but without our tables as FOREIGN_STORE', () => {
    const file = join(dir, 'impostor.sqlite')
    const other = new Database(file)
    other.pragma(`application_id = ${ORBIT_APPLICATION_ID}`)
    other.pragma(`user_version = ${SCHEMA_VERSION}`)
    other.exec(`CREATE TABLE chunks (key TEXT)`)
    other.close()
    expectRefused(file, 'FOREIGN_STORE')
  })

  it('refuses a store from a newer schema as NEWER_STORE', async () => {
    const file = join(dir, 'store.sqlite')
    await makeStore(file)
    const raw = new Database(file)
    raw.pragma('journal_mode = DELETE')
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`)
    raw.close()
    expectRefused(file, 'NEWER_STORE')
  })

  it('refuses a WAL-mode store from a newer schema as NEWER_STORE', async () => {
    const file = join(dir, 'store.sqlite')
    await makeStore(file)
    const raw = new Database(file)
    raw.pragma(`user_version = ${SCHEMA_VERSION + 7}`)
    raw.close()
    // File format version 2 in the header = WAL mode (a read-only probe would create -wal/-shm).
    expect(readFileSync(file)[18]).toBe(2)
    expectRefused(file, 'NEWER_STORE')
  })

  it('refuses a directory as OPEN_FAILED', () => {
    expect(() => openOrbitDatabase(dir, { create: true })).toThrow(expect.objectContaining({ name: 'StoreError', code: 'OPEN_FAILED' }))
  })
})

describe('openOrbitDatabase after a crash', () => {
  // Copying the files of a store whose connection is still open is what a SIGKILL leaves behind:
  // the migration committed in the WAL, not yet checkpointed into the main file.
  for (const withShm of [true, false]) {
    it(`opens a store whose creation is only in the WAL${withShm ? '' : ' (no -shm)'}, read-only and read-write`, async () => {
      const live = join(dir, 'live.sqlite')
      const crashed = join(dir, 'crashed.sqlite')
      const db = openOrbitDatabase(live, { create: true })
      await new SqliteStorageAdapter(db).save(['doc', 'snapshot', 'h'], new Uint8Array([7]))
      writeFileSync(crashed, readFileSync(live))
      writeFileSync(`${crashed}-wal`, readFileSync(`${live}-wal`))
      if (withShm) writeFileSync(`${crashed}-shm`, readFileSync(`${live}-shm`))
      db.close()
      const ro = openOrbitDatabase(crashed, { create: false, readonly: true })
      expect(await new SqliteStorageAdapter(ro).load(['doc', 'snapshot', 'h'])).toStrictEqual(new Uint8Array([7]))
      ro.close()
      const rw = openOrbitDatabase(crashed, { create: false })
      expect(await new SqliteStorageAdapter(rw).load(['doc', 'snapshot', 'h'])).toStrictEqual(new Uint8Array([7]))
      rw.close()
    })
  }
})

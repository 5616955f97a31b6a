import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as A from '@automerge/automerge'
import { Repo, type DocHandle } from '@automerge/automerge-repo'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { DocHeadsStore, openOrbitDatabase, SqliteStorageAdapter, type OrbitDatabase } from '../../src/adapters/storage-sqlite/index.js'
import { flushAndRecordHeads } from '../../src/adapters/storage-sqlite/record-heads.js'
import { MIGRATIONS, ORBIT_APPLICATION_ID, SCHEMA_VERSION } from '../../src/adapters/storage-sqlite/schema.js'

interface Doc {
  n: number
}

const headsOf = (h: DocHandle<Doc>): string[] => [...A.getHeads(h.doc())].sort()

describe('doc_heads: heads of stored documents, valid while the stored generation is unchanged', () => {
  let dir: string
  let file: string
  let db: OrbitDatabase
  let repo: Repo

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'orbit-doc-heads-'))
    file = join(dir, 'store.sqlite')
    db = openOrbitDatabase(file, { create: true })
    repo = new Repo({ storage: new SqliteStorageAdapter(db), network: [] })
  })

  afterEach(async () => {
    await repo.shutdown()
    db.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('records the heads of a flushed document and reads them back without Automerge', async () => {
    const handle = repo.create<Doc>({ n: 1 })
    handle.change((d) => (d.n = 2))
    expect(await flushAndRecordHeads(repo, db, [handle.documentId])).toBe(1)
    expect(new DocHeadsStore(db).heads(handle.documentId)).toEqual(headsOf(handle))
    // A second flush with nothing new writes nothing.
    expect(await flushAndRecordHeads(repo, db, [handle.documentId])).toBe(0)
  })

  it('reads as unknown once the document is stored again without recording (its generation moved on)', async () => {
    const handle = repo.create<Doc>({ n: 1 })
    await flushAndRecordHeads(repo, db, [handle.documentId])
    handle.change((d) => (d.n = 3))
    await repo.flush()
    expect(new DocHeadsStore(db).heads(handle.documentId)).toBeUndefined()
    await flushAndRecordHeads(repo, db, [handle.documentId])
    expect(new DocHeadsStore(db).heads(handle.documentId)).toEqual(headsOf(handle))
  })

  it('skips a document that changed while the flush ran (what is stored may not be what is in memory)', async () => {
    const handle = repo.create<Doc>({ n: 1 })
    await repo.flush()
    const recording = flushAndRecordHeads(repo, db, [handle.documentId])
    handle.change((d) => (d.n = 4))
    expect(await recording).toBe(0)
    expect(new DocHeadsStore(db).heads(handle.documentId)).toBeUndefined()
  })

  it('records nothing for documents that are not loaded', async () => {
    expect(await flushAndRecordHeads(repo, db, ['2ZpbFh5NG4oYmjwdcmqzH3M8sQSR'])).toBe(0)
    expect(db.sqlite.prepare('SELECT count(*) AS n FROM doc_heads').get()).toEqual({ n: 0 })
  })

  it('treats a damaged row as unknown, not as an error', async () => {
    const handle = repo.create<Doc>({ n: 1 })
    await flushAndRecordHeads(repo, db, [handle.documentId])
    db.sqlite.prepare(`UPDATE doc_heads SET heads = '["not-hex"]'`).run()
    expect(new DocHeadsStore(db).heads(handle.documentId)).toBeUndefined()
    db.sqlite.prepare(`UPDATE doc_heads SET heads = '{'`).run()
    expect(new DocHeadsStore(db).heads(handle.documentId)).toBeUndefined()
  })
})

describe('doc_heads in a store written by schema version 1', () => {
  it('is created by the migration, empty: every document is unknown until the next flush records it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'orbit-doc-heads-v1-'))
    try {
      const file = join(dir, 'old.sqlite')
      const raw = new Database(file)
      raw.pragma(`application_id = ${ORBIT_APPLICATION_ID}`)
      raw.exec(MIGRATIONS[0]!)
      raw.pragma('user_version = 1')
      raw.prepare(`INSERT INTO doc_gen (doc_id, gen) VALUES ('someDoc', 5)`).run()
      raw.close()
      expect(SCHEMA_VERSION).toBeGreaterThanOrEqual(2)
      const db = openOrbitDatabase(file, { create: false })
      try {
        expect(db.sqlite.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION)
        expect(new DocHeadsStore(db).heads('someDoc')).toBeUndefined()
      } finally {
        db.close()
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { BlobStateStore, ContactIndex, OrgIndex, SCHEMA_VERSION, isBlobReferenced, openOrbitDatabase, referencedBlobs, type OrbitDatabase } from '../../src/adapters/storage-sqlite/index.js'
import { MIGRATIONS, ORBIT_APPLICATION_ID } from '../../src/adapters/storage-sqlite/schema.js'
import type { BlobHash } from '../../src/core/ids.js'

const h = (n: number): BlobHash => n.toString(16).padStart(64, '0') as BlobHash

describe('schema 4: referenced blobs and blob_state', () => {
  let dir: string
  let db: OrbitDatabase
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'orbit-blob-state-'))
    db = openOrbitDatabase(join(dir, 'orbit.sqlite'), { create: true })
  })
  afterEach(() => {
    db.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const insert = (kind: string, id: string, json: unknown, deleted = 0): void => {
    db.sqlite
      .prepare(`INSERT INTO entity_index (kind, id, shard, sort_name, deleted, updated_at, search, json) VALUES (?, ?, 0, ?, ?, 0, '', ?)`)
      .run(kind, id, id, deleted, JSON.stringify(json))
  }

  it('lists every logo of contacts and orgs, deleted ones included, through the logo index', () => {
    insert('contact', 'c1', { id: 'c1', name: 'a', logo: h(1) })
    insert('contact', 'c2', { id: 'c2', name: 'b', logo: h(2), deletedAt: 5 }, 1)
    insert('contact', 'c3', { id: 'c3', name: 'c' })
    insert('contact', 'c4', { id: 'c4', name: 'd', logo: h(1) })
    insert('org', 'o1', { id: 'o1', name: 'o', logo: h(3) })
    insert('contact', 'c5', { id: 'c5', name: 'e', logo: 'not-a-hash' })
    insert('contact', 'c6', { id: 'c6', name: 'f', logo: 42 })
    expect([...referencedBlobs(db)].sort()).toEqual([h(1), h(2), h(3)])
    expect(isBlobReferenced(db, h(2))).toBe(true)
    expect(isBlobReferenced(db, h(4))).toBe(false)
    const plan = db.sqlite.prepare(`EXPLAIN QUERY PLAN SELECT DISTINCT logo FROM entity_index WHERE logo IS NOT NULL`).all() as Array<{ detail: string }>
    expect(plan.map((r) => r.detail).join(' ')).toMatch(/USING (COVERING )?INDEX entity_index_logo/)
    // Edits through the projection's own writers are seen at once (the column is computed from json).
    db.sqlite.prepare(`UPDATE entity_index SET json = ? WHERE id = 'c1'`).run(JSON.stringify({ id: 'c1', name: 'a' }))
    db.sqlite.prepare(`DELETE FROM entity_index WHERE id = 'c4'`).run()
    expect([...referencedBlobs(db)].sort()).toEqual([h(2), h(3)])
    expect(ContactIndex).toBeDefined()
    expect(OrgIndex).toBeDefined()
  })

  it('marks, keeps the first time, unmarks, in one transaction per apply', () => {
    const state = new BlobStateStore(db)
    state.mark([h(1), h(2)], 100)
    state.mark([h(1)], 200)
    expect(state.unreferencedSince()).toEqual(new Map([[h(1), 100], [h(2), 100]]))
    expect(state.get(h(1))).toBe(100)
    state.apply({ mark: [h(3)], unmark: [h(1)] }, 300)
    expect(state.unreferencedSince()).toEqual(new Map([[h(2), 100], [h(3), 300]]))
    state.unmark([h(2), h(3)])
    expect(state.get(h(2))).toBeUndefined()
    expect(state.unreferencedSince().size).toBe(0)
  })

  it('refuses writes on a read-only store with StoreError READ_ONLY', () => {
    const file = db.file
    db.close()
    const ro = openOrbitDatabase(file, { create: false, readonly: true })
    try {
      expect(() => new BlobStateStore(ro).mark([h(1)], 1)).toThrow(expect.objectContaining({ name: 'StoreError', code: 'READ_ONLY' }))
      expect(referencedBlobs(ro).size).toBe(0)
    } finally {
      ro.close()
      db = openOrbitDatabase(file, { create: false })
    }
  })
})

describe('schema 3 → 4 migration', () => {
  it('adds the logo column over existing rows (deleted ones too) and an empty blob_state', () => {
    const dir = mkdtempSync(join(tmpdir(), 'orbit-schema3-'))
    try {
      const file = join(dir, 'v3.sqlite')
      const raw = new Database(file)
      raw.pragma(`application_id = ${ORBIT_APPLICATION_ID}`)
      for (const m of MIGRATIONS.slice(0, 3)) raw.exec(m)
      raw.pragma('user_version = 3')
      const ins = raw.prepare(`INSERT INTO entity_index (kind, id, shard, sort_name, deleted, updated_at, search, json) VALUES ('contact', ?, 0, ?, ?, 0, '', ?)`)
      ins.run('c1', 'a', 0, JSON.stringify({ id: 'c1', logo: h(7) }))
      ins.run('c2', 'b', 1, JSON.stringify({ id: 'c2', logo: h(8), deletedAt: 1 }))
      expect(() => raw.prepare(`SELECT logo FROM entity_index`).all()).toThrow(/no such column/)
      raw.close()
      expect(SCHEMA_VERSION).toBe(4)

      const db = openOrbitDatabase(file, { create: false })
      try {
        expect(db.sqlite.pragma('user_version', { simple: true })).toBe(4)
        expect([...referencedBlobs(db)].sort()).toEqual([h(7), h(8)])
        expect(new BlobStateStore(db).unreferencedSince().size).toBe(0)
      } finally {
        db.close()
      }
      // Opening again runs no migration and keeps the data.
      const again = openOrbitDatabase(file, { create: false })
      try {
        expect([...referencedBlobs(again)].sort()).toEqual([h(7), h(8)])
      } finally {
        again.close()
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

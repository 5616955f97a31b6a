import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ConfigStore } from '../../src/adapters/storage-sqlite/config-store.js'
import { ContactIndex, OrgIndex, ORG_SHARD } from '../../src/adapters/storage-sqlite/contact-index.js'
import { openOrbitDatabase, type OrbitDatabase } from '../../src/adapters/storage-sqlite/database.js'
import { readDocGen } from '../../src/adapters/storage-sqlite/doc-gen.js'
import { SqliteStorageAdapter } from '../../src/adapters/storage-sqlite/storage-adapter.js'
import type { ContactId, OrgId } from '../../src/core/ids.js'
import type { Contact, Organization } from '../../src/core/model/types.js'

let dir: string
let file: string
let db: OrbitDatabase
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'orbit-sqlite-index-'))
  file = join(dir, 'store.sqlite')
  db = openOrbitDatabase(file, { create: true })
})
afterEach(() => {
  db.close()
  rmSync(dir, { recursive: true, force: true })
})

function contact(id: string, name: string, extra: Partial<Contact> = {}): Contact {
  return { id: id as ContactId, name, emails: [], phones: [], tags: {}, notes: {}, createdAt: 1, updatedAt: 2, ...extra }
}

describe('ContactIndex', () => {
  it('pages by lower-cased name then id, skipping tombstones unless asked', () => {
    const idx = new ContactIndex(db)
    idx.upsertMany(0, [contact('ct_c', 'bob'), contact('ct_a', 'Alice'), contact('ct_b', 'Bob'), contact('ct_d', 'Aaron', { deletedAt: 5 })])
    idx.upsertMany(1, [contact('ct_e', 'zed', { emails: ['Boss@Example.com'] })])
    expect(idx.page({ limit: 10 }).map((c) => c.id)).toEqual(['ct_a', 'ct_b', 'ct_c', 'ct_e'])
    expect(idx.page({ limit: 2, offset: 1 }).map((c) => c.id)).toEqual(['ct_b', 'ct_c'])
    expect(idx.page({ includeDeleted: true, limit: 10 }).map((c) => c.id)).toEqual(['ct_d', 'ct_a', 'ct_b', 'ct_c', 'ct_e'])
    expect(idx.count()).toBe(4)
    expect(idx.count({ includeDeleted: true })).toBe(5)
    expect(idx.page({ query: 'BO' }).map((c) => c.id)).toEqual(['ct_b', 'ct_c', 'ct_e'])
    expect(idx.count({ query: 'example.COM' })).toBe(1)
    expect(idx.page({ query: 'aar' })).toEqual([])
    expect(idx.page({ query: 'aar', includeDeleted: true }).map((c) => c.id)).toEqual(['ct_d'])
  })

  it('keeps the whole contact, replaces on upsert, and answers undefined for unknown ids', () => {
    const idx = new ContactIndex(db)
    const full = contact('ct_x', 'Xavier', { emails: ['x@y.z'], phones: ['+1'], title: 'CTO', orgId: 'org_1' as OrgId, tags: { vip: true } })
    idx.upsertMany(3, [full])
    expect(idx.get('ct_x')).toEqual(full)
    idx.upsertMany(3, [{ ...full, name: 'Xena', updatedAt: 9 }])
    expect(idx.get('ct_x')?.name).toBe('Xena')
    expect(idx.get('ct_nope')).toBeUndefined()
    idx.removeIds(['ct_x'])
    expect(idx.get('ct_x')).toBeUndefined()
  })

  it('replaceShard touches only that shard', () => {
    const idx = new ContactIndex(db)
    idx.upsertMany(0, [contact('ct_a', 'a'), contact('ct_b', 'b')])
    idx.upsertMany(1, [contact('ct_c', 'c')])
    idx.replaceShard(0, [contact('ct_b', 'b2'), contact('ct_d', 'd')])
    expect(idx.page().map((c) => c.id)).toEqual(['ct_b', 'ct_c', 'ct_d'])
  })

  it('is clean exactly while the document generation it was built from is current', async () => {
    const idx = new ContactIndex(db)
    const storage = new SqliteStorageAdapter(db)
    expect(idx.isClean(0, 'docA')).toBe(false)
    await storage.save(['docA', 'incremental', 'h1'], new Uint8Array([1]))
    const gen = readDocGen(db, 'docA')
    idx.replaceShard(0, [contact('ct_a', 'a')], { shard: 0, docId: 'docA', gen })
    idx.markClean(1, 'docB', 0)
    expect(idx.isClean(0, 'docA')).toBe(true)
    expect(idx.isClean(0, 'docOther')).toBe(false)
    expect(idx.dirtyShards([{ shard: 0, docId: 'docA' }, { shard: 1, docId: 'docB' }, { shard: 2, docId: 'docC' }])).toEqual([2])
    await storage.save(['docA', 'sync-state', 'peer'], new Uint8Array([2]))
    expect(idx.isClean(0, 'docA')).toBe(true)
    await storage.save(['docA', 'snapshot', 'h2'], new Uint8Array([3]))
    expect(idx.dirtyShards([{ shard: 0, docId: 'docA' }, { shard: 1, docId: 'docB' }])).toEqual([0])
    // Orgs track their own state under the same shard numbers.
    expect(new OrgIndex(db).isClean(0, 'docA')).toBe(false)
  })

  it('survives reopening the store', () => {
    new ContactIndex(db).upsertMany(0, [contact('ct_a', 'Ann')])
    db.close()
    db = openOrbitDatabase(file, { create: false })
    expect(new ContactIndex(db).page().map((c) => c.name)).toEqual(['Ann'])
  })
})

describe('OrgIndex', () => {
  it('lists organizations apart from contacts', () => {
    const orgs = new OrgIndex(db)
    const org: Organization = { id: 'org_a' as OrgId, name: 'Acme', createdAt: 1, updatedAt: 1 }
    orgs.upsertMany(ORG_SHARD, [org, { ...org, id: 'org_b' as OrgId, name: 'beta' }])
    new ContactIndex(db).upsertMany(0, [contact('ct_a', 'Acme person')])
    expect(orgs.page().map((o) => o.id)).toEqual(['org_a', 'org_b'])
    expect(orgs.get('ct_a')).toBeUndefined()
    expect(orgs.get('org_a')).toEqual(org)
    expect(orgs.count()).toBe(2)
  })
})

describe('ConfigStore', () => {
  it('gets, sets, overwrites, deletes and lists JSON values', () => {
    const config = new ConfigStore(db)
    expect(config.get('missing')).toBeUndefined()
    config.set('listen', { host: '127.0.0.1', port: 7000 })
    config.set('name', 'laptop')
    config.set('name', 'desk')
    expect(config.get('listen')).toEqual({ host: '127.0.0.1', port: 7000 })
    expect(config.get('name', (v) => (typeof v === 'string' ? v : undefined))).toBe('desk')
    expect(config.keys()).toEqual(['listen', 'name'])
    expect(config.delete('name')).toBe(true)
    expect(config.delete('name')).toBe(false)
    config.set('listen', undefined)
    expect(config.keys()).toEqual([])
  })

  it('propagates the caller’s validation error', () => {
    const config = new ConfigStore(db)
    config.set('port', 'not a number')
    expect(() =>
      config.get('port', (v) => {
        if (typeof v !== 'number') throw new TypeError('port must be a number')
        return v
      }),
    ).toThrow(TypeError)
  })
})

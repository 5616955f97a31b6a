/**
 * `orbit contact add` with no daemon writes without automerge-repo (src/apps/node/quick-add.ts).
 * What it stores must be what the full path would have stored: the contact in the shard document
 * (read back through automerge-repo by the full device), its listing row with the shard still
 * clean, the shard's recorded heads, and chunks laid out as automerge-repo lays them out (an
 * incremental per change until the incrementals outgrow the snapshot, then one snapshot). Whatever
 * it does not handle, it hands back before writing anything.
 */
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as A from '@automerge/automerge'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { initDevice, openDevice, withOpenDevice } from '../../src/apps/node/device.js'
import { quickAddContact } from '../../src/apps/node/quick-add.js'
import { openReadView } from '../../src/apps/node/read-view.js'
import { docIdOf } from '../../src/apps/node/projection.js'
import { CONFIG_KEYS, storePath } from '../../src/apps/node/data-dir.js'
import { DocHeadsStore, openOrbitDatabase } from '../../src/adapters/storage-sqlite/index.js'
import type { Contact } from '../../src/core/model/types.js'
import { storeDigest, tempDir } from '../cli/helpers.js'
import { chunkLayout } from './chunk-layout.js'

describe('contact add without a daemon and without automerge-repo', () => {
  let root: string
  let data: string
  beforeEach(() => {
    root = tempDir('orbit-quick-add-')
    data = join(root, 'data')
  })
  afterEach(() => rmSync(root, { recursive: true, force: true }))

  it('stores what the full path would: the contact in the CRDT, its row in a clean listing, the heads recorded', async () => {
    await initDevice(data, { name: 'Alpha' })
    await withOpenDevice(data, (d) => d.workspace.addContacts(Array.from({ length: 120 }, (_, i) => ({ name: `Person ${i}` }))))

    const added: Contact[] = []
    for (let i = 0; i < 24; i++) {
      const c = await quickAddContact(data, { name: `  Quick ${i}  `, emails: [`quick${i}@example.com`], tags: ['vip'], ...(i % 2 ? { phones: ['+1 555 0100'], title: 'CTO' } : {}) })
      expect(c, `quick add ${i}`).toBeDefined()
      added.push(c!)
    }
    expect(added[0]).toMatchObject({ name: 'Quick 0', emails: ['quick0@example.com'], tags: { vip: true }, phones: [] })
    expect(added[1]).toMatchObject({ phones: ['+1 555 0100'], title: 'CTO' })

    // The listing: clean (no re-projection needed), every quick add listed as returned.
    const view = await openReadView(data)
    try {
      expect(view.refreshed, 'the quick adds left every shard clean').toBe(false)
      const page = view.listContacts({ offset: 0, limit: 1000 })
      expect(page.total).toBe(144)
      for (const c of added) expect(view.getContact(c.id)).toEqual(c)
    } finally {
      view.close()
    }

    // The CRDT, read back through automerge-repo by the full device, and the recorded heads.
    const device = await openDevice(data)
    try {
      for (const c of added) expect(await device.workspace.getContact(c.id)).toEqual(c)
      expect((await device.workspace.listContacts()).length).toBe(144)
      const heads = new DocHeadsStore(device.db)
      for (const n of new Set(added.map((c) => device.workspace.shardOfContact(c.id)))) {
        const handle = await device.workspace.shardHandle(n)
        expect(heads.heads(handle.documentId), `shard ${n}'s recorded heads`).toEqual([...A.getHeads(handle.doc())].sort())
      }
      // The full path writes on top of a quick add, and the quick path on top of that.
      await device.workspace.editContact(added[0]!.id, { title: 'Edited' })
      await device.flush()
    } finally {
      await device.close()
    }
    const after = await quickAddContact(data, { name: 'After the full path' })
    const again = await openDevice(data)
    try {
      expect((await again.workspace.getContact(added[0]!.id))?.title).toBe('Edited')
      expect((await again.workspace.getContact(after!.id))?.name).toBe('After the full path')
    } finally {
      await again.close()
    }
  })

  it('lays chunks out as automerge-repo does: an incremental per change, one snapshot once they outgrow it', async () => {
    // One shard, so every add lands in it.
    await initDevice(data, { name: 'Alpha', shardCount: 1 })
    await withOpenDevice(data, (d) => d.workspace.addContacts(Array.from({ length: 30 }, (_, i) => ({ name: `Person ${i}` }))))
    const db = openOrbitDatabase(storePath(data), { create: false, readonly: true })
    const shardDoc = (JSON.parse(db.sqlite.prepare(`SELECT value FROM config WHERE key = ?`).pluck().get(CONFIG_KEYS.shardDocIds) as string) as string[])[0]!
    db.close()

    let compactions = 0
    let incrementals = 0
    for (let i = 0; i < 40; i++) {
      const before = chunkLayout(data, shardDoc)
      expect(await quickAddContact(data, { name: `Quick ${i}` })).toBeDefined()
      const after = chunkLayout(data, shardDoc)
      if (before.snapshot < 1024 || before.incremental >= before.snapshot) {
        compactions++
        expect(after.kinds, `add ${i}: compacted`).toEqual(['snapshot'])
      } else {
        incrementals++
        expect(after.kinds, `add ${i}: one incremental more`).toEqual([...before.kinds, 'incremental'])
      }
    }
    expect(incrementals, 'adds saved as an incremental').toBeGreaterThan(10)
    expect(compactions, 'adds that compacted').toBeGreaterThan(0)

    const device = await openDevice(data)
    try {
      expect((await device.workspace.listContacts()).map((c) => c.name).filter((n) => n.startsWith('Quick ')).length).toBe(40)
    } finally {
      await device.close()
    }
  })

  it('hands back, writing nothing, what it does not handle', async () => {
    expect(await quickAddContact(data, { name: 'No store yet' })).toBeUndefined()
    await initDevice(data, { name: 'Alpha' })
    await withOpenDevice(data, (d) => d.workspace.addContact({ name: 'Existing' }))
    const unchanged = async (what: string, input: unknown) => {
      const digest = await storeDigest(data)
      expect(await quickAddContact(data, input), what).toBeUndefined()
      expect(await storeDigest(data), `${what}: the store is unchanged`).toBe(digest)
    }
    await unchanged('an empty name', { name: '  ' })
    await unchanged('an invalid email', { name: 'Bad', emails: ['not-an-email'] })
    await unchanged('an unknown key', { name: 'Bad', nickname: 'x' })
    await unchanged('an organization', { name: 'Org member', orgId: 'org_aaaaaaaaaaaaaaaa' })

    const key = join(data, 'identity.key')
    const original = readFileSync(key, 'utf8')
    chmodSync(key, 0o644)
    await unchanged('an identity file others can read', { name: 'Insecure' })
    chmodSync(key, 0o600)
    writeFileSync(key, original.replace(/"deviceId":\s*"[^"]+"/, '"deviceId": "dev_someoneelse"'), { mode: 0o600 })
    await unchanged("another device's identity file", { name: 'Foreign' })
    rmSync(key)
    await unchanged('no identity file', { name: 'Keyless' })
    writeFileSync(key, original, { mode: 0o600 })

    const db = new Database(storePath(data))
    db.prepare(`DELETE FROM config WHERE key = ?`).run(CONFIG_KEYS.shardDocIds)
    db.close()
    await unchanged('no recorded shard layout', { name: 'No layout' })

    // And with everything back in place, it writes.
    const device = await openDevice(data)
    await device.close()
    expect(await quickAddContact(data, { name: 'Fine' })).toMatchObject({ name: 'Fine' })
  })

  it('hands back when the shard is not stored here', async () => {
    await initDevice(data, { name: 'Alpha', shardCount: 1 })
    const device = await openDevice(data)
    const shardDoc = docIdOf(device.workspace.shardUrls[0]!)
    await device.close()
    const db = new Database(storePath(data))
    db.prepare(`DELETE FROM chunks WHERE key >= ? AND key < ?`).run(`"${shardDoc}",`, `"${shardDoc}",\uffff`)
    db.close()
    const digest = await storeDigest(data)
    expect(await quickAddContact(data, { name: 'Nowhere' })).toBeUndefined()
    expect(await storeDigest(data)).toBe(digest)
  })
})

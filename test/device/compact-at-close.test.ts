/**
 * A device compacts, when it closes, the workspace documents automerge-repo left due for
 * compaction (src/adapters/storage-sqlite/compact.ts): a bulk write saves its shards together, and
 * automerge-repo skips a compaction while another document compacts, so most shards kept a
 * near-empty snapshot beside one large incremental. Closing leaves one snapshot per due document,
 * the listing clean, the heads recorded, and the same contacts; a document not due stays as it is.
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import * as A from '@automerge/automerge'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { initDevice, openDevice } from '../../src/apps/node/device.js'
import { docIdOf } from '../../src/apps/node/projection.js'
import { openReadView } from '../../src/apps/node/read-view.js'
import { storePath } from '../../src/apps/node/data-dir.js'
import { DocHeadsStore, openOrbitDatabase } from '../../src/adapters/storage-sqlite/index.js'
import { compactIfDue } from '../../src/adapters/storage-sqlite/compact.js'
import { tempDir } from '../cli/helpers.js'
import { chunkLayout as layout } from './chunk-layout.js'

describe('compaction when a device closes', () => {
  let root: string
  let data: string
  beforeEach(() => {
    root = tempDir('orbit-compact-')
    data = join(root, 'data')
  })
  afterEach(() => rmSync(root, { recursive: true, force: true }))

  it('leaves every shard of a bulk write one snapshot, with the listing clean and the same contacts', async () => {
    await initDevice(data, { name: 'Alpha' })
    const device = await openDevice(data)
    const shardDocs = device.workspace.shardUrls.map(docIdOf)
    const added = await device.workspace.addContacts(Array.from({ length: 800 }, (_, i) => ({ name: `Person ${i}`, emails: [`p${i}@example.com`] })))
    await device.flush()
    // What automerge-repo stored for the bulk write, before the close compacts it.
    const due = shardDocs.filter((id) => {
      const l = layout(data, id)
      return l.incremental > 0 && (l.snapshot < 1024 || l.incremental >= l.snapshot)
    })
    expect(due.length, 'shards the bulk write left due for compaction').toBeGreaterThan(0)
    await device.close()

    for (const id of shardDocs) expect(layout(data, id).kinds, `shard ${id}`).toEqual(['snapshot'])
    const view = await openReadView(data)
    try {
      expect(view.refreshed, 'the compaction kept the listing clean').toBe(false)
      expect(view.listContacts({ offset: 0, limit: 10 }).total).toBe(800)
    } finally {
      view.close()
    }
    const again = await openDevice(data)
    try {
      const heads = new DocHeadsStore(again.db)
      for (let n = 0; n < again.workspace.shardCount; n++) {
        const handle = await again.workspace.shardHandle(n)
        expect(heads.heads(handle.documentId), `shard ${n}'s recorded heads`).toEqual([...A.getHeads(handle.doc())].sort())
      }
      const listed = await again.workspace.listContacts()
      expect(listed.map((c) => c.id).sort()).toEqual(added.map((c) => c.id).sort())
    } finally {
      await again.close()
    }
  })

  it('compacts only what is due, and only a document the store holds exactly', async () => {
    await initDevice(data, { name: 'Alpha', shardCount: 1 })
    let device = await openDevice(data)
    const shardDoc = docIdOf(device.workspace.shardUrls[0]!)
    await device.workspace.addContacts(Array.from({ length: 200 }, (_, i) => ({ name: `Person ${i}` })))
    await device.close()
    expect(layout(data, shardDoc).kinds).toEqual(['snapshot'])

    // One small change: an incremental much smaller than the snapshot, not due; it stays.
    device = await openDevice(data)
    await device.workspace.addContact({ name: 'One more' })
    await device.close()
    expect(layout(data, shardDoc).kinds).toEqual(['snapshot', 'incremental'])

    // A document that is not what the store holds (other heads) is never written over.
    device = await openDevice(data)
    const handle = await device.workspace.shardHandle(0)
    const stale = A.clone(handle.doc())
    await device.workspace.addContacts(Array.from({ length: 300 }, (_, i) => ({ name: `Later ${i}` })))
    await device.flush()
    const db = openOrbitDatabase(storePath(data), { create: false })
    try {
      const before = layout(data, shardDoc)
      expect(before.incremental >= before.snapshot, 'the store is due for compaction').toBe(true)
      expect(compactIfDue(db, shardDoc, stale), 'a stale document').toBe(false)
      expect(layout(data, shardDoc)).toEqual(before)
    } finally {
      db.close()
    }
    await device.close()
    expect(layout(data, shardDoc).kinds, 'the closing device, which holds what is stored, compacts it').toEqual(['snapshot'])
    const check = await openDevice(data)
    try {
      expect((await check.workspace.listContacts()).length).toBe(501)
    } finally {
      await check.close()
    }
  })
})

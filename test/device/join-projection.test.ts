/**
 * `pair join` projects the joined workspace's listing before it closes the device, from the
 * documents it just synced: the first open afterwards finds every shard clean and loads none of
 * them, and the listing holds exactly what the inviter's CRDT holds. A shard that arrived in one
 * update is read from its document object (materialized from nothing in one step, as a load is).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseAutomergeUrl, type AutomergeUrl } from '@automerge/automerge-repo'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { IndexProjector } from '../../src/apps/node/projection.js'
import { createOrbitNode, type OrbitNode } from '../../src/apps/node/orbit-node.js'
import { initDevice } from '../../src/apps/node/device.js'
import { joinWorkspace } from '../../src/apps/node/join.js'
import { ContactIndex, openOrbitDatabase } from '../../src/adapters/storage-sqlite/index.js'
import { storePath } from '../../src/apps/node/data-dir.js'

describe('pair join and the listing', () => {
  let root: string
  let inviter: OrbitNode | undefined
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'orbit-join-proj-'))
  })
  afterEach(async () => {
    await inviter?.stop()
    rmSync(root, { recursive: true, force: true })
  })

  it('leaves every shard of the joined workspace projected and clean', async () => {
    inviter = await createOrbitNode({ dataDir: join(root, 'a'), init: { name: 'Alpha' }, listen: { host: '127.0.0.1', port: 0 }, background: false })
    const names = Array.from({ length: 120 }, (_, i) => `Person ${String(i).padStart(3, '0')}`)
    const added = await inviter.api.workspace.addContacts(names.map((name) => ({ name })))
    await inviter.api.workspace.removeContact(added[0]!.id)
    const invite = await inviter.createInvite()

    const b = join(root, 'b')
    await initDevice(b, { name: 'Beta' })
    const rebuilt: Array<Promise<number>> = []
    const readFromState: boolean[][] = []
    const original = IndexProjector.prototype.rebuildDirty
    const spy = vi.spyOn(IndexProjector.prototype, 'rebuildDirty').mockImplementation(function (this: IndexProjector, options) {
      const from = options?.fromState
      readFromState.push(Array.from({ length: 16 }, (_, n) => (typeof from === 'function' ? from(n) : from === true)))
      const done = original.call(this, options)
      rebuilt.push(done)
      return done
    })
    let result
    try {
      result = await joinWorkspace(b, invite.code, { address: `127.0.0.1:${inviter.listenAddress!.port}` })
    } finally {
      spy.mockRestore()
    }
    expect(result.contacts).toBe(119)
    // Opening the empty device (its own workspace: nothing stale), the join's projection of the
    // 16 shards and the organizations, then the re-open: nothing left to project, nothing loaded.
    expect(await Promise.all(rebuilt)).toEqual([0, 17, 0])
    // Each shard arrived whole in one update (a first sync from nothing): the join's projection
    // reads the documents' objects, not a second materialization of their state.
    expect(readFromState[1]).toEqual(Array.from({ length: 16 }, () => false))

    const db = openOrbitDatabase(storePath(b), { create: false, readonly: true })
    try {
      const index = new ContactIndex(db)
      const shards = inviter.device.workspace.shardUrls
      const unclean = shards.map((url, n) => ({ n, docId: parseAutomergeUrl(url as AutomergeUrl).documentId })).filter((s) => !index.isClean(s.n, s.docId))
      expect(unclean).toEqual([])
      const listed = index.page({ limit: 1000 }).map((c) => c.name)
      expect(listed).toEqual(names.slice(1))
      expect(index.count({ includeDeleted: true })).toBe(120)
    } finally {
      db.close()
    }
  }, 120_000)
})

/**
 * An invite loads the inviting node's shards ahead of the join (src/apps/node/orbit-node.ts,
 * `#warmForJoiner`): a joiner asks for every shard at once, and a shard loaded only on its request
 * is a load it waits for. A node opened on an existing workspace holds no shard until something
 * needs one; after `createInvite` it holds every one, and the join gets them all.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createOrbitNode, type OrbitNode } from '../../src/apps/node/orbit-node.js'
import { initDevice } from '../../src/apps/node/device.js'
import { joinWorkspace } from '../../src/apps/node/join.js'

describe('an invite and the inviter\'s shards', () => {
  let root: string
  let node: OrbitNode | undefined
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'orbit-invite-warm-'))
  })
  afterEach(async () => {
    await node?.stop()
    rmSync(root, { recursive: true, force: true })
  })

  it('loads every shard once an invite is open, and the joiner gets every contact', async () => {
    const a = join(root, 'a')
    node = await createOrbitNode({ dataDir: a, init: { name: 'Alpha' }, background: false })
    await node.api.workspace.addContacts(Array.from({ length: 80 }, (_, i) => ({ name: `Person ${i}` })))
    await node.stop()

    node = await createOrbitNode({ dataDir: a, listen: { host: '127.0.0.1', port: 0 }, background: false })
    const ws = node.device.workspace
    const loaded = (): number => Array.from({ length: ws.shardCount }, (_, n) => ws.isShardLoaded(n)).filter(Boolean).length
    expect(loaded(), 'a reopened node loads its shards lazily').toBe(0)
    const invite = await node.createInvite()
    await vi.waitFor(() => expect(loaded(), 'shards loaded after the invite').toBe(ws.shardCount), { timeout: 30_000, interval: 20 })

    const b = join(root, 'b')
    await initDevice(b, { name: 'Beta' })
    const result = await joinWorkspace(b, invite.code, { address: `127.0.0.1:${node.listenAddress!.port}` })
    expect(result.contacts).toBe(80)
  }, 120_000)
})

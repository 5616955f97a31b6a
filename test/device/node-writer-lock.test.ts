/**
 * The node (what `orbit serve` runs) is its data dir's one writer (src/apps/node/writer-lock.ts):
 * it waits for a command that opened the store itself to finish before it loads anything, so that
 * command's write is in what the node serves. Without the lock the node loaded the documents
 * under the command's feet and never saw its edit (found by the chaos soak, docs/soak.md).
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { initDevice, withOpenDevice } from '../../src/apps/node/device.js'
import { createOrbitNode, type OrbitNode } from '../../src/apps/node/orbit-node.js'

const dirs: string[] = []
const nodes: OrbitNode[] = []
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.stop()
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

describe('the node and the writer lock', () => {
  it('a node starting while a command writes waits for it, and serves its write', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'orbit-node-lock-'))
    dirs.push(dir)
    await initDevice(dir, { name: 'Locked' })
    let started: Promise<OrbitNode> | undefined
    let nodeReady = false
    await withOpenDevice(dir, async (device) => {
      started = createOrbitNode({ dataDir: dir, background: false })
      void started.then(() => (nodeReady = true))
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect(nodeReady, 'the node must wait for the writer').toBe(false)
      await device.workspace.addContact({ name: 'Written While Starting' })
    })
    const node = await started!
    nodes.push(node)
    expect((await node.api.workspace.listContacts()).map((c) => c.name)).toContain('Written While Starting')
  })

  it('a command run while a node holds the data dir waits until the node stops (then sees what it wrote)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'orbit-node-lock-'))
    dirs.push(dir)
    await initDevice(dir, { name: 'Held' })
    const node = await createOrbitNode({ dataDir: dir, background: false })
    await node.api.workspace.addContact({ name: 'From The Node' })
    let ran = false
    const command = withOpenDevice(dir, async (device) => {
      ran = true
      return (await device.workspace.listContacts()).map((c) => c.name)
    })
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(ran, 'the command must wait for the node').toBe(false)
    await node.stop()
    expect(await command).toContain('From The Node')
  })

  it('a node on a data dir with no store is refused NOT_INITIALISED and leaves the dir as it was (no lock file)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'orbit-node-lock-'))
    dirs.push(dir)
    await expect(createOrbitNode({ dataDir: dir, background: false })).rejects.toMatchObject({ name: 'StoreError', code: 'NOT_INITIALISED' })
    await expect(createOrbitNode({ dataDir: join(dir, 'missing'), background: false })).rejects.toMatchObject({ name: 'StoreError', code: 'NOT_INITIALISED' })
    expect(readdirSync(dir)).toEqual([])
  })
})

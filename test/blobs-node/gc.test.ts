/** The node's GC sweep (docs/protocol/blobs.md, the GC rule) on a one-device workspace: mark, wait out the grace, collect; a referenced logo stays. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { createOrbitNode, type OrbitNode } from '../../src/apps/node/orbit-node.js'
import { syntheticPng } from '../../bench/synthetic-png.js'

const cleanup: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f()
})

it('an unreferenced blob is marked, then collected after the grace period; a referenced one (of a deleted contact too) is kept', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'orbit-blobs-gc-'))
  const node: OrbitNode = await createOrbitNode({ dataDir: join(dir, 'd'), init: { name: 'Solo' } })
  cleanup.push(async () => {
    await node.stop()
    rmSync(dir, { recursive: true, force: true })
  })
  const stray = await node.api.putBlob(syntheticPng(10_000, 1))
  const kept = await node.api.putBlob(syntheticPng(10_000, 2))
  const c = await node.api.workspace.addContact({ name: 'Kept', logo: kept })
  await node.api.workspace.removeContact(c.id)
  await node.device.flush()
  const t0 = Date.now()
  expect(await node.blobs.sweep(t0)).toEqual([])
  expect(await node.blobs.sweep(t0 + 60_000)).toEqual([])
  expect(await node.device.blobs.has(stray)).toBe(true)
  expect(await node.blobs.sweep(t0 + 8 * 24 * 3_600_000)).toEqual([stray])
  expect(await node.device.blobs.has(stray)).toBe(false)
  expect(await node.device.blobs.has(kept)).toBe(true)
}, 60_000)

/**
 * Mesh signalling between three real nodes on loopback (createOrbitNode: SQLite, TCP + the secure
 * channel, werift): A and C are each linked to B over the LAN tier only; A opens a direct, kept
 * WebRTC link to C through B (no code carried), B stops, and an edit on A still reaches C over it.
 * Also: no WebRTC link to a device that has a LAN link (typed, both tiers' state unchanged).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { DeviceId } from '../../src/core/ids.js'
import { createOrbitNode, type OrbitNode } from '../../src/apps/node/orbit-node.js'
import { LOOPBACK_WEBRTC, threeMembers, until } from './helpers.js'

const nodes: OrbitNode[] = []
const dirs: string[] = []
afterEach(async () => {
  await Promise.allSettled(nodes.splice(0).map((n) => n.stop()))
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

async function start(dataDir: string, background = false): Promise<OrbitNode> {
  // `background`: the orchestrator's loop links members by itself (through a relay when the LAN cannot reach them).
  const node = await createOrbitNode({ dataDir, listen: { host: '127.0.0.1', port: 0 }, background })
  nodes.push(node)
  return node
}

async function names(node: OrbitNode): Promise<string[]> {
  const page = (await node.api.workspace.listContacts({} as never)) as unknown
  const list = (Array.isArray(page) ? page : (page as { contacts: unknown[] }).contacts) as Array<{ name: string }>
  return list.map((c) => c.name).sort()
}

async function bridged(auto = false): Promise<{ a: OrbitNode; b: OrbitNode; c: OrbitNode; ids: Record<'a' | 'b' | 'c', DeviceId> }> {
  const root = mkdtempSync(join(tmpdir(), 'orbit-mesh-'))
  dirs.push(root)
  const m = await threeMembers(root, LOOPBACK_WEBRTC)
  const [a, b, c] = [await start(m.dirs.a, auto), await start(m.dirs.b, auto), await start(m.dirs.c, auto)]
  const port = b.listenAddress!.port
  await a.lan.dial('127.0.0.1', port)
  await c.lan.dial('127.0.0.1', port)
  const ids = m.ids as Record<'a' | 'b' | 'c', DeviceId>
  if (!auto) await until(() => a.webrtc.reach(ids.c).ok && c.webrtc.reach(ids.a).ok, 'routes through B')
  return { a, b, c, ids }
}

describe('mesh signalling through a relay member (loopback nodes)', () => {
  it('A reaches C via relay B, opens a kept WebRTC link with no code carried; B stops; an edit on A reaches C', async () => {
    const { a, b, c, ids } = await bridged()
    expect(a.webrtc.reach(ids.c)).toEqual({ ok: true, via: `relay ${ids.b}` })
    expect(a.lan.isConnected(ids.c)).toBe(false)
    const routed: number[] = []
    const off = c.webrtc.onRoutesChanged(() => routed.push(1))

    const report = await a.webrtc.connect(ids.c)
    expect(report).toMatchObject({ method: 'webrtc', status: 'completed', peer: { deviceId: ids.c } })
    expect(report.documents).toBeGreaterThan(1)
    expect(a.webrtc.isConnected(ids.c)).toBe(true)
    expect(a.webrtc.connected()).toEqual([ids.c])
    await until(() => c.webrtc.isConnected(ids.a), 'C’s side of the kept link')
    expect(routed.length).toBeGreaterThan(0)
    off()

    await b.stop()
    await until(() => !a.lan.isConnected(ids.b) && !c.lan.isConnected(ids.b), 'B gone')
    await a.api.workspace.addContact({ name: 'Ada Lovelace' })
    await until(async () => (await names(c)).includes('Ada Lovelace'), 'the edit on A at C')
    expect(a.webrtc.isConnected(ids.c)).toBe(true)
    // And back the other way, over the same kept link.
    await c.api.workspace.addContact({ name: 'Grace Hopper' })
    await until(async () => (await names(a)).includes('Grace Hopper'), 'the edit on C at A')
  }, 90_000)

  it('refuses a WebRTC link to a device that has a LAN link (MESH_LINKED_ELSEWHERE)', async () => {
    const { a, ids } = await bridged()
    await expect(a.webrtc.connect(ids.b)).rejects.toMatchObject({ name: 'WebRtcError', code: 'MESH_LINKED_ELSEWHERE' })
    expect(a.webrtc.connected()).toEqual([])
    expect(a.lan.isConnected(ids.b)).toBe(true)
  }, 60_000)

  it('the orchestrator\'s loop links A and C by itself (WebRTC through B, the LAN having no address) once B routes between them', async () => {
    const { a, c, ids } = await bridged(true)
    await until(() => a.webrtc.isConnected(ids.c) && c.webrtc.isConnected(ids.a), 'the automatic mesh link')
    expect(a.webrtc.connected()).toEqual([ids.c])
    expect(c.webrtc.connected()).toEqual([ids.a])
  }, 60_000)

  it('a LAN link that comes up to a device with a kept WebRTC link replaces it (both sides close the WebRTC one)', async () => {
    const { a, c, ids } = await bridged()
    await a.webrtc.connect(ids.c)
    await until(() => c.webrtc.isConnected(ids.a), 'the kept link on C')
    await a.lan.dial('127.0.0.1', c.listenAddress!.port)
    await until(() => !a.webrtc.isConnected(ids.c) && !c.webrtc.isConnected(ids.a), 'the WebRTC link to yield')
    expect(a.lan.isConnected(ids.c)).toBe(true)
    await a.api.workspace.addContact({ name: 'Over the LAN' })
    await until(async () => (await names(c)).includes('Over the LAN'), 'the edit on A at C over the LAN')
  }, 60_000)
})

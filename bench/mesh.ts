/**
 * Mesh signalling bench (issue 10's bar): WebRTC set-up between A and C signalled through a relay
 * member B (the offer and answer sealed, signed and relayed over B's LAN links; docs/protocol/mesh.md)
 * against a direct set-up whose codes are pasted straight from one side to the other (zero time to
 * carry them), in the same run, on the same three nodes (createOrbitNode: SQLite, TCP + Noise,
 * werift; host candidates on 127.0.0.1), alternating the two.
 *
 * Both are timed from the first call (offer creation) until the offering side's first session is
 * in sync over an open, kept link — the same syncOverConnection in both, so the difference is the
 * relay's two hops, the seals and the answering daemon's own work.
 *
 *   node dist/bench/mesh.js
 *   ORBIT_BENCH_MESH_RUNS=5 node dist/bench/mesh.js   # quicker
 */
import { cpSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { toBase64Url } from '../src/core/crypto/bytes.js'
import { generateIdentity } from '../src/core/crypto/identity.js'
import type { DeviceId } from '../src/core/ids.js'
import { saveIdentity } from '../src/adapters/identity-fs/index.js'
import { ConfigStore, openOrbitDatabase } from '../src/adapters/storage-sqlite/index.js'
import { answerOffer, createOffer } from '../src/adapters/transport-webrtc/index.js'
import { CONFIG_KEYS, storePath } from '../src/apps/node/data-dir.js'
import { initDevice, openDevice } from '../src/apps/node/device.js'
import { createOrbitNode, type OrbitNode } from '../src/apps/node/orbit-node.js'
import { WEBRTC_CONFIG_KEYS } from '../src/apps/node/webrtc-config.js'
import { peerOptionsFor, syncOverConnection } from '../src/apps/node/webrtc-sync.js'
import { median, r1 } from './crm-sync.js'
import type { BarCheck, BenchModule, BenchOutcome } from './types.js'

const r2 = (x: number): number => Math.round(x * 100) / 100

/** A (founder), B and C: one workspace, three members, host candidates on loopback. */
async function threeMembers(root: string): Promise<Record<'a' | 'b' | 'c', string>> {
  const dirs = { a: join(root, 'a'), b: join(root, 'b'), c: join(root, 'c') }
  await initDevice(dirs.a, { name: 'Alpha' })
  const others = { b: generateIdentity(), c: generateIdentity() }
  const device = await openDevice(dirs.a)
  try {
    for (const [k, id] of Object.entries(others)) {
      await device.workspace.addDevice({ id: id.deviceId, publicKey: toBase64Url(id.publicKey), name: k, addedAt: Date.now(), addedBy: device.identity.deviceId })
    }
    for (let i = 0; i < 20; i++) await device.workspace.addContact({ name: `Contact ${i}` })
    await device.flush()
  } finally {
    await device.close()
  }
  for (const k of ['b', 'c'] as const) {
    cpSync(dirs.a, dirs[k], { recursive: true })
    unlinkSync(join(dirs[k], 'identity.key'))
    saveIdentity(dirs[k], others[k])
  }
  for (const [k, dir] of Object.entries(dirs)) {
    const db = openOrbitDatabase(storePath(dir), { create: false })
    try {
      const config = new ConfigStore(db)
      if (k !== 'a') {
        config.set(CONFIG_KEYS.deviceId, others[k as 'b' | 'c'].deviceId)
        config.set(CONFIG_KEYS.deviceName, k)
      }
      config.set(WEBRTC_CONFIG_KEYS.hostAddresses, ['127.0.0.1'])
    } finally {
      db.close()
    }
  }
  return dirs
}

async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** One mesh-signalled set-up A→C through B; the kept link is closed afterwards. */
async function meshOnce(a: OrbitNode, c: OrbitNode, cId: DeviceId, aId: DeviceId): Promise<number> {
  const t0 = performance.now()
  const report = await a.webrtc.connect(cId)
  const ms = performance.now() - t0
  if (report.status !== 'completed') throw new Error(`mesh session ${report.status}: ${report.error?.message}`)
  await a.webrtc.disconnect(cId)
  await until(() => !c.webrtc.isConnected(aId), 'C to see the mesh link close')
  return ms
}

/** One direct set-up A→C with the codes handed over in-process; both kept, then closed. */
async function directOnce(a: OrbitNode, c: OrbitNode): Promise<number> {
  const t0 = performance.now()
  const offer = await createOffer(peerOptionsFor(a.device, {}))
  const answer = await answerOffer(offer.code, peerOptionsFor(c.device, {}))
  const [ca, cc] = await Promise.all([offer.accept(answer.code), answer.connection])
  const answering = syncOverConnection(c.device, cc, { keep: true })
  const report = await syncOverConnection(a.device, ca, { keep: true, started: Date.now() })
  const ms = performance.now() - t0
  if (report.status !== 'completed') throw new Error(`direct session ${report.status}: ${report.error?.message}`)
  await answering
  await Promise.all([ca.close(), cc.close()])
  return ms
}

export async function runMeshBench(progress: (m: string) => void): Promise<BenchOutcome> {
  const runs = Number(process.env.ORBIT_BENCH_MESH_RUNS ?? 10)
  const root = mkdtempSync(join(tmpdir(), 'orbit-bench-mesh-'))
  const nodes: OrbitNode[] = []
  try {
    const dirs = await threeMembers(root)
    // No background loop (the orchestrator would link A and C by itself): the bench opens the links.
    for (const k of ['a', 'b', 'c'] as const) nodes.push(await createOrbitNode({ dataDir: dirs[k], listen: { host: '127.0.0.1', port: 0 }, background: false }))
    const [a, b, c] = nodes as [OrbitNode, OrbitNode, OrbitNode]
    const aId = a.device.identity.deviceId
    const cId = c.device.identity.deviceId
    await a.lan.dial('127.0.0.1', b.listenAddress!.port)
    await c.lan.dial('127.0.0.1', b.listenAddress!.port)
    await until(() => a.webrtc.reach(cId).ok, 'a route A→C through B')
    // One of each first, untimed: loads the workspace and warms werift on both ends.
    await meshOnce(a, c, cId, aId)
    await directOnce(a, c)
    const mesh: number[] = []
    const direct: number[] = []
    for (let i = 0; i < runs; i++) {
      if (i % 2 === 0) {
        mesh.push(await meshOnce(a, c, cId, aId))
        direct.push(await directOnce(a, c))
      } else {
        direct.push(await directOnce(a, c))
        mesh.push(await meshOnce(a, c, cId, aId))
      }
      progress(`mesh ${i + 1}/${runs}: relayed ${r1(mesh.at(-1)!)} ms, pasted codes ${r1(direct.at(-1)!)} ms`)
    }
    const m = median(mesh)
    const d = median(direct)
    const ratio = m / d
    const bars: BarCheck[] = [{ metric: 'mesh-signalled WebRTC set-up through a relay member / direct with pasted codes (median)', value: r2(ratio), unit: '×', bar: '≤ 2', pass: ratio <= 2 }]
    return {
      values: {
        runs,
        'relayed set-up median ms': r1(m),
        'relayed set-up min / max ms': `${r1(Math.min(...mesh))} / ${r1(Math.max(...mesh))}`,
        'pasted-codes set-up median ms': r1(d),
        'pasted-codes set-up min / max ms': `${r1(Math.min(...direct))} / ${r1(Math.max(...direct))}`,
        'relayed / pasted': r2(ratio),
      },
      bars,
    }
  } finally {
    for (const n of nodes.reverse()) await n.stop().catch(() => undefined)
    rmSync(root, { recursive: true, force: true })
  }
}

export const meshBench: BenchModule = { name: 'mesh (issue 10): relayed WebRTC set-up vs pasted codes', run: (progress) => runMeshBench(progress) }

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const outcome = await runMeshBench((m) => process.stderr.write(`${m}\n`))
  console.log(JSON.stringify(outcome, null, 2))
  process.exit(0)
}

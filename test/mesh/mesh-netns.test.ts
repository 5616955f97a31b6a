/**
 * Mesh signalling end to end (issue 10, Build §7): real `orbit serve` child processes in network
 * namespaces (test/helpers/nat.ts). A and C each sit in their own home behind their own NAT; B
 * runs in the "public" namespace next to coturn (STUN), reachable from both. A and C pair with
 * nothing but B's address (`orbit sync B:PORT` through their daemons); B relays their offer and
 * answer (sealed, signed end to end) and they open a direct WebRTC link through the NATs with no
 * code carried by hand. Then B is stopped (SIGTERM, by pid) and an edit made on A (CLI through A's
 * daemon) still reaches C (CLI through C's daemon).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createNatTopology, natUnavailableReason, type NatTopology } from '../helpers/nat.js'
import { ServeProcess, orbitJson, requireBuilt, type Spawner } from '../daemon/helpers.js'
import { WEBRTC_CONFIG_KEYS } from '../../src/apps/node/webrtc-config.js'
import { threeMembers, until } from './helpers.js'

const reason = natUnavailableReason()
if (reason !== undefined) console.warn(`skipping the mesh namespace test: ${reason}`)

const PORT = 7420
// The daemons' info log tells when the link is up (what the test waits for).
process.env.ORBIT_TEST_LOG ??= 'info'
process.env.ORBIT_LOG_FORMAT ??= 'json'

/** The daemon's JSON log records with message `msg`. */
function logged(d: ServeProcess, msg: string): Array<Record<string, unknown>> {
  return d.stderr
    .split('\n')
    .filter((l) => l.startsWith('{') && l.includes(msg))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((r) => r.msg === msg)
}

describe.skipIf(reason !== undefined)('mesh signalling across NATs (orbit serve in namespaces, coturn for STUN)', () => {
  let topology: NatTopology | undefined
  const daemons: ServeProcess[] = []
  const roots: string[] = []
  beforeAll(requireBuilt)
  afterEach(async () => {
    await Promise.all(daemons.splice(0).map((d) => d.kill()))
    await topology?.destroy()
    topology = undefined
    for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true })
  })

  it('A and C link directly via relay B with no code carried; B stops; an edit on A still reaches C', async () => {
    topology = await createNatTopology()
    const t = topology
    const inNs =
      (ns: string): Spawner =>
      (cmd, args, options) =>
        t.spawnIn(ns, cmd, args, options)
    const root = mkdtempSync(join(tmpdir(), 'orbit-mesh-ns-'))
    roots.push(root)
    const m = await threeMembers(root, { [WEBRTC_CONFIG_KEYS.iceServers]: [t.stunSpec] })
    const ns = { a: t.a.ns, b: t.publicNs, c: t.b.ns }
    const listen = { a: `${t.a.ip}:${PORT}`, b: `${t.serverIp}:${PORT}`, c: `${t.b.ip}:${PORT}` }
    const serve = (k: 'a' | 'b' | 'c'): ServeProcess => {
      const d = new ServeProcess(m.dirs[k], ['--listen', listen[k], '--no-mdns'], inNs(ns[k]))
      daemons.push(d)
      return d
    }
    const [da, db, dc] = [serve('a'), serve('b'), serve('c')]
    await Promise.all([da.ready, db.ready, dc.ready])

    // A and C know only B's address: each syncs with it once through its daemon, which keeps the link.
    for (const k of ['a', 'c'] as const) {
      const report = await orbitJson<{ status: string; peer: { deviceId: string } }>(m.dirs[k], ['sync', listen.b], { spawner: inNs(ns[k]) })
      expect(report).toMatchObject({ status: 'completed', peer: { deviceId: m.ids.b } })
    }

    // The daemons link A and C through B by themselves (their logs say so; waited for, not asserted on).
    const linked = (d: ServeProcess, peer: string): boolean => logged(d, 'kept WebRTC link in sync').some((r) => r.deviceId === peer && r.status === 'completed')
    try {
      await until(() => linked(da, m.ids.c) && linked(dc, m.ids.a), 'the WebRTC link A–C', 60_000)
    } catch (error) {
      for (const [k, d] of Object.entries({ a: da, b: db, c: dc })) console.warn(`--- ${k}\n${d.stderr.split('\n').filter((l) => /mesh|webrtc|relay/i.test(l)).slice(-30).join('\n')}`)
      throw error
    }

    // A direct path between the two NATs' public sides (learnt from STUN or the peer's checks), not via B.
    const path = logged(da, 'kept WebRTC link in sync').find((r) => r.deviceId === m.ids.c)!
    expect(['srflx', 'prflx']).toContain(path.candidateType)
    expect(String(path.address)).toMatch(new RegExp(`^${t.b.publicIp.replaceAll('.', '\\.')}:\\d+$`))

    // `orbit peers` on A says so too: C is connected, over WebRTC.
    const peersOnA = await orbitJson<{ peers: Array<{ deviceId: string; connected: boolean; link?: string }> }>(m.dirs.a, ['peers'], { spawner: inNs(ns.a) })
    expect(peersOnA.peers.find((p) => p.deviceId === m.ids.c)).toMatchObject({ connected: true, link: 'webrtc' })

    // B goes away; the link A–C does not need it.
    expect(await db.stop()).toBe(0)
    await orbitJson(m.dirs.a, ['contact', 'add', '--name', 'Ada Lovelace'], { spawner: inNs(ns.a) })
    await until(
      async () => {
        const page = await orbitJson<{ contacts: Array<{ name: string }> }>(m.dirs.c, ['contact', 'list', '--all'], { spawner: inNs(ns.c) })
        return page.contacts.some((c) => c.name === 'Ada Lovelace')
      },
      'the edit on A at C, after B stopped',
      60_000,
    )
  }, 180_000)
})

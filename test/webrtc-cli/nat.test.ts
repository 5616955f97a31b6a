/**
 * `orbit webrtc offer | answer` — the built CLI, `node bin/orbit.js`, as real child processes —
 * between two member devices on different networks: each runs inside its own home namespace
 * behind its own MASQUERADE NAT, with coturn in a "public" namespace between them
 * (test/helpers/nat.ts, README.md "Development"). The test carries A's offer code to B and B's answer code
 * back to A's stdin, like a person would. Both print a completed session report naming the kind of
 * path ICE found, and each device then lists the contact the other added before: through
 * STUN-discovered addresses, and through coturn's relay when direct UDP between the NATs is dropped.
 * (The transport's own NAT test, test/webrtc/nat.test.ts, covers the no-route failure.)
 */
import { cpSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { SyncReport } from '../../src/core/engine/sync-session.js'
import { LineChild } from '../helpers/line-child.js'
import { createNatTopology, natUnavailableReason, type NatHome, type NatTopology } from '../helpers/nat.js'
import { REPO_ROOT, Scratch, addMemberCopy, contactNames, requireBuilt } from './helpers.js'

const reason = natUnavailableReason()
if (reason !== undefined) console.warn(`skipping orbit webrtc across NATs: ${reason}`)

const ORBIT = join(REPO_ROOT, 'bin/orbit.js')

describe.skipIf(reason !== undefined)('orbit webrtc across NATs (network namespaces, coturn)', () => {
  const scratch = new Scratch()
  const scratchTemplate = new Scratch()
  let topology: NatTopology | undefined

  afterEach(async () => {
    // Kills the CLI children and coturn by pid, then deletes the namespaces; then the data dirs.
    await topology?.destroy()
    topology = undefined
    await scratch.cleanup()
  })

  // A (founder) and B (a second member), set up once, offline, in the root namespace, each with
  // one contact of its own; every test syncs fresh copies of them.
  let template: { a: string; b: string; aId: string; bId: string } | undefined
  beforeAll(async () => {
    requireBuilt()
    const root = scratchTemplate.root()
    const a = join(root, 'a')
    const b = join(root, 'b')
    const aId = (await scratchTemplate.json<{ deviceId: string }>(a, ['init', '--name', 'Alpha'])).deviceId
    const bId = await addMemberCopy(a, b, 'Beta')
    await scratchTemplate.json(a, ['contact', 'add', '--name', 'Ada Lovelace'])
    await scratchTemplate.json(b, ['contact', 'add', '--name', 'Grace Hopper'])
    template = { a, b, aId, bId }
  })
  afterAll(() => scratchTemplate.cleanup())

  function devices(): { a: string; b: string; aId: string; bId: string } {
    const root = scratch.root()
    const a = join(root, 'a')
    const b = join(root, 'b')
    cpSync(template!.a, a, { recursive: true })
    cpSync(template!.b, b, { recursive: true })
    return { ...template!, a, b }
  }

  /** `orbit --data DIR --json ARGS` inside a home namespace. */
  function orbitIn(t: NatTopology, home: NatHome, dir: string, args: readonly string[]): LineChild {
    const env: NodeJS.ProcessEnv = { ...process.env, ORBIT_LOG_LEVEL: process.env.ORBIT_TEST_LOG ?? 'silent' }
    delete env.ORBIT_HOME
    return new LineChild(t.spawnIn(home.ns, process.execPath, [ORBIT, '--data', dir, '--json', ...args], { cwd: REPO_ROOT, env }))
  }

  /** A offers, B answers, A takes the answer on stdin: both exit 0 and their reports are returned. */
  async function syncAcross(t: NatTopology, a: string, b: string, ice: readonly string[]): Promise<{ reportA: SyncReport; reportB: SyncReport }> {
    const iceArgs = ice.flatMap((spec) => ['--ice', spec])
    const offering = orbitIn(t, t.a, a, ['webrtc', 'offer', ...iceArgs])
    const offer = JSON.parse(await offering.line(0)) as { code: string }
    const answering = orbitIn(t, t.b, b, ['webrtc', 'answer', offer.code, ...iceArgs])
    const answer = JSON.parse(await answering.line(0)) as { code: string }
    offering.write(answer.code + '\n')
    const [ra, rb] = await Promise.all([offering.exited, answering.exited])
    expect(ra.code, `offer: ${ra.stdout}\n${ra.stderr}`).toBe(0)
    expect(rb.code, `answer: ${rb.stdout}\n${rb.stderr}`).toBe(0)
    return { reportA: JSON.parse(await offering.line(1)) as SyncReport, reportB: JSON.parse(await answering.line(1)) as SyncReport }
  }

  function expectCompleted(report: SyncReport, peer: string): void {
    expect(report).toMatchObject({ method: 'webrtc', status: 'completed', peer: { deviceId: peer } })
    expect(report.changesSent).toBeGreaterThan(0)
    expect(report.changesReceived).toBeGreaterThan(0)
    expect(report.documents).toBeGreaterThan(1)
  }

  it('syncs through STUN-discovered candidates: each side reaches the other at its NAT’s public address', async () => {
    topology = await createNatTopology()
    const t = topology
    const { a, b, aId, bId } = devices()

    const { reportA, reportB } = await syncAcross(t, a, b, [t.stunSpec])

    expectCompleted(reportA, bId)
    expectCompleted(reportB, aId)
    // The homes' private addresses are unroutable from each other: the path runs between the NATs'
    // public sides, learned from STUN (srflx) or from the peer's first check (prflx).
    for (const [report, other] of [
      [reportA, t.b],
      [reportB, t.a],
    ] as const) {
      expect(['srflx', 'prflx']).toContain(report.peer.candidateType)
      expect(report.peer.address).toMatch(new RegExp(`^${other.publicIp.replaceAll('.', '\\.')}:\\d+$`))
    }
    expect(await contactNames(scratch, a)).toEqual(['Ada Lovelace', 'Grace Hopper'])
    expect(await contactNames(scratch, b)).toEqual(['Ada Lovelace', 'Grace Hopper'])
  })

  it('syncs through the TURN relay when direct UDP between the NATs is dropped', async () => {
    topology = await createNatTopology()
    const t = topology
    await t.blockDirect()
    const { a, b, aId, bId } = devices()

    const { reportA, reportB } = await syncAcross(t, a, b, [t.stunSpec, t.turnSpec])

    expectCompleted(reportA, bId)
    expectCompleted(reportB, aId)
    // The report names the remote candidate: at least one side reached the other through a relay
    // address on coturn (the other may see the relayed peer's srflx address).
    const relayed = [reportA, reportB].filter((r) => r.peer.candidateType === 'relay')
    expect(relayed.length, JSON.stringify([reportA.peer, reportB.peer])).toBeGreaterThan(0)
    for (const r of relayed) expect(r.peer.address).toMatch(new RegExp(`^${t.serverIp.replaceAll('.', '\\.')}:\\d+$`))
    expect(await contactNames(scratch, a)).toEqual(['Ada Lovelace', 'Grace Hopper'])
    expect(await contactNames(scratch, b)).toEqual(['Ada Lovelace', 'Grace Hopper'])
  })
})

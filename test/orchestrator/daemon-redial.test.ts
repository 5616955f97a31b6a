/**
 * The orchestrator for real: two `orbit serve` child processes on 127.0.0.1 with mDNS off.
 * B is stopped and restarted on the same port; A's daemon redials it by itself (its background
 * loop, with backoff — no `orbit sync` in between) and an edit made on A while B was down reaches
 * B. `orbit sync DEVICE --json` reports the tier that served and the skipped ones; with B down it
 * exits 1 and prints the commands that carry a code instead.
 *
 * So that the redial is provably A's, B knows no address for A (cleared from its config after
 * pairing: a device only A can dial, as behind a firewall that allows only inbound), and A learns
 * B's address once by `orbit sync HOST:PORT`, as a user would where multicast is blocked.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { openDevice } from '../../src/apps/node/device.js'
import { KNOWN_PEERS_KEY, readKnownPeers } from '../../src/apps/node/known-peers.js'
import { Scratch, contactNames, orbit, orbitJson, requireBuilt } from '../daemon/helpers.js'

interface Ready {
  listen: string
  deviceId: string
  invite?: { code: string }
}

const scratch = new Scratch()
afterEach(() => scratch.cleanup())
beforeAll(requireBuilt)

const SERVE = ['--listen', '127.0.0.1:0', '--no-mdns']

/** Polls `check` until it holds (the test's own timeout bounds the wait; nothing is timed). */
async function eventually(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 200))
}

describe('the daemon redials by itself (orchestrator loop)', () => {
  it('B restarts on the same port: A relinks with backoff and an edit made while B was down reaches B; sync reports tiers and skips', async () => {
    const a = scratch.dir()
    const serveA = scratch.serve(a, ['--name', 'Alpha', ...SERVE])
    const readyA = (await serveA.ready) as unknown as Ready

    const b = scratch.dir()
    await orbitJson(b, ['init', '--name', 'Beta'])
    await orbitJson(b, ['pair', 'join', readyA.invite!.code])
    // B forgets where A is: from now on only A's dialling can bring the two together.
    const deviceB = await openDevice(b)
    const idB = deviceB.identity.deviceId
    deviceB.config.set(KNOWN_PEERS_KEY, {})
    await deviceB.close()

    let serveB = scratch.serve(b, SERVE)
    const readyB = (await serveB.ready) as unknown as Ready
    const port = readyB.listen.split(':').at(-1)!

    // A learns B's address once; the link it opens is kept.
    const first = await orbitJson<Record<string, unknown>>(a, ['sync', readyB.listen])
    expect(first).toMatchObject({ method: 'local-network', status: 'completed', peer: { deviceId: idB } })

    // By device id, through A's orchestrator: the live LAN link serves, nothing skipped before it.
    const linked = await orbitJson<Record<string, unknown>>(a, ['sync', idB.slice(0, 10)])
    expect(linked).toMatchObject({ method: 'local-network', status: 'completed', via: `127.0.0.1:${port}`, skipped: [] })

    // B goes down.
    expect(await serveB.stop()).toBe(0)

    // With B down: exit 1, each tier skipped with its reason, and the commands to carry a code.
    const down = await orbit(['--data', a, '--json', 'sync', idB])
    expect(down.code).toBe(1)
    const report = JSON.parse(down.stdout) as { status: string; error: { code: string }; skipped: Array<{ method: string; reason: string }>; commands: string[] }
    expect(report).toMatchObject({ status: 'error', error: { code: 'NO_ROUTE' } })
    expect(report.skipped.map((s) => [s.method, s.reason])).toEqual([
      ['local-network', 'offline'],
      ['webrtc', 'needs-code'],
      ['qr-code', 'needs-code'],
    ])
    expect(report.commands.join('\n')).toContain(`qr export --for ${idB}`)
    expect(report.commands.join('\n')).toContain('webrtc offer')
    const human = await orbit(['--data', a, 'sync', idB])
    expect(human.code).toBe(1)
    expect(human.stdout).toContain(`orbit --data ${a} qr export --for ${idB} --out`)
    expect(human.stdout).toContain(`orbit --data ${a} webrtc offer`)
    expect(human.stdout).toMatch(/LAN: offline/)

    // An edit on A while B is down (A's daemon writes it).
    await orbitJson(a, ['contact', 'add', '--name', 'Made While B Was Down'])

    // B comes back on the same port. It knows no address for A: A's loop must find it.
    serveB = scratch.serve(b, ['--listen', `127.0.0.1:${port}`, '--no-mdns'])
    await serveB.ready
    await eventually(async () => (await contactNames(b)).includes('Made While B Was Down'))
    const peersA = await orbitJson<{ peers: Array<{ deviceId: string; connected: boolean }> }>(a, ['peers'])
    expect(peersA.peers.find((p) => p.deviceId === idB)).toMatchObject({ connected: true })
    // B never dialled A: its config still holds no address for A (a dial would have remembered one).
    expect(await serveB.stop()).toBe(0)
    const after = await openDevice(b)
    expect(readKnownPeers(after.config)[readyA.deviceId]).toBeUndefined()
    await after.close()
  }, 180_000)
})

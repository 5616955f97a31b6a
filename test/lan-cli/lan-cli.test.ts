/**
 * The LAN scenarios of issue 3 with the `orbit` CLI as real child processes in network
 * namespaces (README.md, "Development": network tests): three devices discover each other over mDNS, pair, edit offline
 * with conflicts, come back and converge; a fourth, unpaired device sees the advertisements but
 * gets no data and writes nothing; a link cut during a sync (iptables DROP) and restored converges.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { openDevice } from '../../src/apps/node/device.js'
import { createLan, netnsUnavailableReason, type Lan } from '../helpers/netns.js'
import { Scratch, contactNames, orbit, orbitJson, requireBuilt, type Spawner } from '../daemon/helpers.js'

const skip = netnsUnavailableReason()
if (skip) console.warn(`skipping LAN CLI tests: ${skip}`)

const PORT = 7878

interface Ready {
  deviceId: string
  invite?: { code: string }
}
interface PeerRow {
  deviceId: string
  paired: boolean
  connected: boolean
  discovered: boolean
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
/** JSON with object keys sorted (a map's key order is not part of its value). */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as object).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
  )
const t0 = Date.now()
/** Progress on stderr with ORBIT_TEST_TRACE=1 (where a slow run spends its time). */
const step = (what: string): void => {
  if (process.env.ORBIT_TEST_TRACE) console.error(`[lan-cli ${((Date.now() - t0) / 1000).toFixed(1)}s] ${what}`)
}

/** Polls `check` until it returns a value (the test's timeout bounds it: no timed assertion). */
async function until<T>(check: () => Promise<T | undefined>, pause = 500): Promise<T> {
  for (;;) {
    const value = await check().catch(() => undefined)
    if (value !== undefined) return value
    await sleep(pause)
  }
}

describe.skipIf(skip !== undefined)('orbit CLI on a namespace LAN', () => {
  let lan: Lan | undefined
  const scratch = new Scratch()
  beforeAll(requireBuilt)
  afterEach(async () => {
    await scratch.cleanup()
    await lan?.destroy()
    lan = undefined
  })

  const inNs = (i: number): Spawner => (cmd, args, options) => lan!.spawnIn(lan!.devices[i]!.ns, cmd, args, options)
  const serveArgs = (i: number): string[] => ['--listen', `${lan!.devices[i]!.ip}:${PORT}`, '--interface', lan!.devices[i]!.ip]
  const peersOf = async (dir: string): Promise<PeerRow[]> => (await orbitJson<{ peers: PeerRow[] }>(dir, ['peers'])).peers

  it('three devices discover each other, pair, edit offline with conflicts, reconnect and converge; an unpaired fourth gets nothing', async () => {
    lan = await createLan({ devices: 4 })
    const dirs = [0, 1, 2, 3].map(() => scratch.dir())
    // Device 0 starts first ("start a device"): initialises itself and prints an invite.
    const d0 = scratch.serve(dirs[0]!, ['--name', 'D0', ...serveArgs(0)], inNs(0))
    const ready0 = (await d0.ready) as unknown as Ready
    const ids = [ready0.deviceId]
    for (const i of [1, 2]) {
      await orbitJson(dirs[i]!, ['init', '--name', `D${i}`])
      const code = i === 1 ? ready0.invite!.code : (await orbitJson<{ code: string }>(dirs[0]!, ['pair', 'invite'])).code
      await orbitJson(dirs[i]!, ['pair', 'join', code], { spawner: inNs(i) })
    }
    await orbitJson(dirs[3]!, ['init', '--name', 'Intruder'])
    const daemons = [d0, ...[1, 2, 3].map((i) => scratch.serve(dirs[i]!, serveArgs(i), inNs(i)))]
    for (const i of [1, 2, 3]) ids.push(((await daemons[i]!.ready) as unknown as Ready).deviceId)

    step('Discovery: every paired device')
    // Discovery: every paired device sees and connects to the other two; the intruder is seen, not paired.
    for (const i of [0, 1, 2]) {
      const peers = await until(async () => {
        const rows = await peersOf(dirs[i]!)
        const others = [0, 1, 2].filter((j) => j !== i).map((j) => rows.find((r) => r.deviceId === ids[j]))
        return others.every((r) => r?.paired && r.connected && r.discovered) && rows.some((r) => r.deviceId === ids[3] && r.discovered) ? rows : undefined
      })
      expect(peers.find((r) => r.deviceId === ids[3])).toMatchObject({ paired: false, connected: false })
    }
    const intruderView = await peersOf(dirs[3]!)
    expect(intruderView.filter((r) => r.discovered).length).toBeGreaterThanOrEqual(3)
    expect(intruderView.every((r) => !r.paired && !r.connected)).toBe(true)

    step('A shared contact, synced')
    // A shared contact, written through D0's running daemon, reaches everyone while online.
    await orbitJson(dirs[0]!, ['contact', 'add', '--name', 'Shared'])
    const shared = await until(async () => {
      const lists = await Promise.all([1, 2].map((i) => orbitJson<{ contacts: { id: string; name: string }[] }>(dirs[i]!, ['contact', 'list'])))
      return lists.every((l) => l.contacts.some((c) => c.name === 'Shared')) ? lists[0]!.contacts.find((c) => c.name === 'Shared')! : undefined
    })

    step('Offline: every paired daemon stops')
    // Offline: every paired daemon stops; each device edits on its own, conflicting on one contact.
    for (const i of [0, 1, 2]) expect(await daemons[i]!.stop()).toBe(0)
    for (const i of [0, 1, 2]) {
      await orbitJson(dirs[i]!, ['contact', 'edit', shared.id, '--title', `title-from-D${i}`, '--add-tag', `t${i}`])
      await orbitJson(dirs[i]!, ['contact', 'add', '--name', `Offline ${i}`])
    }
    await orbitJson(dirs[3]!, ['contact', 'add', '--name', 'Planted'])

    step('Back online:')
    // Back online: they find each other again and converge.
    for (const i of [0, 1, 2]) daemons[i] = scratch.serve(dirs[i]!, serveArgs(i), inNs(i))
    await Promise.all([0, 1, 2].map((i) => daemons[i]!.ready))
    const expected = ['Offline 0', 'Offline 1', 'Offline 2', 'Shared']
    const finalViews = await until(async () => {
      const views = await Promise.all([0, 1, 2].map((i) => orbitJson<{ title?: string; tags: Record<string, true> }>(dirs[i]!, ['contact', 'show', shared.id])))
      const names = await Promise.all([0, 1, 2].map((i) => contactNames(dirs[i]!)))
      const same = views.every((v) => canonical(v) === canonical(views[0]))
      step(`converging: ${JSON.stringify(names)} ${JSON.stringify(views.map((v) => [v.title, Object.keys(v.tags)]))}`)
      return same && names.every((n) => JSON.stringify(n) === JSON.stringify(expected)) && Object.keys(views[0]!.tags).length === 3 ? views : undefined
    })
    expect(['title-from-D0', 'title-from-D1', 'title-from-D2']).toContain(finalViews[0]!.title)
    expect(Object.keys(finalViews[0]!.tags).sort()).toEqual(['t0', 't1', 't2'])

    step('The unpaired device got nothing')
    // The unpaired device got nothing and wrote nothing anywhere.
    expect(await contactNames(dirs[3]!)).toEqual(['Planted'])
    const refused = await orbit(['--data', dirs[3]!, '--json', 'sync', `${lan.devices[0]!.ip}:${PORT}`], { spawner: inNs(3) })
    expect(refused.code).toBe(1)
    for (const i of [0, 1, 2]) {
      expect(await contactNames(dirs[i]!)).not.toContain('Planted')
      const devices = await orbitJson<{ devices: { id: string }[] }>(dirs[i]!, ['device', 'list'])
      expect(devices.devices.map((d) => d.id)).not.toContain(ids[3])
    }
  }, 300_000)

  it('a link cut during a sync and restored converges', async () => {
    lan = await createLan({ devices: 2 })
    const [a, b] = [scratch.dir(), scratch.dir()]
    await orbitJson(a, ['init', '--name', 'A'])
    // Enough data that the first sync is still running when the link goes down.
    const device = await openDevice(a)
    const N = 3000
    try {
      for (let i = 0; i < N; i += 500) {
        await device.workspace.addContacts(Array.from({ length: 500 }, (_, k) => ({ name: `Contact ${i + k}`, emails: [`c${i + k}@example.com`] })))
      }
    } finally {
      await device.close()
    }
    const da = scratch.serve(a, serveArgs(0), inNs(0))
    await da.ready
    await orbitJson(b, ['init', '--name', 'B'])
    const code = (await orbitJson<{ code: string }>(a, ['pair', 'invite'])).code
    // The join's own first sync is cut mid-way: it fails or completes; either way, B is paired.
    const join = orbit(['--data', b, '--json', 'pair', 'join', code, '--timeout', '120s'], { spawner: inNs(1) })
    await sleep(1500)
    await lan.cutLink(1)
    await sleep(3000)
    await lan.restoreLink(1)
    const joined = await join
    if (joined.code !== 0) {
      // Paired but not fully synced: the next sync completes it.
      const r = await orbit(['--data', b, '--json', 'sync', `${lan.devices[0]!.ip}:${PORT}`, '--timeout', '120s'], { spawner: inNs(1) })
      expect(r.code, r.stderr).toBe(0)
    }
    // B's daemon keeps syncing; cut again while it runs, restore, and it converges.
    const dbd = scratch.serve(b, serveArgs(1), inNs(1))
    await dbd.ready
    await orbitJson(a, ['contact', 'add', '--name', 'After the cut'])
    await lan.cutLink(1)
    await sleep(2000)
    await lan.restoreLink(1)
    const total = await until(async () => {
      const page = await orbitJson<{ total: number }>(b, ['contact', 'list', '--limit', '1'])
      const names = await orbitJson<{ contacts: { name: string }[] }>(b, ['contact', 'list', '--query', 'After the cut'])
      return page.total === N + 1 && names.contacts.length === 1 ? page.total : undefined
    }, 1000)
    expect(total).toBe(N + 1)
  }, 300_000)
})

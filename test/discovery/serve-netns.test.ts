/**
 * Discovery on by default, with real `orbit serve` children in network namespaces (never eth0):
 * no --interface, no --no-mdns. Two paired daemons find each other on the namespace's lan0 and
 * sync; a daemon started while its interface has no address starts discovering when the address
 * comes (no restart); a forged announcement for a member neither renames nor re-ports it, and the
 * address that forged it is quarantined with a typed warning.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { callDaemonIfRunning } from '../../src/apps/control/client.js'
import { createLan, netnsUnavailableReason, type Lan } from '../helpers/netns.js'
import { Scratch, contactNames, orbitJson, requireBuilt, type Spawner } from '../daemon/helpers.js'
import { PEERS_DIR } from '../lan/peer-process.js'

const skip = netnsUnavailableReason()
if (skip) console.warn(`skipping discovery namespace tests: ${skip}`)

interface Ready {
  deviceId: string
  invite?: { code: string; addresses?: string[] }
  mdns: unknown
}
interface PeerRow {
  deviceId: string
  name: string
  addresses: string[]
  paired: boolean
  connected: boolean
  discovered: boolean
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
/** Polls `check` until it returns a value (the test's timeout bounds it: no timed assertion). */
async function until<T>(check: () => Promise<T | undefined>, pause = 300): Promise<T> {
  for (;;) {
    const value = await check().catch(() => undefined)
    if (value !== undefined) return value
    await sleep(pause)
  }
}

describe.skipIf(skip !== undefined)('orbit serve discovers by default (network namespaces)', () => {
  let lan: Lan | undefined
  const scratch = new Scratch()
  beforeAll(requireBuilt)
  afterEach(async () => {
    await scratch.cleanup()
    await lan?.destroy()
    lan = undefined
  })

  /** Runs in device i's namespace; `warn` logs on stderr for the daemons whose warnings we read. */
  const inNs =
    (i: number, log = 'silent'): Spawner =>
    (cmd, args, options) =>
      lan!.spawnIn(lan!.devices[i]!.ns, cmd, args, { ...options, env: { ...options.env, ORBIT_LOG_LEVEL: log } })
  const peersOf = async (dir: string): Promise<PeerRow[]> => (await orbitJson<{ peers: PeerRow[] }>(dir, ['peers'])).peers
  const mdnsOf = async (dir: string): Promise<unknown> => ((await callDaemonIfRunning(dir, 'status', {}))?.result as { mdns: unknown }).mdns

  /** Device 0 serves (default flags) and invites; device 1 joins. */
  async function pair(): Promise<{ a: string; b: string; ready0: Ready }> {
    const [a, b] = [scratch.dir(), scratch.dir()]
    const d0 = scratch.serve(a, ['--name', 'A'], inNs(0))
    const ready0 = (await d0.ready) as unknown as Ready
    await orbitJson(b, ['init', '--name', 'B'])
    await orbitJson(b, ['pair', 'join', ready0.invite!.code], { spawner: inNs(1) })
    return { a, b, ready0 }
  }

  it('two daemons without --interface or --no-mdns find each other on lan0 and sync; the invite carries lan0’s address', async () => {
    lan = await createLan({ devices: 2 })
    const [n0, n1] = lan.devices
    const { a, b, ready0 } = await pair()
    expect(ready0.mdns).toEqual({ interfaces: [{ name: 'lan0', address: n0!.ip }] })
    expect(ready0.invite!.addresses).toEqual([`${n0!.ip}:7878`])
    const d1 = scratch.serve(b, [], inNs(1))
    const ready1 = (await d1.ready) as unknown as Ready
    expect(ready1.mdns).toEqual({ interfaces: [{ name: 'lan0', address: n1!.ip }] })

    // Both see the other as discovered (mDNS: the store's port comes only from an announcement) and connected.
    for (const [dir, other] of [[a, ready1.deviceId], [b, ready0.deviceId]] as const) {
      await until(async () => ((await peersOf(dir)).some((r) => r.deviceId === other && r.discovered && r.connected && r.paired) ? true : undefined))
    }
    await orbitJson(a, ['contact', 'add', '--name', 'Found by mDNS'])
    await until(async () => ((await contactNames(b)).includes('Found by mDNS') ? true : undefined))
  }, 120_000)

  it('a daemon started while its interface has no address starts discovering when the address comes, without a restart', async () => {
    lan = await createLan({ devices: 2 })
    const [, n1] = lan.devices
    const { a, b, ready0 } = await pair()
    // Device 1 loses its address (as a laptop between networks), and its daemon starts like that.
    await lan.exec(n1!.ns, 'ip', ['addr', 'flush', 'dev', 'lan0'])
    const d1 = scratch.serve(b, [], inNs(1))
    const ready1 = (await d1.ready) as unknown as Ready
    expect(ready1.mdns).toMatchObject({ interfaces: [] })
    expect((ready1.mdns as { reason: string }).reason).toMatch(/^no usable interface/)
    await orbitJson(a, ['contact', 'add', '--name', 'After the move'])

    // The address comes (DHCP): the daemon's poll starts mDNS on lan0, finds A and syncs.
    const addedAt = Date.now()
    await lan.exec(n1!.ns, 'ip', ['addr', 'add', `${n1!.ip}/24`, 'dev', 'lan0'])
    await lan.exec(n1!.ns, 'ip', ['route', 'replace', '224.0.0.0/4', 'dev', 'lan0'])
    await until(async () => (JSON.stringify(await mdnsOf(b)) === JSON.stringify({ interfaces: [{ name: 'lan0', address: n1!.ip }] }) ? true : undefined))
    const followedAt = Date.now()
    await until(async () => ((await peersOf(b)).some((r) => r.deviceId === ready0.deviceId && r.discovered && r.connected) ? true : undefined))
    await until(async () => ((await contactNames(b)).includes('After the move') ? true : undefined))
    // For the record (not asserted): polling is every 3 s; the CLI round trips add to these.
    console.info(`address added → mDNS on it: ${followedAt - addedAt} ms; → synced: ${Date.now() - addedAt} ms`)
    expect(d1.child.exitCode).toBeNull() // the same process throughout
  }, 120_000)

  it('a forged announcement for a member neither renames nor re-ports it; the forging address is quarantined with a typed warning', async () => {
    lan = await createLan({ devices: 3 })
    const [, n1, n2] = lan.devices
    const { a, b } = await pair()
    const d0 = scratch.daemons[0]!
    await d0.stop()
    // A again, with warnings on stderr; B; and on device 2 an unpaired device of its own (another key).
    const dA = scratch.serve(a, [], inNs(0, 'warn'))
    await dA.ready
    const ready1 = (await scratch.serve(b, [], inNs(1)).ready) as unknown as Ready
    const c = scratch.dir()
    await orbitJson(c, ['init', '--name', 'Mallory'])
    await scratch.serve(c, ['--no-mdns'], inNs(2)).ready
    const bRow = (rows: PeerRow[]): PeerRow | undefined => rows.find((r) => r.deviceId === ready1.deviceId)
    await until(async () => (bRow(await peersOf(a))?.connected ? true : undefined))

    // Device 2 announces B's device id with its own address, another name and, later, another port.
    const forge = async (port: number): Promise<void> => {
      const child = lan!.spawnIn(n2!.ns, process.execPath, [
        `${PEERS_DIR}/forge.mjs`,
        JSON.stringify({ ip: n2!.ip, instance: ready1.deviceId, port, txt: [`id=${ready1.deviceId}`, 'name=Evil twin', 'pv=1'] }),
      ])
      await new Promise((r) => child.once('exit', r))
    }
    await forge(7878)
    // A dials the forged address expecting B's key, Mallory's key answers: refuted, quarantined, logged.
    const warning = await until(async () =>
      dA.stderr.split('\n').find((l) => l.includes('FORGED_ANNOUNCEMENT') && l.includes(n2!.ip)),
    )
    expect(JSON.parse(warning)).toMatchObject({ name: 'WireError', code: 'FORGED_ANNOUNCEMENT', deviceId: ready1.deviceId, address: n2!.ip, handshake: 'UNEXPECTED_PEER' })
    await forge(7000)
    await forge(7001)
    const row = bRow(await peersOf(a))!
    expect(row).toMatchObject({ name: 'B', connected: true, paired: true })
    expect(row.addresses.every((x) => x.startsWith(`${n1!.ip}:`))).toBe(true)
    expect(row.addresses).toContain(`${n1!.ip}:7878`)
    // Quarantined: one warning, however often it repeats the claim.
    expect(dA.stderr.split('\n').filter((l) => l.includes('FORGED_ANNOUNCEMENT'))).toHaveLength(1)
    // Nothing reached Mallory.
    expect(await contactNames(c)).toEqual([])
  }, 120_000)
})

/**
 * A forged mDNS record for a member, repeated, pointing at an address that answers but proves
 * nothing (it accepts and hangs up: no key, so no quarantine) — real packets on a namespace LAN,
 * real `orbit serve` children; each announcement with a new port (docs/protocol/lan.md, "TXT record" and "Limits"). The daemon tries
 * such an announced endpoint with a backoff (5 s, doubling), not at the forger's pace; the
 * member's name and link are untouched and its sync goes on. While the member is offline, the same
 * backoff holds the orchestrator's dials too: an announcement whose every address is backed off
 * pokes nothing, and the member, once back, connects. Quarantine of an address that proves
 * another key is test/discovery/serve-netns.test.ts.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createLan, netnsUnavailableReason, type Lan } from '../helpers/netns.js'
import { Scratch, contactNames, orbitJson, requireBuilt, type Spawner } from '../daemon/helpers.js'
import { PEERS_DIR } from '../lan/peer-process.js'

const skip = netnsUnavailableReason()
if (skip) console.warn(`skipping forged mDNS redial test: ${skip}`)

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
async function until(check: () => Promise<boolean>, pause = 300): Promise<void> {
  while (!(await check().catch(() => false))) await sleep(pause)
}

/** Accepts TCP on `ip`, ports 7000–7019, hangs up at once, prints a line per connection. */
const HANG_UP = `
const [ip] = process.argv.slice(1)
let up = 0
for (let p = 7000; p < 7020; p++) require('node:net').createServer((s) => { process.stdout.write('conn\\n'); s.destroy() }).listen(p, ip, () => { if (++up === 20) process.stdout.write('listening\\n') })
`

describe.skipIf(skip !== undefined)('a repeated forged announcement is not dialled at the forger’s pace (network namespaces)', () => {
  let lan: Lan | undefined
  const scratch = new Scratch()
  beforeAll(requireBuilt)
  afterEach(async () => {
    await scratch.cleanup()
    await lan?.destroy()
    lan = undefined
  })

  const inNs =
    (i: number): Spawner =>
    (cmd, args, options) =>
      lan!.spawnIn(lan!.devices[i]!.ns, cmd, args, options)

  /** Device 2 announces `deviceId` at its own address and `port`, under another name. */
  const forge = async (port: number, deviceId: string): Promise<void> => {
    const n2 = lan!.devices[2]!
    const child = lan!.spawnIn(n2.ns, process.execPath, [
      `${PEERS_DIR}/forge.mjs`,
      JSON.stringify({ ip: n2.ip, instance: deviceId, port, txt: [`id=${deviceId}`, 'name=Evil twin', 'pv=1'] }),
    ])
    await new Promise((r) => child.once('exit', r))
  }

  /** Starts the hang-up listener on device 2; `dials()` counts the connections it accepted. */
  async function hangUpListener(ip: string): Promise<{ dials: () => number }> {
    const listener = lan!.spawnIn(lan!.devices[2]!.ns, process.execPath, ['-e', HANG_UP, ip])
    let buffered = ''
    await new Promise<void>((resolve) =>
      listener.stdout!.setEncoding('utf8').on('data', (s: string) => {
        buffered += s
        if (buffered.includes('listening')) resolve()
      }),
    )
    return { dials: () => buffered.split('\n').filter((l) => l === 'conn').length }
  }

  /** A on device 0 and B on device 1, paired, both serving, linked; `bRow` is A's `orbit peers` row for B. */
  async function pairedAB() {
    lan = await createLan({ devices: 3 })
    const [a, b] = [scratch.dir(), scratch.dir()]
    const ready0 = (await scratch.serve(a, ['--name', 'A', '--no-http'], inNs(0)).ready) as unknown as { invite: { code: string } }
    await orbitJson(b, ['init', '--name', 'B'])
    await orbitJson(b, ['pair', 'join', ready0.invite.code], { spawner: inNs(1) })
    const serveB = scratch.serve(b, ['--no-http'], inNs(1))
    const bId = ((await serveB.ready) as unknown as { deviceId: string }).deviceId
    const bRow = async (): Promise<{ name: string; connected: boolean } | undefined> =>
      (await orbitJson<{ peers: Array<{ deviceId: string; name: string; connected: boolean }> }>(a, ['peers'])).peers.find((r) => r.deviceId === bId)
    await until(async () => (await bRow())?.connected === true)
    return { a, b, serveB, bId, bRow, forger: lan.devices[2]! }
  }

  it('12 announcements, each with a new port, of an address that proves nothing: a handful of dials, the member untouched', async () => {
    const { a, b, bId, bRow, forger } = await pairedAB()

    const listener = await hangUpListener(forger.ip)
    // A new port each time: each announcement changes the endpoint, so each one is news.
    for (let i = 0; i < 12; i++) {
      await forge(7000 + i, bId)
      await sleep(500)
    }
    const dials = listener.dials()
    console.info(`forged endpoint announced 12 times; dialled ${dials} times`)
    // Tried (it is only a hint until a handshake proves it), then backed off: 5 s, then 10 s.
    expect(dials).toBeGreaterThanOrEqual(1)
    expect(dials).toBeLessThanOrEqual(4)
    expect(await bRow()).toMatchObject({ name: 'B', connected: true })
    await orbitJson(b, ['contact', 'add', '--name', 'Still syncing'])
    await until(async () => (await contactNames(a)).includes('Still syncing'))
  }, 120_000)

  it('while the member is offline, 16 forged announcements (a new port each) of an address that proves nothing: the backoff bounds the dials, and the member connects when it is back', async () => {
    const { a, b, serveB, bId, bRow, forger } = await pairedAB()
    // B goes offline (its goodbye takes its own address out of A's discovery).
    expect(await serveB.stop()).toBe(0)
    await until(async () => (await bRow())?.connected === false)

    const listener = await hangUpListener(forger.ip)
    for (let i = 0; i < 16; i++) {
      await forge(7000 + i, bId)
      await sleep(500)
    }
    const dials = listener.dials()
    console.info(`member offline, forged endpoint announced 16 times; dialled ${dials} times`)
    // Each announcement used to poke the orchestrator, which dialled it at once (16 or more).
    // Now: the first, then once its 5 s backoff is over (then 10 s), and the loop skips it meanwhile.
    expect(dials).toBeGreaterThanOrEqual(1)
    expect(dials).toBeLessThanOrEqual(4)

    // B comes back: it connects, and syncs.
    await scratch.serve(b, ['--no-http'], inNs(1)).ready
    await until(async () => (await bRow())?.connected === true)
    await orbitJson(b, ['contact', 'add', '--name', 'Back again'])
    await until(async () => (await contactNames(a)).includes('Back again'))
  }, 120_000)
})

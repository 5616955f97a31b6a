/**
 * A forged mDNS record for a member, repeated, pointing at an address that answers but proves
 * nothing (it accepts and hangs up: no key, so no quarantine) — real packets on a namespace LAN,
 * real `orbit serve` children; each announcement with a new port (docs/protocol/lan.md, "TXT record" and "Limits"). The daemon tries
 * such an announced endpoint with a backoff (5 s, doubling), not at the forger's pace; the
 * member's name and link are untouched and its sync goes on. Quarantine of an address that proves
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

  it('12 announcements, each with a new port, of an address that proves nothing: a handful of dials, the member untouched', async () => {
    lan = await createLan({ devices: 3 })
    const [, , n2] = lan.devices
    const [a, b] = [scratch.dir(), scratch.dir()]
    const ready0 = (await scratch.serve(a, ['--name', 'A', '--no-http'], inNs(0)).ready) as unknown as { invite: { code: string } }
    await orbitJson(b, ['init', '--name', 'B'])
    await orbitJson(b, ['pair', 'join', ready0.invite.code], { spawner: inNs(1) })
    const ready1 = (await scratch.serve(b, ['--no-http'], inNs(1)).ready) as unknown as { deviceId: string }
    const bRow = async (): Promise<{ name: string; connected: boolean } | undefined> =>
      (await orbitJson<{ peers: Array<{ deviceId: string; name: string; connected: boolean }> }>(a, ['peers'])).peers.find((r) => r.deviceId === ready1.deviceId)
    await until(async () => (await bRow())?.connected === true)

    const listener = lan.spawnIn(n2!.ns, process.execPath, ['-e', HANG_UP, n2!.ip])
    let dials = 0
    let buffered = ''
    await new Promise<void>((resolve) =>
      listener.stdout!.setEncoding('utf8').on('data', (s: string) => {
        buffered += s
        if (buffered.includes('listening')) resolve()
        dials = buffered.split('\n').filter((l) => l === 'conn').length
      }),
    )
    // A new port each time: each announcement changes the endpoint, so each one is news.
    const forge = async (port: number): Promise<void> => {
      const child = lan!.spawnIn(n2!.ns, process.execPath, [
        `${PEERS_DIR}/forge.mjs`,
        JSON.stringify({ ip: n2!.ip, instance: ready1.deviceId, port, txt: [`id=${ready1.deviceId}`, 'name=Evil twin', 'pv=1'] }),
      ])
      await new Promise((r) => child.once('exit', r))
    }
    for (let i = 0; i < 12; i++) {
      await forge(7000 + i)
      await sleep(500)
    }
    console.info(`forged endpoint announced 12 times; dialled ${dials} times`)
    // Tried (it is only a hint until a handshake proves it), then backed off: 5 s, then 10 s.
    expect(dials).toBeGreaterThanOrEqual(1)
    expect(dials).toBeLessThanOrEqual(4)
    expect(await bRow()).toMatchObject({ name: 'B', connected: true })
    await orbitJson(b, ['contact', 'add', '--name', 'Still syncing'])
    await until(async () => (await contactNames(a)).includes('Still syncing'))
  }, 120_000)
})

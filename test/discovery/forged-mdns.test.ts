/**
 * The mDNS adapter against forged announcements, with real packets on a namespace LAN (never
 * eth0): another address claiming a device's id adds an endpoint with its own port, and changes
 * neither the port nor the name reported; an A record naming the real device's address does not
 * re-port it.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { fileURLToPath } from 'node:url'
import { createLan, netnsUnavailableReason, type Lan } from '../helpers/netns.js'
import { PeerProcess, assertBuiltForChildren, type PeerEvent } from '../lan/peer-process.js'

const skip = netnsUnavailableReason()
if (skip) console.warn(`skipping forged mDNS tests: ${skip}`)

const FORGE = fileURLToPath(new URL('../lan/peers/forge.mjs', import.meta.url))
const X = 'x'.repeat(32)
type Peer = { deviceId: string; deviceName: string; port: number; addresses: string[]; endpoints: Array<{ address: string; port: number }> }
const peerOf = (e: PeerEvent): Peer | undefined => (e.event === 'peer' ? (e.peer as Peer) : undefined)

describe.skipIf(skip !== undefined)('forged mDNS announcements (network namespaces)', () => {
  let lan: Lan | undefined
  beforeAll(assertBuiltForChildren, 120_000)
  afterEach(async () => {
    await lan?.destroy()
    lan = undefined
  })

  it('a claim from another address adds an endpoint and changes neither the port nor the name', async () => {
    lan = await createLan({ devices: 3 })
    const [o, real, forger] = lan.devices
    const watch = new PeerProcess(lan, o!.ns, 'discover.mjs', { interfaceAddress: o!.ip })
    await watch.waitFor((e) => e.event === 'started')
    const honest = new PeerProcess(lan, real!.ns, 'discover.mjs', { interfaceAddress: real!.ip, deviceId: X, name: 'real', port: 7400 })
    await honest.waitFor((e) => e.event === 'started')
    await watch.waitFor((e) => peerOf(e)?.deviceId === X)

    const send = async (config: Record<string, unknown>): Promise<void> => {
      const child = lan!.spawnIn(forger!.ns, process.execPath, [FORGE, JSON.stringify({ ip: forger!.ip, instance: 'evil', txt: [`id=${X}`, 'name=evil', 'pv=1'], ...config })])
      await new Promise((r) => child.once('exit', r))
    }
    await send({ port: 7000 })
    const after = await watch.waitFor((e) => (peerOf(e)?.endpoints.length ?? 0) === 2, 'the forged endpoint')
    expect(peerOf(after)).toMatchObject({
      deviceName: 'real',
      port: 7400,
      addresses: [real!.ip, forger!.ip],
      endpoints: [
        { address: real!.ip, port: 7400 },
        { address: forger!.ip, port: 7000 },
      ],
    })
    // An A record naming the real device's address, from the forger, with yet another port.
    const count = watch.events.length
    await send({ port: 7001, a: real!.ip })
    const third = await watch.waitFor((e) => watch.events.indexOf(e) >= count && peerOf(e)?.endpoints.some((x) => x.port === 7001) === true, 'the forger re-ported')
    expect(peerOf(third)).toMatchObject({
      deviceName: 'real',
      port: 7400,
      endpoints: [
        { address: real!.ip, port: 7400 },
        { address: forger!.ip, port: 7001 },
      ],
    })
  }, 60_000)
})

/**
 * Sync between devices in network namespaces, each a child process with a Repo on the TCP
 * transport (secure channel) and mDNS discovery: forged mDNS answers lead to refused handshakes,
 * and a link cut mid-sync resumes and converges once restored.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { exportIdentitySecret, generateIdentity, type DeviceIdentity } from '../../src/core/crypto/identity.js'
import { createLan, netnsUnavailableReason, type Lan } from '../helpers/netns.js'
import { PeerProcess, assertBuiltForChildren, type PeerEvent } from './peer-process.js'

const skip = netnsUnavailableReason()
if (skip) console.warn(`skipping LAN sync tests: ${skip}`)

const PORT = 7420
const hex = (identity: DeviceIdentity): string => Buffer.from(exportIdentitySecret(identity)).toString('hex')

async function converged(a: PeerProcess, b: PeerProcess, url: string, expectedCount: number): Promise<PeerEvent> {
  // Polls the two replicas until they agree; the test's timeout bounds it (no timed assertion).
  for (;;) {
    const [sa, sb] = await Promise.all([a.command({ cmd: 'state', url }), b.command({ cmd: 'state', url })])
    if (sa.count === expectedCount && JSON.stringify(sa.heads) === JSON.stringify(sb.heads)) return sb
    await new Promise((r) => setTimeout(r, 200))
  }
}

describe.skipIf(skip !== undefined)('LAN sync between namespaces', () => {
  let lan: Lan | undefined
  beforeAll(assertBuiltForChildren, 120_000)
  afterEach(async () => {
    await lan?.destroy()
    lan = undefined
  })

  it('an mDNS answer claiming a paired device at the attacker’s address ends in a refused handshake', async () => {
    lan = await createLan({ devices: 3 })
    const [honest, paired, attacker] = [generateIdentity(), generateIdentity(), generateIdentity()]
    const members = [honest.deviceId, paired.deviceId]
    const [dh, dp, da] = lan.devices
    const h = new PeerProcess(lan, dh!.ns, 'peer.mjs', { secretHex: hex(honest), name: 'honest', ip: dh!.ip, port: PORT, members, autoDial: true })
    const p = new PeerProcess(lan, dp!.ns, 'peer.mjs', { secretHex: hex(paired), name: 'paired', ip: dp!.ip, port: PORT, members })
    // The attacker runs a real device but advertises the paired device's id.
    const m = new PeerProcess(lan, da!.ns, 'peer.mjs', {
      secretHex: hex(attacker), name: 'paired', ip: da!.ip, port: PORT, members: [], advertiseAs: paired.deviceId,
    })
    await Promise.all([h, p, m].map((x) => x.waitFor((e) => e.event === 'ready')))

    const refused = await h.waitFor((e) => e.event === 'dial-failed' && e.address === da!.ip, 'dial to the attacker')
    expect(refused).toMatchObject({ name: 'HandshakeError', code: 'UNEXPECTED_PEER' })
    await h.waitFor((e) => e.event === 'dialed' && e.address === dp!.ip && e.deviceId === paired.deviceId, 'dial to the paired device')

    // Data flows to the real device only.
    const { url } = await h.command({ cmd: 'create' })
    await h.command({ cmd: 'change', url, n: 5, prefix: 'h' })
    await p.command({ cmd: 'find', url })
    await converged(h, p, url as string, 5)
    expect(m.events.filter((e) => e.event === 'session' || e.event === 'device-connected')).toEqual([])
    const fromAttacker = await m.command({ cmd: 'traffic', deviceId: honest.deviceId })
    expect(fromAttacker.traffic).toMatchObject({ messagesReceived: 0, messagesSent: 0 })
  })

  it('a link cut mid-sync (iptables DROP) resumes and converges once restored', async () => {
    lan = await createLan({ devices: 2 })
    const [ia, ib] = [generateIdentity(), generateIdentity()]
    const members = [ia.deviceId, ib.deviceId]
    const [da, db] = lan.devices
    // Short keep-alive settings so that the cut is noticed and the redial path runs.
    const fast = { mdns: false, heartbeatMs: 300, idleTimeoutMs: 1500, connectTimeoutMs: 1000, members, port: PORT }
    const a = new PeerProcess(lan, da!.ns, 'peer.mjs', { ...fast, secretHex: hex(ia), name: 'a', ip: da!.ip })
    const b = new PeerProcess(lan, db!.ns, 'peer.mjs', { ...fast, secretHex: hex(ib), name: 'b', ip: db!.ip })
    await Promise.all([a, b].map((x) => x.waitFor((e) => e.event === 'ready')))
    expect(await b.command({ cmd: 'dial', host: da!.ip, port: PORT, expectedDeviceId: ia.deviceId })).toMatchObject({ event: 'dialed' })

    const { url } = await a.command({ cmd: 'create' })
    await b.command({ cmd: 'find', url })
    // Both sides edit while the link goes down in the middle.
    const edits = Promise.all([a.command({ cmd: 'change', url, n: 1500, prefix: 'a' }), b.command({ cmd: 'change', url, n: 500, prefix: 'b' })])
    await lan.cutLink(1)
    await edits
    await a.command({ cmd: 'change', url, n: 200, prefix: 'a-offline' })
    // The silence is noticed: b drops the dead connection (and keeps redialling with backoff).
    await b.waitFor((e) => e.event === 'device-disconnected', 'b to notice the cut')
    const connectsBefore = b.events.filter((e) => e.event === 'device-connected').length
    const before = await b.command({ cmd: 'state', url })
    expect(before.count).toBeLessThan(2200) // b has not seen the offline edits
    await lan.restoreLink(1)
    const after = await converged(a, b, url as string, 2200)
    expect(after.count).toBe(2200)
    // It came back over a new connection, not by TCP retransmission on the old one.
    expect(b.events.filter((e) => e.event === 'device-connected').length).toBeGreaterThan(connectsBefore)
  })
})

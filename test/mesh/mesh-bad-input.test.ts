/**
 * Bad input at the mesh's endpoints (src/apps/node/mesh.ts over an in-memory relay, real devices
 * and werift on loopback): a relay that drops or delays the offer makes `connect` fail with a
 * typed `MESH_TIMEOUT` and no link on either side; an offer the relay forged, one from a
 * non-member, and a replayed one are refused with a typed error in the log — no answer is sent,
 * no link is made, nothing is written.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { generateIdentity } from '../../src/core/crypto/identity.js'
import type { DeviceId } from '../../src/core/ids.js'
import { membershipPolicy } from '../../src/core/engine/membership.js'
import { sealSignal } from '../../src/core/engine/mesh-signal.js'
import { SignalRelay } from '../../src/core/link/signal-relay.js'
import { openDevice, type OrbitDevice } from '../../src/apps/node/device.js'
import { Mesh } from '../../src/apps/node/mesh.js'
import { LOOPBACK_WEBRTC, threeMembers, until } from './helpers.js'
import { MemoryMesh, recordingLogger, tick, type LogRecord } from './memory-mesh.js'

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function setup(o: { cNow?: () => number } = {}) {
  const root = mkdtempSync(join(tmpdir(), 'orbit-mesh-bad-'))
  cleanups.push(() => rmSync(root, { recursive: true, force: true }))
  const m = await threeMembers(root, LOOPBACK_WEBRTC)
  const ids = m.ids as Record<'a' | 'b' | 'c', DeviceId>
  const net = new MemoryMesh()
  const records: LogRecord[] = []
  const open = async (dir: string): Promise<OrbitDevice> => {
    const d = await openDevice(dir)
    await d.workspace.loadAllShards()
    cleanups.push(() => d.close())
    return d
  }
  const [da, dc] = [await open(m.dirs.a), await open(m.dirs.c)]
  const mesh = (d: OrbitDevice, now?: () => number): Mesh => {
    const x = new Mesh({
      device: d,
      policy: membershipPolicy(d.workspace),
      ports: [net.port(d.identity.deviceId)],
      answerTimeoutMs: 1500,
      messageTtlMs: 5000,
      logger: recordingLogger(records),
      ...(now === undefined ? {} : { now }),
    })
    cleanups.push(() => x.close())
    return x
  }
  const a = mesh(da)
  const c = mesh(dc, o.cNow)
  // B is only a relay here: the forwarding rules of src/core/link/signal-relay.ts.
  const b = new SignalRelay({ self: ids.b, isMember: (id) => Object.values(ids).includes(id), deliver: () => {}, logger: recordingLogger(records) })
  b.addPort(net.port(ids.b))
  cleanups.push(() => b.close())
  net.link(ids.a, ids.b)
  net.link(ids.b, ids.c)
  await tick()
  await until(() => a.reach(ids.c)?.ok === true, 'A’s route to C')
  const refused = (code: string): LogRecord[] => records.filter((r) => r.message === 'relayed message refused' && r.fields?.code === code)
  const relaysSentBy = (id: DeviceId) => net.port(id).sent.filter((s) => s.signal.type === 'relay')
  return { ids, net, a, c, da, dc, records, refused, relaysSentBy }
}

describe('mesh signalling: bad input and bad relays', () => {
  it('a relay that drops the offer: connect fails with MESH_TIMEOUT, no link on either side', async () => {
    const { ids, net, a, c } = await setup()
    net.faults.set(`${ids.b}>${ids.c}`, 'drop')
    await expect(a.connect(ids.c)).rejects.toMatchObject({ name: 'WebRtcError', code: 'MESH_TIMEOUT' })
    expect(a.connected()).toEqual([])
    expect(c.connected()).toEqual([])
  }, 30_000)

  it('a relay that delays the offer past its expiry: A times out; C refuses it late (MESH_EXPIRED), sends nothing, links nothing', async () => {
    let skew = 0
    const { ids, net, a, c, records, relaysSentBy } = await setup({ cNow: () => Date.now() + skew })
    net.faults.set(`${ids.b}>${ids.c}`, 'hold')
    await expect(a.connect(ids.c)).rejects.toMatchObject({ code: 'MESH_TIMEOUT' })
    skew = 10_000
    net.release()
    // C's relay layer sees the expiry first (it drops before the inbox would refuse it).
    await until(() => records.some((r) => r.fields?.code === 'MESH_EXPIRED' && r.level === 'warn'), 'C’s refusal')
    expect(relaysSentBy(ids.c)).toEqual([])
    expect(c.connected()).toEqual([])
    expect(a.connected()).toEqual([])
  }, 30_000)

  it('an offer the relay forged (sealed by B, named as from A), and one replayed: refused, no answer, no link', async () => {
    const { ids, net, c, da, dc, refused, relaysSentBy } = await setup()
    const forger = generateIdentity()
    // B cannot sign as A: it seals with some key and claims the message is A's.
    const forged = sealSignal({ sender: forger, recipient: { deviceId: ids.c, publicKey: dc.identity.publicKey }, body: { type: 'offer', code: 'orbit-rtc1.x' }, now: Date.now() })
    net.port(ids.b).sendSignal(ids.c, { ...forged, from: ids.a })
    // A genuine message, delivered twice: the copy is a replay.
    const genuine = sealSignal({ sender: da.identity, recipient: { deviceId: ids.c, publicKey: dc.identity.publicKey }, body: { type: 'refuse', re: '00', code: 'X', message: 'x' }, now: Date.now() })
    net.port(ids.b).sendSignal(ids.c, { ...genuine, from: ids.a })
    net.port(ids.b).sendSignal(ids.c, { ...genuine, from: ids.a })
    // A non-member that signs correctly, relayed by a member that stamps it honestly.
    const outsider = generateIdentity()
    const alien = sealSignal({ sender: outsider, recipient: { deviceId: ids.c, publicKey: dc.identity.publicKey }, body: { type: 'offer', code: 'orbit-rtc1.y' }, now: Date.now() })
    net.port(ids.b).sendSignal(ids.c, { ...alien, from: outsider.deviceId })
    await until(() => refused('MESH_SENDER_MISMATCH').length === 1 && refused('MESH_REPLAYED').length === 1 && refused('MESH_NOT_MEMBER').length === 1, 'the three refusals')
    expect(relaysSentBy(ids.c)).toEqual([])
    expect(c.connected()).toEqual([])
  }, 30_000)
})

/**
 * Real mDNS packets on a LAN of network namespaces (never on eth0): devices find each other,
 * malformed TXT records are dropped, a goodbye removes a device.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createLan, netnsUnavailableReason, type Lan } from '../helpers/netns.js'
import { PeerProcess, assertBuiltForChildren, type PeerEvent } from './peer-process.js'

const skip = netnsUnavailableReason()
if (skip) console.warn(`skipping LAN discovery tests: ${skip}`)

const ids = ['a', 'b', 'c', 'd'].map((ch) => ch.repeat(32))
const isPeer = (deviceId: string) => (e: PeerEvent) => e.event === 'peer' && (e.peer as { deviceId: string }).deviceId === deviceId

describe.skipIf(skip !== undefined)('mDNS discovery on a namespace LAN', () => {
  let lan: Lan | undefined
  beforeAll(assertBuiltForChildren, 120_000)
  afterEach(async () => {
    await lan?.destroy()
    lan = undefined
  })

  it('three devices discover each other, with address and port, and a goodbye removes one', async () => {
    lan = await createLan({ devices: 3 })
    const peers = lan.devices.map(
      (d, i) => new PeerProcess(lan!, d.ns, 'discover.mjs', { interfaceAddress: d.ip, deviceId: ids[i], name: `dev ${i}`, port: 7400 + i }),
    )
    await Promise.all(peers.map((p) => p.waitFor((e) => e.event === 'started')))
    for (const [i, p] of peers.entries()) {
      for (const [j] of peers.entries()) {
        if (i === j) continue
        const found = await p.waitFor(isPeer(ids[j]!), `device ${j} seen by ${i}`)
        expect(found.peer).toMatchObject({ deviceId: ids[j], deviceName: `dev ${j}`, port: 7400 + j, protocolVersion: 1, addresses: [lan.devices[j]!.ip] })
      }
      expect(p.events.some(isPeer(ids[i]!))).toBe(false) // never itself
    }
    peers[2]!.child.stdin!.write('stop\n')
    await peers[2]!.waitFor((e) => e.event === 'stopped')
    for (const p of peers.slice(0, 2)) {
      await p.waitFor((e) => e.event === 'peer-lost' && e.deviceId === ids[2], 'goodbye of device 2')
    }
    const startedAt = Math.max(...peers.map((p) => p.events.find((e) => e.event === 'started')!.t))
    const seenAt = peers.flatMap((p, i) => peers.map((_, j) => (i === j ? undefined : p.events.find(isPeer(ids[j]!))!.t)))
    console.info(`discovery latency after the last start (ms): ${seenAt.filter((t) => t !== undefined).map((t) => Math.max(0, t! - startedAt)).join(', ')}`)
  })

  it('expires a device that went silent (link cut) after its TTL, and finds it again when it is back', async () => {
    lan = await createLan({ devices: 2 })
    const [d0, d1] = lan.devices
    // Short TTL and query interval (injected) so expiry happens within the test.
    const fast = { ttlSeconds: 2, queryIntervalMs: 400 }
    const watch = new PeerProcess(lan, d0!.ns, 'discover.mjs', { ...fast, interfaceAddress: d0!.ip, deviceId: ids[0], name: 'watch', port: 7400 })
    const other = new PeerProcess(lan, d1!.ns, 'discover.mjs', { ...fast, interfaceAddress: d1!.ip, deviceId: ids[1], name: 'other', port: 7401 })
    await other.waitFor((e) => e.event === 'started')
    await watch.waitFor(isPeer(ids[1]!))
    await lan.cutLink(1)
    await watch.waitFor((e) => e.event === 'peer-lost' && e.deviceId === ids[1], 'expiry')
    const lostAt = watch.events.length
    await lan.restoreLink(1)
    await watch.waitFor((e) => watch.events.indexOf(e) >= lostAt && isPeer(ids[1]!)(e), 'rediscovery')
  })

  it('drops a malformed TXT record with a typed error and lists nothing for it', async () => {
    lan = await createLan({ devices: 2 })
    const [observer, forger] = lan.devices
    const watch = new PeerProcess(lan, observer!.ns, 'discover.mjs', { interfaceAddress: observer!.ip })
    await watch.waitFor((e) => e.event === 'started')
    const forgeries = [
      ['id=not-a-device-id', 'name=x', 'pv=1'],
      [`id=${ids[3]}`, 'name=evil\u001b[2J', 'pv=1'],
      [`id=${ids[3]}`, 'name=x', 'pv=-1'],
    ]
    for (const [n, txt] of forgeries.entries()) {
      const sender = new PeerProcess(lan, forger!.ns, 'forge.mjs', { ip: forger!.ip, instance: `forged${n}`, port: 7000, txt })
      await sender.waitFor((e) => e.event === 'sent')
      await watch.waitFor((e) => e.event === 'error' && watch.events.filter((x) => x.event === 'error').length > n, `error ${n}`)
    }
    expect(watch.events.filter((e) => e.event === 'error').map((e) => [e.name, e.code])).toEqual(forgeries.map(() => ['WireError', 'BAD_TXT']))
    // A well-formed record from the same host is still accepted afterwards.
    const good = new PeerProcess(lan, forger!.ns, 'forge.mjs', { ip: forger!.ip, instance: 'good', port: 7001, txt: [`id=${ids[3]}`, 'name=fine', 'pv=1'] })
    await good.waitFor((e) => e.event === 'sent')
    const seen = await watch.waitFor(isPeer(ids[3]!))
    expect(seen.peer).toMatchObject({ deviceName: 'fine', port: 7001, addresses: [forger!.ip] })
    expect(watch.events.filter((e) => e.event === 'peer')).toHaveLength(1)
  })
})

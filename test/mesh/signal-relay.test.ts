/**
 * The relay (src/core/link/signal-relay.ts, docs/protocol/mesh.md) on an in-memory mesh: route
 * gossip, forwarding between members only with the link-authenticated sender stamped, one hop,
 * expiry, and the per-link rate limit. Every refusal is a logged `MESH_*` WireError and nothing is
 * delivered.
 */
import { describe, expect, it } from 'vitest'
import type { DeviceId } from '../../src/core/ids.js'
import { SignalRelay, type RelayDelivery } from '../../src/core/link/signal-relay.js'
import { MemoryMesh, recordingLogger, tick, type LogRecord } from './memory-mesh.js'

const A = 'a'.repeat(32) as DeviceId
const B = 'b'.repeat(32) as DeviceId
const C = 'c'.repeat(32) as DeviceId
const X = 'x'.repeat(32) as DeviceId

function setup(members: DeviceId[] = [A, B, C], now = (): number => 1000) {
  const net = new MemoryMesh()
  const records: LogRecord[] = []
  const delivered = new Map<DeviceId, RelayDelivery[]>()
  const relays = new Map<DeviceId, SignalRelay>()
  for (const id of [A, B, C, X]) {
    delivered.set(id, [])
    const relay = new SignalRelay({
      self: id,
      isMember: (d) => members.includes(d),
      deliver: (d) => delivered.get(id)!.push(d),
      now,
      logger: recordingLogger(records),
    })
    relay.addPort(net.port(id))
    relays.set(id, relay)
  }
  const dropped = (code: string): LogRecord[] => records.filter((r) => r.message === 'signal dropped' && r.fields?.code === code)
  return { net, relays, delivered, records, dropped }
}

const relayFor = (to: DeviceId, extra: { from?: string; expiresAt?: number } = {}) => ({
  type: 'relay' as const,
  to,
  id: new Uint8Array(16).fill(1),
  expiresAt: extra.expiresAt ?? 30_000,
  body: Uint8Array.of(9, 9),
  ...(extra.from === undefined ? {} : { from: extra.from }),
})

describe('SignalRelay', () => {
  it('gossips routes: A learns that B reaches C, synchronously answerable; they go with the link', async () => {
    const { net, relays } = setup()
    const changes: number[] = []
    relays.get(A)!.onRoutesChanged(() => changes.push(1))
    net.link(A, B)
    net.link(B, C)
    await tick()
    expect(relays.get(A)!.routeTo(C)).toBe(B)
    expect(relays.get(C)!.routeTo(A)).toBe(B)
    expect(relays.get(A)!.routes()[B]).toEqual([C])
    expect(changes.length).toBeGreaterThan(0)
    net.unlink(B, C)
    await tick()
    expect(relays.get(A)!.routeTo(C)).toBeUndefined()
    net.unlink(A, B)
    expect(relays.get(A)!.routes()).toEqual({})
  })

  it('forwards a relay envelope from A to C through B, stamping from with the link-authenticated sender', async () => {
    const { net, relays, delivered } = setup()
    net.link(A, B)
    net.link(B, C)
    await tick()
    expect(relays.get(A)!.send(relayFor(C))).toBe(B)
    await tick()
    await tick()
    const got = delivered.get(C)!
    expect(got).toHaveLength(1)
    expect(got[0]!.from).toBe(A)
    expect(got[0]!.via).toBe(B)
    expect(relays.get(B)!.counts.forwarded).toBe(1)
  })

  it('refuses to forward for or to a non-member, a second hop, an expired envelope, or where it has no link', async () => {
    const { net, relays, delivered, dropped } = setup([A, B, C])
    net.link(A, B)
    net.link(B, X)
    net.link(B, C)
    await tick()
    // X is linked to B (in this test's memory net) but no member: B forwards nothing of it, to it or for it.
    net.port(X).sendSignal(B, relayFor(C))
    net.port(A).sendSignal(B, relayFor(X))
    // A claims to forward someone else's envelope: a relayed envelope is never relayed again.
    net.port(A).sendSignal(B, relayFor(C, { from: X }))
    net.port(A).sendSignal(B, relayFor(C, { expiresAt: 1000 }))
    net.unlink(B, C)
    net.port(A).sendSignal(B, relayFor(C))
    await tick()
    await tick()
    expect(delivered.get(C)).toEqual([])
    expect(delivered.get(X)).toEqual([])
    expect(relays.get(B)!.counts.forwarded).toBe(0)
    // X's relay, A's relay for X, and X's own route gossip.
    expect(dropped('MESH_NOT_MEMBER')).toHaveLength(3)
    expect(dropped('MESH_HOPS')).toHaveLength(1)
    expect(dropped('MESH_EXPIRED')).toHaveLength(1)
    expect(dropped('MESH_NO_ROUTE')).toHaveLength(1)
    expect(() => relays.get(A)!.send(relayFor(C))).toThrow(expect.objectContaining({ name: 'WireError', code: 'MESH_NO_ROUTE' }))
  })

  it('rate-limits each link: beyond the burst, signals are dropped (MESH_RATE_LIMITED)', async () => {
    const { net, relays, delivered, dropped } = setup()
    net.link(A, B)
    net.link(B, C)
    await tick()
    for (let i = 0; i < 100; i++) net.port(A).sendSignal(B, relayFor(C))
    await tick()
    await tick()
    // The burst (32) less the routes A already sent B on link-up; the clock does not move here.
    expect(delivered.get(C)!.length).toBeLessThanOrEqual(32)
    expect(delivered.get(C)!.length).toBeGreaterThan(20)
    expect(relays.get(B)!.counts.dropped).toBeGreaterThanOrEqual(68)
    expect(dropped('MESH_RATE_LIMITED').length).toBeGreaterThan(0)
  })
})

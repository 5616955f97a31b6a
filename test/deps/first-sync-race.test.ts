/**
 * automerge-repo's first-sync race, played message by message on the in-memory network: the
 * receiver asks for a document (`request`) while the holder, on connect, announces it; the
 * announcement reaches the receiver before the data. Upstream, the receiver answers the
 * announcement with empty heads, which Automerge reads as "the peer lost everything", and the
 * holder sends the whole document a second time. Orbit's link adapters hold that reply back with
 * `FirstSyncGuard` (src/core/sync/first-sync-guard.ts); here it sits on the receiver's adapter
 * exactly as `LinkNetworkAdapter.send` applies it, and the same race without it shows the upstream
 * behaviour the guard exists for.
 */
import { Repo, type Message, type NetworkAdapter, type PeerId } from '@automerge/automerge-repo'
import { afterEach, describe, expect, it } from 'vitest'
import { MemoryHub } from '../../src/adapters/network-memory/index.js'
import { CountingNetworkAdapter, type TrafficEvent } from '../../src/core/sync/counting.js'
import { FirstSyncGuard } from '../../src/core/sync/first-sync-guard.js'

/** What `LinkNetworkAdapter.send` does with the guard, on another adapter's `send`. */
function guard(adapter: NetworkAdapter): FirstSyncGuard {
  const g = new FirstSyncGuard()
  const send = adapter.send.bind(adapter)
  adapter.send = (message: Message) => {
    if (g.outgoing(message)) send(message)
  }
  adapter.on('peer-disconnected', ({ peerId }) => g.peerLeft(peerId))
  return g
}

const repos: Repo[] = []
afterEach(async () => {
  await Promise.all(repos.splice(0).map((r) => r.shutdown()))
})

/** Lets the repos act on what was delivered (their sync steps run on promises and short timers). */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 50))

describe('first sync: a request crossing an announcement', () => {
  it.each([
    { guarded: true, sends: [2], held: 1 },
    { guarded: false, sends: [2, 2], held: 0 },
  ])('guarded $guarded: the holder sends the document $sends.length time(s), and both sides end in sync', async ({ guarded, sends, held }) => {
    const hub = new MemoryHub({ mode: 'manual' })
    const portA = hub.createAdapter('a')
    const portB = hub.createAdapter('b')
    const g = guarded ? guard(portB) : undefined
    const sentByA: TrafficEvent[] = []
    const a = new Repo({ network: [new CountingNetworkAdapter(portA, { onTraffic: (e) => e.direction === 'sent' && sentByA.push(e) })], peerId: 'a' as PeerId })
    const b = new Repo({ network: [portB], peerId: 'b' as PeerId })
    repos.push(a, b)
    const doc = a.create<{ items: Record<string, string> }>({ items: {} })
    doc.change((d) => {
      for (let i = 0; i < 500; i++) d.items[`k${i}`] = `value ${i}`
    })
    const [aToB, bToA] = [hub.links[0]!.channelFrom(portA), hub.links[0]!.channelFrom(portB)]

    // Connect: deliver the handshakes until both know each other. A then announces the document.
    for (let i = 0; i < 10 && !(a.peers.includes('b' as PeerId) && b.peers.includes('a' as PeerId)); i++) {
      hub.drain()
      await settle()
    }
    expect(a.peers).toContain('b')
    const announced = aToB.queue.length
    expect(announced).toBeGreaterThan(0)

    // B asks for it before the announcement arrives; A answers the request (data queued behind the announcement).
    const found = b.find<{ items: Record<string, string> }>(doc.url)
    await settle()
    expect(bToA.queue.map((m) => m.type)).toContain('request')
    bToA.drain()
    await settle()
    expect(aToB.queue.length).toBeGreaterThan(announced)

    // The announcement reaches B first, then the data; then everything B said goes back to A.
    aToB.drain()
    await settle()
    bToA.drain()
    await settle()
    hub.drain()
    await settle()
    hub.drain()

    const handle = await found
    expect(Object.keys(handle.doc().items)).toHaveLength(500)
    expect(handle.heads()).toEqual(doc.heads())
    const dataMessages = sentByA.filter((e) => e.changes > 0)
    expect(dataMessages.map((e) => e.changes)).toEqual(sends)
    expect(g?.held ?? 0).toBe(held)
  })
})

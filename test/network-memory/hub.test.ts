import type { Message, PeerId } from '@automerge/automerge-repo'
import { describe, expect, it } from 'vitest'
import { MemoryHub, chaosStep, type MemoryNetworkAdapter } from '../../src/adapters/network-memory/index.js'
import { Prng } from '../helpers/prng.js'

const flush = () => new Promise<void>(r => setImmediate(r))

function record(adapter: MemoryNetworkAdapter) {
  const events: string[] = []
  const messages: Message[] = []
  adapter.on('peer-candidate', p => events.push(`up:${p.peerId}`))
  adapter.on('peer-disconnected', p => events.push(`down:${p.peerId}`))
  adapter.on('message', m => messages.push(m))
  return { events, messages }
}

const msg = (from: string, to: string, n: number): Message => ({
  type: 'test',
  senderId: from as PeerId,
  targetId: to as PeerId,
  data: new Uint8Array([n]),
})

async function pair(mode: 'auto' | 'manual') {
  const hub = new MemoryHub({ mode })
  const a = hub.createAdapter('a')
  const b = hub.createAdapter('b')
  const ra = record(a)
  const rb = record(b)
  a.connect('A' as PeerId, { isEphemeral: true })
  b.connect('B' as PeerId)
  await flush()
  return { hub, a, b, ra, rb, link: hub.links[0]! }
}

describe('MemoryHub', () => {
  it('announces peers with their metadata once both ends are online', async () => {
    const { ra, rb, link } = await pair('auto')
    expect(ra.events).toEqual(['up:B'])
    expect(rb.events).toEqual(['up:A'])
    expect(link.live).toBe(true)
  })

  it('auto links deliver in order on microtasks, as fresh copies', async () => {
    const { a, rb } = await pair('auto')
    const sent = msg('A', 'B', 1)
    a.send(sent)
    a.send(msg('A', 'B', 2))
    expect(rb.messages).toEqual([]) // not synchronously
    await flush()
    expect(rb.messages.map(m => m.data?.[0])).toEqual([1, 2])
    expect(rb.messages[0]?.data).not.toBe(sent.data)
  })

  it('manual links hold messages until delivered, reordered or duplicated', async () => {
    const { hub, a, rb, link } = await pair('manual')
    for (let n = 1; n <= 3; n++) a.send(msg('A', 'B', n))
    await flush()
    expect(rb.messages).toEqual([])
    const ch = link.channelFrom(a)
    expect(ch.queue.length).toBe(3)
    expect(ch.deliver(2)).toBe(true) // 3 first
    expect(ch.duplicate(0)).toBe(true) // 1, and 1 stays queued
    expect(hub.drain()).toBe(2) // 1, 2
    expect(rb.messages.map(m => m.data?.[0])).toEqual([3, 1, 1, 2])
    expect(link.stats).toMatchObject({ delivered: 3, reordered: 1, duplicated: 1, dropped: 0 })
    expect(ch.deliver(0)).toBe(false)
  })

  it('a cut drops what is queued and disconnects both ends; restore announces them again', async () => {
    const { a, b, ra, rb, link } = await pair('manual')
    a.send(msg('A', 'B', 1))
    link.cut()
    await flush()
    expect(link.stats.dropped).toBe(1)
    expect(ra.events).toEqual(['up:B', 'down:B'])
    expect(rb.events).toEqual(['up:A', 'down:A'])
    a.send(msg('A', 'B', 2)) // lost: no link
    expect(link.pending).toBe(0)
    link.restore()
    await flush()
    expect(ra.events.at(-1)).toBe('up:B')
    expect(rb.events.at(-1)).toBe('up:A')
    b.send(msg('B', 'A', 3))
    expect(link.channelFrom(b).queue.length).toBe(1)
    expect(link.sessions).toBe(2)
  })

  it('an adapter that disconnects stops sending and receiving; connect brings it back', async () => {
    const { a, b, ra, rb, link } = await pair('auto')
    a.disconnect()
    await flush()
    expect(rb.events.at(-1)).toBe('down:A')
    expect(ra.events.at(-1)).toBe('down:B')
    a.send(msg('A', 'B', 1))
    b.send(msg('B', 'A', 2))
    await flush()
    expect(ra.messages).toEqual([])
    expect(rb.messages).toEqual([])
    a.connect('A' as PeerId)
    await flush()
    expect(link.live).toBe(true)
    expect(rb.events.at(-1)).toBe('up:A')
  })

  it('an exhausted auto budget leaves messages queued instead of delivering forever', async () => {
    const { hub, a, rb, link } = await pair('auto')
    hub.autoBudget = 1
    a.send(msg('A', 'B', 1))
    a.send(msg('A', 'B', 2))
    await flush()
    expect(rb.messages.length).toBe(1)
    expect(link.pending).toBe(1)
    hub.autoBudget = 10
    link.setMode('auto')
    await flush()
    expect(rb.messages.length).toBe(2)
  })

  it('chaosStep acts only on manual links and replays from its seed', async () => {
    const run = async () => {
      const { hub, a, rb } = await pair('manual')
      for (let n = 0; n < 8; n++) a.send(msg('A', 'B', n))
      const rng = new Prng(99)
      while (chaosStep(hub, rng.random, { inOrder: 1, reorder: 1, duplicate: 1 }) !== undefined) {
        /* until drained */
      }
      return rb.messages.map(m => m.data?.[0])
    }
    const first = await run()
    expect(await run()).toEqual(first)
    expect([...new Set(first)].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
  })
})

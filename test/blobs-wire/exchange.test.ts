/**
 * The blob exchange over real link pipes (docs/protocol/blobs.md, "Wire protocol"): what arrives
 * is byte-identical, a batch costs two request round trips, liars are routed around, a cut link
 * resumes with at most one chunk sent again, and a provider serves only members and referenced
 * blobs within the limit and the credit it was granted.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { chunkListOf } from '../../src/core/blobs/chunks.js'
import { BlobExchange } from '../../src/core/blobs/exchange.js'
import { CHUNK_SIZE, type BlobStore } from '../../src/core/blobs/port.js'
import type { BlobMessage } from '../../src/core/blobs/protocol.js'
import type { BlobHash, DeviceId } from '../../src/core/ids.js'
import { bytes, cutAfter, device, link, ofType, same, until, type Device } from './helpers.js'

const devices: Device[] = []
const make = (...args: Parameters<typeof device>): Device => {
  const d = device(...args)
  devices.push(d)
  return d
}
afterEach(async () => {
  for (const d of devices.splice(0)) await d.exchange.close()
})

const linked = async (a: Device, b: Device): Promise<ReturnType<typeof link>> => {
  const l = link(a, b)
  await until(() => a.adapter.blobPeers().includes(b.id) && b.adapter.blobPeers().includes(a.id))
  return l
}

describe('fetching', () => {
  it('fetches one multi-chunk blob byte-identical in one query and one want', async () => {
    const a = make('a')
    const b = make('b')
    const blob = bytes(3 * CHUNK_SIZE + 12345, 1)
    const hash = await a.store.put(blob)
    await linked(a, b)
    const result = await b.exchange.fetch([hash])
    expect(result).toEqual({ fetched: [hash], failed: [] })
    expect(same(await b.store.get(hash), blob)).toBe(true)
    expect(b.exchange.counts).toMatchObject({ queries: 1, wants: 1, bytesReceived: blob.length })
    expect(a.exchange.counts).toMatchObject({ bytesServed: blob.length, piecesResent: 0 })
    expect(b.exchange.progress()).toMatchObject({ transfers: [], queued: 0, completed: 1, failed: [] })
  })

  it('fetches 200 small blobs in two request round trips (one query, one want)', async () => {
    const a = make('a')
    const b = make('b')
    const hashes: BlobHash[] = []
    for (let i = 0; i < 200; i++) hashes.push(await a.store.put(bytes(2000 + i, 100 + i)))
    await linked(a, b)
    const result = await b.exchange.fetch(hashes)
    expect(result.failed).toEqual([])
    expect(result.fetched.sort()).toEqual([...hashes].sort())
    for (let i = 0; i < 200; i += 37) expect(same(await b.store.get(hashes[i]!), bytes(2000 + i, 100 + i))).toBe(true)
    expect(ofType(b.sent, 'query')).toHaveLength(1)
    expect(ofType(b.sent, 'want')).toHaveLength(1)
    expect(b.exchange.counts).toMatchObject({ queries: 1, wants: 1 })
  })

  it('with two providers a batch still takes one query round and one want round (one want per provider)', async () => {
    const [a, c, b] = [make('a'), make('c'), make('b')]
    const hashes: BlobHash[] = []
    for (let i = 0; i < 40; i++) {
      const h = await a.store.put(bytes(1000, i))
      await c.store.put(bytes(1000, i))
      hashes.push(h)
    }
    await linked(a, b)
    await linked(c, b)
    const result = await b.exchange.fetch(hashes)
    expect(result.fetched).toHaveLength(40)
    const wants = b.sent.filter((e) => e.m.type === 'want')
    expect(ofType(b.sent, 'query')).toHaveLength(2)
    expect(new Set(wants.map((e) => e.to)).size).toBe(wants.length)
    expect(wants.length).toBeLessThanOrEqual(2)
  })

  it('reports NOT_FOUND when no connected member has the blob, and fetches nothing already present', async () => {
    const a = make('a')
    const b = make('b')
    await linked(a, b)
    const missing = 'ab'.repeat(32) as BlobHash
    const present = await b.store.put(bytes(10, 1))
    const result = await b.exchange.fetch([missing, present])
    expect(result.fetched).toEqual([present])
    expect(result.failed).toEqual([expect.objectContaining({ hash: missing, code: 'NOT_FOUND' })])
  })
})

/** `store` with some of its methods replaced; the rest are its own. */
function overriding(store: BlobStore, methods: Partial<BlobStore>): BlobStore {
  return new Proxy(store, {
    get(target, prop) {
      if (Object.hasOwn(methods, prop)) return (methods as Record<string | symbol, unknown>)[prop]
      const v = Reflect.get(target, prop) as unknown
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
    },
  })
}

/** A store that serves `hash` with its bytes damaged in one piece (a lying provider). */
function damaging(store: BlobStore): BlobStore {
  return overriding(store, {
    read: async (hash: BlobHash, offset: number, length: number) => {
      const out = (await store.read(hash, offset, length)).slice()
      if (offset === 0) out[7] = (out[7]! + 1) & 0xff
      return out
    },
  })
}

/** A store whose `have` answers are slow: its provider answers the query last. */
function slowToAnswer(store: BlobStore, ms = 30): BlobStore {
  return overriding(store, { has: async (hash: BlobHash) => (await new Promise((r) => setTimeout(r, ms)), store.has(hash)) })
}

describe('liars', () => {
  it('a provider that sends a bad piece is bad for that blob: the blob comes from the second provider', async () => {
    const liar = make('liar', { wrapStore: damaging })
    const honest = make('honest', { wrapStore: (s) => slowToAnswer(s) })
    const b = make('b')
    const blob = bytes(CHUNK_SIZE + 5000, 7)
    const hash = await liar.store.put(blob)
    await honest.store.put(blob)
    await linked(liar, b)
    await linked(honest, b)
    const result = await b.exchange.fetch([hash])
    expect(result).toEqual({ fetched: [hash], failed: [] })
    expect(same(await b.store.get(hash), blob)).toBe(true)
    expect(liar.exchange.counts.bytesServed).toBeGreaterThan(0)
    expect(honest.exchange.counts.bytesServed).toBeGreaterThan(0)
    // The liar's first chunk was dropped by the store and cancelled: the honest one sent it all.
    expect(honest.exchange.counts.bytesServed).toBe(blob.length)
    expect(ofType(liar.received, 'cancel')).toHaveLength(1)
    expect(b.warnings.find((w) => w.fields?.code === 'CHUNK_MISMATCH')?.fields?.deviceId).toBe(liar.id)
  })

  it('a one-chunk blob (held in memory, stored by one checked put) from a liar is dropped: the second provider serves it', async () => {
    const liar = make('liar', { wrapStore: damaging })
    const honest = make('honest', { wrapStore: (s) => slowToAnswer(s) })
    const b = make('b')
    const blob = bytes(50_000, 8)
    const hash = await liar.store.put(blob)
    await honest.store.put(blob)
    await linked(liar, b)
    await linked(honest, b)
    const result = await b.exchange.fetch([hash])
    expect(result).toEqual({ fetched: [hash], failed: [] })
    expect(same(await b.store.get(hash), blob)).toBe(true)
    expect(liar.exchange.counts.bytesServed).toBe(blob.length)
    expect(honest.exchange.counts.bytesServed).toBe(blob.length)
    expect(b.warnings.find((w) => w.fields?.code === 'CHUNK_MISMATCH')?.fields?.deviceId).toBe(liar.id)
    // Nothing of the bad copy was kept on the way.
    expect(await b.store.partials()).toEqual([])
  })

  it("a one-chunk blob whose header's chunk hash is not the blob's hash is refused BAD_CHUNK_LIST before any byte", async () => {
    const blob = bytes(4000, 12)
    const hash = chunkListOf(blob).hash
    const lying = (store: BlobStore): BlobStore =>
      overriding(store, { chunks: async (h: BlobHash) => ({ ...(await store.chunks(h))!, chunks: ['0'.repeat(64)] }) })
    const liar = make('liar', { wrapStore: lying })
    const b = make('b')
    await liar.store.put(blob)
    await linked(liar, b)
    const result = await b.exchange.fetch([hash])
    expect(result.failed).toEqual([expect.objectContaining({ hash, code: 'BAD_CHUNK_LIST' })])
    expect(await b.store.has(hash)).toBe(false)
  })

  it('a lying chunk list (chunks of other bytes) fails at commit with BLOB_MISMATCH: the next provider serves it', async () => {
    const real = bytes(CHUNK_SIZE + 100, 3)
    const fake = bytes(CHUNK_SIZE + 100, 4)
    const hash = chunkListOf(real).hash
    // The liar holds `fake` but claims it is `hash`, with a chunk list that matches `fake`.
    const lyingStore = (store: BlobStore): BlobStore => {
      const fakeHash = chunkListOf(fake).hash
      const redirect = (h: BlobHash): BlobHash => (h === hash ? fakeHash : h)
      return overriding(store, {
        has: (h: BlobHash) => store.has(redirect(h)),
        read: (h: BlobHash, o: number, l: number) => store.read(redirect(h), o, l),
        chunks: async (h: BlobHash) => (h === hash ? { ...chunkListOf(fake), hash } : store.chunks(h)),
      })
    }
    const liar = make('liar', { wrapStore: lyingStore })
    const honest = make('honest', { wrapStore: (s) => slowToAnswer(s) })
    const b = make('b')
    await liar.store.put(fake)
    await honest.store.put(real)
    await linked(liar, b)
    await linked(honest, b)
    const result = await b.exchange.fetch([hash])
    expect(result).toEqual({ fetched: [hash], failed: [] })
    expect(same(await b.store.get(hash), real)).toBe(true)
    expect(liar.exchange.counts.bytesServed).toBe(fake.length)
    expect(honest.exchange.counts.bytesServed).toBe(real.length)
    expect(b.warnings.map((w) => w.fields?.code)).toContain('BLOB_MISMATCH')
    expect(b.warnings.find((w) => w.fields?.code === 'BLOB_MISMATCH')?.fields?.deviceId).toBe(liar.id)
  })

  it('with only a liar, the fetch fails with the reason (CHUNK_MISMATCH) and nothing is stored', async () => {
    const liar = make('liar', { wrapStore: damaging })
    const b = make('b')
    const hash = await liar.store.put(bytes(5000, 9))
    await linked(liar, b)
    const result = await b.exchange.fetch([hash])
    expect(result.failed).toEqual([expect.objectContaining({ hash, code: 'CHUNK_MISMATCH' })])
    expect(await b.store.has(hash)).toBe(false)
    expect(b.exchange.progress().failed).toEqual([expect.objectContaining({ hash })])
  })

  it('validateHead refusing the first chunk drops that copy (the code is the validator’s)', async () => {
    const a = make('a')
    const b = make('b', {
      exchange: {
        validateHead: (head) => {
          if (head[0] !== 0x89) throw Object.assign(new Error('not a PNG'), { name: 'ValidationError', code: 'NOT_IMAGE' })
        },
      },
    })
    const hash = await a.store.put(bytes(3000, 11))
    await linked(a, b)
    const result = await b.exchange.fetch([hash])
    expect(result.failed.map((f) => f.hash)).toEqual([hash])
    expect(await b.store.has(hash)).toBe(false)
    expect((await b.store.partials()).map((p) => p.list.hash)).not.toContain(hash)
  })
})

describe('a cut link', () => {
  it('a cut halfway keeps the partial; on a new link the transfer resumes and at most one chunk is sent again', async () => {
    const size = 6 * CHUNK_SIZE + 777
    const blob = bytes(size, 21)
    let cut: () => void = () => {}
    const a = make('a')
    const b = make('b', { wrapPort: cutAfter(size / 2, () => cut()), exchange: { retryWindowMs: 5000 } })
    const hash = await a.store.put(blob)
    const first = await linked(a, b)
    cut = () => first.b.close()
    const fetching = b.exchange.fetch([hash])
    await until(() => first.b.closed && !b.adapter.blobPeers().includes(a.id))
    await until(() => b.exchange.progress().transfers.length === 0)
    const partial = (await b.store.partials()).find((p) => p.list.hash === hash)
    expect(partial?.received).toBeGreaterThanOrEqual(size / 2 - CHUNK_SIZE)
    await linked(a, b)
    const result = await fetching
    expect(result).toEqual({ fetched: [hash], failed: [] })
    expect(same(await b.store.get(hash), blob)).toBe(true)
    const beyond = a.exchange.counts.bytesServed - size
    expect(beyond).toBeLessThanOrEqual(CHUNK_SIZE)
    expect(a.exchange.counts.bytesResent).toBe(beyond)
    const wants = ofType(b.sent, 'want')
    expect(wants).toHaveLength(2)
    expect(wants[1]!.items[0]!.from).toBe(partial!.received)
  })

  it('a cut with a second provider connected resumes from it at once', async () => {
    const size = 4 * CHUNK_SIZE
    const blob = bytes(size, 31)
    let cut: () => void = () => {}
    const a = make('a')
    const c = make('c', { wrapStore: (s) => slowToAnswer(s) })
    const b = make('b', { wrapPort: cutAfter(size / 2, () => cut()) })
    const hash = await a.store.put(blob)
    await c.store.put(blob)
    const ab = await linked(a, b)
    await linked(c, b)
    cut = () => ab.b.close()
    const result = await b.exchange.fetch([hash])
    expect(result).toEqual({ fetched: [hash], failed: [] })
    expect(same(await b.store.get(hash), blob)).toBe(true)
    // c served the second half (resumed from the partial), not the whole blob.
    expect(c.exchange.counts.bytesServed).toBeGreaterThan(0)
    expect(c.exchange.counts.bytesServed).toBeLessThanOrEqual(size / 2 + CHUNK_SIZE)
    expect(a.exchange.counts.bytesServed + c.exchange.counts.bytesServed - size).toBeLessThanOrEqual(CHUNK_SIZE)
  })
})

describe('a receiver that stops mid-blob', () => {
  it('close() keeps the partial: a new exchange on the same store resumes it, at most one chunk sent again', async () => {
    const size = 5 * CHUNK_SIZE + 10
    const blob = bytes(size, 71)
    let stop: () => void = () => {}
    const a = make('a')
    const b = make('b', { wrapPort: cutAfter(size / 2, () => stop()) })
    const hash = await a.store.put(blob)
    await linked(a, b)
    let closing: Promise<void> | undefined
    stop = () => (closing = b.exchange.close())
    expect((await b.exchange.fetch([hash])).failed).toEqual([expect.objectContaining({ code: 'CLOSED' })])
    await closing
    const kept = (await b.store.partials()).find((p) => p.list.hash === hash)
    expect(kept?.received).toBeGreaterThan(0)
    const again = new BlobExchange({ store: b.store, isMember: () => true, isReferenced: () => true, maxBlobBytes: () => 64 * CHUNK_SIZE })
    again.addPort(b.adapter.blobPort())
    try {
      expect(await again.fetch([hash])).toEqual({ fetched: [hash], failed: [] })
      expect(same(await b.store.get(hash), blob)).toBe(true)
      expect(again.counts.bytesReceived).toBe(size - kept!.received)
      expect(a.exchange.counts.bytesServed - size).toBeLessThanOrEqual(CHUNK_SIZE)
    } finally {
      await again.close()
    }
  })
})

describe('the provider', () => {
  it('a non-member gets nothing: no have, no data, even for a want sent directly', async () => {
    const a = make('a')
    const b = make('b', { exchange: { queryTimeoutMs: 100 } })
    const hash = await a.store.put(bytes(4000, 5))
    a.members = new Set()
    await linked(a, b)
    const result = await b.exchange.fetch([hash])
    expect(result.failed).toEqual([expect.objectContaining({ hash, code: 'NOT_FOUND' })])
    b.adapter.sendBlob(a.id, { type: 'want', id: 99, items: [{ hash, from: 0 }], credit: CHUNK_SIZE })
    await new Promise((r) => setTimeout(r, 20))
    expect(a.sent).toEqual([])
    expect(a.exchange.counts.bytesServed).toBe(0)
  })

  it('an unreferenced hash is not offered, and a want for it is refused NOT_REFERENCED', async () => {
    const a = make('a')
    const b = make('b')
    const hash = await a.store.put(bytes(4000, 6))
    a.referenced = new Set()
    await linked(a, b)
    expect((await b.exchange.fetch([hash])).failed).toEqual([expect.objectContaining({ code: 'NOT_FOUND' })])
    expect(ofType(a.sent, 'have')).toEqual([expect.objectContaining({ hashes: [] })])
    b.adapter.sendBlob(a.id, { type: 'want', id: 7, items: [{ hash, from: 0 }], credit: CHUNK_SIZE })
    await until(() => ofType(a.sent, 'refuse').length > 0)
    expect(ofType(a.sent, 'refuse')).toEqual([expect.objectContaining({ id: 7, hash, code: 'NOT_REFERENCED' })])
    expect(a.exchange.counts.bytesServed).toBe(0)
  })

  it('re-checks references per want item: a reference gone between query and want is refused, and the fetch says so', async () => {
    const a = make('a')
    const b = make('b')
    const hash = await a.store.put(bytes(4000, 8))
    await linked(a, b)
    const off = b.adapter.on2('blob', (e) => {
      if (e.message.type === 'have') a.referenced = new Set()
    })
    const result = await b.exchange.fetch([hash])
    off()
    expect(result.failed).toEqual([expect.objectContaining({ hash, code: 'NOT_REFERENCED' })])
  })

  it('a receiver that does not reference a hash does not fetch it (NOT_REFERENCED, nothing sent)', async () => {
    const a = make('a')
    const b = make('b')
    const hash = await a.store.put(bytes(100, 1))
    b.referenced = new Set()
    await linked(a, b)
    expect((await b.exchange.fetch([hash])).failed).toEqual([expect.objectContaining({ code: 'NOT_REFERENCED' })])
    expect(b.sent).toEqual([])
  })

  it('a blob over the provider’s limit is refused TOO_LARGE; over the receiver’s limit it is not accepted either', async () => {
    const a = make('a', { maxBlobBytes: 10_000 })
    const b = make('b')
    const big = await a.store.put(bytes(20_000, 2))
    await linked(a, b)
    expect((await b.exchange.fetch([big])).failed).toEqual([expect.objectContaining({ hash: big, code: 'TOO_LARGE' })])
    expect(ofType(a.sent, 'refuse')).toEqual([expect.objectContaining({ code: 'TOO_LARGE' })])

    const c = make('c')
    const d = make('d', { maxBlobBytes: 10_000 })
    const big2 = await c.store.put(bytes(20_000, 3))
    await linked(c, d)
    expect((await d.exchange.fetch([big2])).failed).toEqual([expect.objectContaining({ hash: big2, code: 'TOO_LARGE' })])
    expect(await d.store.has(big2)).toBe(false)
    expect(d.exchange.counts.bytesReceived).toBe(0)
  })

  it('a blob over the receiver’s limit is not asked for again (no query, no want) until the limit is raised above its size', async () => {
    const c = make('c')
    const limit = { maxBlobBytes: 10_000 }
    const d = make('d', limit)
    const big = await c.store.put(bytes(20_000, 4))
    await linked(c, d)
    expect((await d.exchange.fetch([big])).failed).toEqual([expect.objectContaining({ hash: big, code: 'TOO_LARGE' })])
    const asked = { ...d.exchange.counts }
    const headers = ofType(c.sent, 'header').length
    expect(headers).toBe(1)
    expect((await d.exchange.fetch([big])).failed).toEqual([{ hash: big, code: 'TOO_LARGE', message: 'chunk list: the blob is 20000 bytes; the limit is 10000 bytes' }])
    limit.maxBlobBytes = 15_000
    expect((await d.exchange.fetch([big])).failed).toEqual([{ hash: big, code: 'TOO_LARGE', message: 'chunk list: the blob is 20000 bytes; the limit is 15000 bytes' }])
    expect(d.exchange.counts).toMatchObject({ queries: asked.queries, wants: asked.wants })
    expect(ofType(c.sent, 'header')).toHaveLength(headers)
    limit.maxBlobBytes = 20_000
    expect(await d.exchange.fetch([big])).toEqual({ fetched: [big], failed: [] })
    expect(d.exchange.counts.queries).toBe(asked.queries + 1)
  })

  it('never has more data in flight than the receiver granted (per request), and answers a full queue with BUSY', async () => {
    const a = make('a', { exchange: { maxQueuedWants: 3 } })
    const b = make('b')
    const blob = bytes(5 * CHUNK_SIZE + 3, 41)
    const hash = await a.store.put(blob)
    const granted = new Map<number, number>()
    const sentData = new Map<number, number>()
    let violations = 0
    let maxInFlight = 0
    a.adapter.on2('blob', ({ message: m }) => {
      if (m.type === 'want') granted.set(m.id, (granted.get(m.id) ?? 0) + m.credit)
      if (m.type === 'credit') granted.set(m.id, (granted.get(m.id) ?? 0) + m.bytes)
    })
    const send = a.adapter.sendBlob.bind(a.adapter)
    a.adapter.sendBlob = (to: DeviceId, m: BlobMessage): boolean => {
      if (m.type === 'data') {
        const total = (sentData.get(m.id) ?? 0) + m.bytes.length
        sentData.set(m.id, total)
        maxInFlight = Math.max(maxInFlight, total - ((granted.get(m.id) ?? 0) - CHUNK_SIZE))
        if (total > (granted.get(m.id) ?? 0)) violations++
      }
      return send(to, m)
    }
    await linked(a, b)
    expect(await b.exchange.fetch([hash])).toEqual({ fetched: [hash], failed: [] })
    expect(violations).toBe(0)
    expect(maxInFlight).toBeLessThanOrEqual(CHUNK_SIZE)
    expect([...sentData.values()].reduce((x, y) => x + y, 0)).toBe(blob.length)

    // Five items against a queue of three (and no credit, so nothing drains): two BUSY.
    const others: BlobHash[] = []
    for (let i = 0; i < 5; i++) others.push(await a.store.put(bytes(100, 50 + i)))
    b.adapter.sendBlob(a.id, { type: 'want', id: 500, items: others.map((h) => ({ hash: h, from: 0 })), credit: 0 })
    await until(() => ofType(a.sent, 'refuse').length >= 2)
    expect(ofType(a.sent, 'refuse').map((r) => r.code)).toEqual(['BUSY', 'BUSY'])
  })
})

describe('progress and cancellation', () => {
  it('reports transfers with bytes, rate and ETA while a blob arrives, then the batch done', async () => {
    const a = make('a')
    const b = make('b')
    const blob = bytes(4 * CHUNK_SIZE, 61)
    const hash = await a.store.put(blob)
    await linked(a, b)
    const seen: Array<ReturnType<typeof b.exchange.progress>> = []
    b.exchange.onProgress((p) => seen.push(p))
    // Snapshots as pieces arrive (the exchange has appended the earlier ones by then).
    const snapshots: Array<ReturnType<typeof b.exchange.progress>> = []
    b.adapter.on2('blob', (e) => {
      if (e.message.type === 'data') snapshots.push(b.exchange.progress())
    })
    await b.exchange.fetch([hash])
    expect(seen[0]?.transfers).toEqual([expect.objectContaining({ hash, size: blob.length, from: a.id, received: 0 })])
    const during = snapshots.filter((p) => p.transfers.length === 1 && p.transfers[0]!.received > CHUNK_SIZE)
    expect(during.length).toBeGreaterThan(0)
    expect(during[0]!.transfers[0]).toMatchObject({ hash, size: blob.length, from: a.id })
    expect(during[0]!.bytesTotal).toBe(blob.length)
    expect(during[0]!.bytesDone).toBe(during[0]!.transfers[0]!.received)
    const rated = during.map((p) => p.transfers[0]!).find((t) => t.bytesPerSecond > 0)
    expect(rated?.etaMs).toBeGreaterThanOrEqual(0)
    expect(seen.at(-1)).toMatchObject({ transfers: [], queued: 0, completed: 1 })
  })

  it('an aborted fetch resolves at once with ABORTED for what is not in yet', async () => {
    const a = make('a', { wrapStore: (s) => slowToAnswer(s, 200) })
    const b = make('b')
    const hash = await a.store.put(bytes(1000, 62))
    await linked(a, b)
    const controller = new AbortController()
    const fetching = b.exchange.fetch([hash], { signal: controller.signal })
    controller.abort()
    expect((await fetching).failed).toEqual([expect.objectContaining({ hash, code: 'ABORTED' })])
  })

  it('close() resolves pending fetches with CLOSED, and a closed exchange fetches nothing', async () => {
    const a = make('a', { wrapStore: (s) => slowToAnswer(s, 200) })
    const b = make('b')
    const hash = await a.store.put(bytes(1000, 63))
    await linked(a, b)
    const fetching = b.exchange.fetch([hash])
    await b.exchange.close()
    expect((await fetching).failed).toEqual([expect.objectContaining({ hash, code: 'CLOSED' })])
    expect((await b.exchange.fetch([hash])).failed).toEqual([expect.objectContaining({ code: 'CLOSED' })])
  })
})

describe('a peer whose Repo leaves (WebRTC keeps the pipe)', () => {
  it('drops out of blobPeers and the exchange stops counting on it at once', async () => {
    const a = make('a')
    const b = make('b')
    const hash = await b.store.put(bytes(1000, 64))
    await linked(a, b)
    let changed = 0
    a.adapter.blobPort().onPeersChanged(() => changed++)
    b.adapter.disconnect()
    await until(() => !a.adapter.blobPeers().includes(b.id) && changed > 0)
    const started = Date.now()
    expect((await a.exchange.fetch([hash])).failed).toEqual([expect.objectContaining({ code: 'NOT_FOUND' })])
    expect(Date.now() - started).toBeLessThan(1000)
    expect(ofType(a.sent, 'query')).toEqual([])
  })
})

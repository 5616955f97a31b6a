/**
 * Link rules that need a hand on the raw bytes (docs/protocol/link.md): an older peer is told
 * what it lacks, the pre-link dialect is refused, the authorization re-check holds envelopes back
 * while it is asynchronous, one link per device survives a double dial, and the summary's bounds
 * on the sending side. In-memory pipes: the rules are the link's, not a transport's.
 */
import { describe, expect, it } from 'vitest'
import { cbor, Repo, type PeerId } from '@automerge/automerge-repo'
import type { OrbitError } from '../../src/core/errors.js'
import type { DeviceId } from '../../src/core/ids.js'
import {
  EnvelopeKind,
  decodeControl,
  decodeEnvelope,
  decodeHello,
  encodeBlob,
  encodeControl,
  encodeEnvelope,
  encodeHello,
  encodeSync,
  type DocSummary,
} from '../../src/core/link/envelope.js'
import type { LinkAdapterOptions } from '../../src/core/link/link-adapter.js'
import { MemoryLinkAdapter, memoryPipePair, type MemoryPipe } from './memory.js'

const me = 'aaaa-device' as DeviceId
const them = 'zzzz-device' as DeviceId

/** A host under test on one end; the test plays the other end with raw bytes. */
function hostWithRawPeer(options: LinkAdapterOptions = {}, connect = true): { host: MemoryLinkAdapter; raw: MemoryPipe; received: () => Array<{ version: number; kind: number; payload: Uint8Array }>; errors: OrbitError[] } {
  const host = new MemoryLinkAdapter({ localDeviceId: me, ...options })
  const errors: OrbitError[] = []
  host.on2('link-error', (e) => errors.push(e.error))
  if (connect) host.connect(me as unknown as PeerId, {})
  const [hostEnd, raw] = memoryPipePair(me, them)
  host.attach(hostEnd)
  const inbox: Uint8Array[] = []
  raw.onBytes((b) => inbox.push(b))
  return { host, raw, received: () => inbox.map((b) => decodeEnvelope(b)), errors }
}

const tick = (ms = 5): Promise<void> => new Promise((r) => setTimeout(r, ms))
const helloFrom = (versions: number[], peerId = them as string, extra: { summary?: DocSummary } = {}): Uint8Array =>
  encodeHello({ versions, peerId: peerId as PeerId, peerMetadata: {}, features: [1, 2, 5], ...extra })

describe('version negotiation with another build', () => {
  it('answers an older build’s hello with an unsupported notice naming the versions it speaks, in a version the older build knows', async () => {
    const { raw, received, errors, host } = hostWithRawPeer({ versions: [2, 3] })
    let candidates = 0
    host.on('peer-candidate', () => candidates++)
    raw.send(helloFrom([1]))
    await tick()
    const [hello, notice] = received()
    expect(hello).toMatchObject({ kind: EnvelopeKind.Hello, version: 3 })
    expect(notice).toMatchObject({ kind: EnvelopeKind.Control, version: 1 })
    expect(decodeControl(notice!.payload)).toMatchObject({ type: 'unsupported', versions: [2, 3] })
    expect(errors.map((e) => e.code)).toEqual(['LINK_VERSION'])
    expect(raw.closed).toBe(true)
    expect(candidates).toBe(0)
  })

  it('an older build that is told what it lacks closes with LINK_VERSION saying what the peer speaks', async () => {
    const { raw, errors } = hostWithRawPeer({ versions: [1] }, false)
    raw.send(encodeControl(1, { type: 'unsupported', versions: [2, 3], message: 'update the older device' }))
    await tick()
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({ name: 'WireError', code: 'LINK_VERSION' })
    expect(errors[0]!.message).toContain('it speaks 2, 3')
    expect(raw.closed).toBe(true)
  })

  it('negotiates the highest common version and uses it for every envelope', async () => {
    const { raw, received, host } = hostWithRawPeer({ versions: [1, 2] })
    const repoMessages: unknown[] = []
    host.on('message', (m) => repoMessages.push(m))
    raw.send(helloFrom([2, 7]))
    await tick()
    raw.send(encodeSync(2, { type: 'sync', senderId: them, targetId: me, documentId: 'd', data: Uint8Array.of(1) } as never))
    await tick()
    expect(repoMessages).toEqual([{ type: 'sync', senderId: them, targetId: me, documentId: 'd', data: Uint8Array.of(1) }])
    host.send({ type: 'sync', senderId: me as unknown as PeerId, targetId: them as unknown as PeerId, documentId: 'd' as never, data: Uint8Array.of(2) })
    await tick()
    expect(received().at(-1)).toMatchObject({ version: 2, kind: EnvelopeKind.Sync })
  })

  it('refuses the pre-link dialect (a CBOR join) with LINK_NO_HELLO and closes', async () => {
    const { raw, errors, host } = hostWithRawPeer()
    let candidates = 0
    host.on('peer-candidate', () => candidates++)
    raw.send(cbor.encode({ type: 'join', senderId: them, peerMetadata: {}, supportedProtocolVersions: ['1'] }))
    await tick()
    expect(errors.map((e) => e.code)).toEqual(['LINK_NO_HELLO'])
    expect(raw.closed).toBe(true)
    expect(candidates).toBe(0)
  })

  it('ignores unknown control types and unknown hello keys (room for later versions)', async () => {
    const { raw, errors, host } = hostWithRawPeer()
    const joined = new Promise((r) => host.once('peer-candidate', r))
    raw.send(encodeEnvelope(1, EnvelopeKind.Hello, cbor.encode({ versions: [1, 9], peerId: them, peerMetadata: {}, features: [1, 2, 5, 77], later: 'field' })))
    raw.send(encodeEnvelope(1, EnvelopeKind.Control, cbor.encode({ type: 'from-version-9', x: 1 })))
    await joined
    await tick()
    expect(errors).toEqual([])
    expect(raw.closed).toBe(false)
  })
})

describe('the authorization re-check', () => {
  it('an asynchronous answer holds later envelopes back in order; a revocation drops them all and closes', async () => {
    let verdict = true
    const answers: Array<() => void> = []
    const { raw, host, errors } = hostWithRawPeer({
      authorize: () =>
        new Promise<boolean>((resolve) => {
          answers.push(() => resolve(verdict))
        }),
    })
    const delivered: string[] = []
    host.on('message', (m) => delivered.push(m.documentId as string))
    raw.send(helloFrom([1]))
    for (const doc of ['d1', 'd2', 'd3']) raw.send(encodeSync(1, { type: 'sync', senderId: them, targetId: me, documentId: doc } as never))
    await tick()
    // Only the hello's check is out; nothing delivered while it is pending.
    expect(answers).toHaveLength(1)
    answers.shift()!()
    await tick()
    answers.shift()!()
    await tick()
    expect(delivered).toEqual(['d1'])
    verdict = false
    answers.shift()!()
    await tick()
    expect(delivered).toEqual(['d1'])
    expect(errors.map((e) => e.code)).toEqual(['LINK_REVOKED'])
    expect(raw.closed).toBe(true)
  })

  it('a revoked device is told nothing, not even goodbye', async () => {
    const { raw, received } = hostWithRawPeer({ authorize: () => false })
    await tick()
    const before = received().length
    raw.send(helloFrom([1]))
    await tick()
    expect(received()).toHaveLength(before) // only our own hello, sent before
    expect(raw.closed).toBe(true)
  })
})

describe('bounds', () => {
  it('a sync envelope above the limit is refused on receipt (LINK_TOO_LARGE, closed) and never sent', async () => {
    const { raw, host, errors } = hostWithRawPeer({ limits: { maxEnvelopeBytes: 1000 } })
    const delivered: unknown[] = []
    host.on('message', (m) => delivered.push(m))
    raw.send(helloFrom([1]))
    await tick()
    host.send({ type: 'sync', senderId: me as unknown as PeerId, targetId: them as unknown as PeerId, documentId: 'd' as never, data: new Uint8Array(2000) })
    expect(errors.map((e) => e.code)).toEqual(['LINK_TOO_LARGE'])
    expect(raw.closed).toBe(false)
    raw.send(encodeSync(1, { type: 'sync', senderId: them, targetId: me, documentId: 'd', data: new Uint8Array(2000) } as never))
    await tick()
    expect(errors.map((e) => e.code)).toEqual(['LINK_TOO_LARGE', 'LINK_TOO_LARGE'])
    expect(raw.closed).toBe(true)
    expect(delivered).toEqual([])
  })

  it('our own summary beyond the bounds is left out of the hello (LINK_BAD_SUMMARY); the link still works', async () => {
    const huge: DocSummary = Object.fromEntries(Array.from({ length: 4097 }, (_, i) => [`doc${i}`, []]))
    const { raw, received, errors, host } = hostWithRawPeer({ summary: () => huge })
    const joined = new Promise((r) => host.once('peer-candidate', r))
    raw.send(helloFrom([1]))
    await joined
    expect(errors.map((e) => e.code)).toEqual(['LINK_BAD_SUMMARY'])
    const hello = decodeHello(received()[0]!.payload)
    expect(hello.summary).toBeUndefined()
    expect(hello.peerId).toBe(me)
  })

  it('a summary() that throws sends the hello without one', async () => {
    const { raw, received, host } = hostWithRawPeer({
      summary: () => {
        throw new Error('store busy')
      },
    })
    const joined = new Promise((r) => host.once('peer-candidate', r))
    raw.send(helloFrom([1], them, { summary: { d: ['ab'.repeat(32)] } }))
    await joined
    expect(decodeHello(received()[0]!.payload).summary).toBeUndefined()
  })
})

describe('one active link per device', () => {
  it('both sides keep the link the lower device id dialled; the Repo sees one peer; the other closes after the drain', async () => {
    const low = 'aaaa-low' as DeviceId
    const high = 'zzzz-high' as DeviceId
    const a = new MemoryLinkAdapter({ localDeviceId: low, duplicateDrainMs: 30 })
    const b = new MemoryLinkAdapter({ localDeviceId: high, duplicateDrainMs: 30 })
    const repoA = new Repo({ network: [a], peerId: low as unknown as PeerId })
    const repoB = new Repo({ network: [b], peerId: high as unknown as PeerId })
    let candidates = 0
    a.on('peer-candidate', () => candidates++)
    // Link 1: the high id dialled. Link 2: the low id dialled (the one both must keep).
    const [h1, l1] = memoryPipePair(high, low)
    const [l2, h2] = memoryPipePair(low, high)
    b.attach(h1, 'local')
    a.attach(l1, 'remote')
    await tick()
    a.attach(l2, 'local')
    b.attach(h2, 'remote')
    await tick(100)
    expect(candidates).toBe(1)
    expect(a.allLinks()).toHaveLength(1)
    expect(b.allLinks()).toHaveLength(1)
    expect(h1.closed && l1.closed).toBe(true)
    expect(l2.closed || h2.closed).toBe(false)
    const doc = repoA.create<{ v: number }>({ v: 1 })
    const there = await repoB.find<{ v: number }>(doc.url)
    expect(there.doc()?.v).toBe(1)
    await Promise.all([repoA.shutdown(), repoB.shutdown()])
  })
})

describe('the blob kind (docs/protocol/blobs.md) with an older build', () => {
  const hash = 'd'.repeat(64)

  it('a build without blob (features lack 3) answers a blob envelope with one unsupported notice and stays up', async () => {
    const { raw, received, errors, host } = hostWithRawPeer({ features: [1, 2, 4, 5] })
    const joined = new Promise((r) => host.once('peer-candidate', r))
    raw.send(encodeHello({ versions: [1], peerId: them as unknown as PeerId, peerMetadata: {}, features: [1, 2, 3, 4, 5] }))
    await joined
    expect(decodeHello(received()[0]!.payload).features).toEqual([1, 2, 4, 5])
    expect(host.blobPeers()).toEqual([])
    expect(host.sendBlob(them, { type: 'cancel', id: 1 })).toBe(false)
    raw.send(encodeBlob(1, { type: 'cancel', id: 1 }))
    raw.send(encodeBlob(1, { type: 'cancel', id: 2 }))
    await tick()
    const notices = received().filter((e) => e.kind === EnvelopeKind.Control).map((e) => decodeControl(e.payload))
    expect(notices).toEqual([expect.objectContaining({ type: 'unsupported', kind: EnvelopeKind.Blob })])
    expect(errors.map((e) => e.code)).toEqual(['LINK_UNSUPPORTED_KIND', 'LINK_UNSUPPORTED_KIND'])
    expect(raw.closed).toBe(false)
  })

  it('this build sends no blob envelope to a peer whose hello lacks kind 3 (blobPeers excludes it)', async () => {
    const { raw, received, host } = hostWithRawPeer()
    const joined = new Promise((r) => host.once('peer-candidate', r))
    raw.send(helloFrom([1]))
    await joined
    expect(decodeHello(received()[0]!.payload).features).toContain(EnvelopeKind.Blob)
    expect(host.blobPeers()).toEqual([])
    expect(host.sendBlob(them, { type: 'query', id: 1, hashes: [hash as never] })).toBe(false)
    await tick()
    expect(received().filter((e) => e.kind === EnvelopeKind.Blob)).toEqual([])
  })

  it('delivers blob messages from a peer that speaks it, and ignores an unknown blob type (link up)', async () => {
    const { raw, host, errors } = hostWithRawPeer()
    const got: unknown[] = []
    host.on2('blob', (e) => got.push(e))
    const joined = new Promise((r) => host.once('peer-candidate', r))
    raw.send(encodeHello({ versions: [1], peerId: them as unknown as PeerId, peerMetadata: {}, features: [1, 2, 3, 4, 5] }))
    await joined
    expect(host.blobPeers()).toEqual([them])
    raw.send(encodeEnvelope(1, EnvelopeKind.Blob, cbor.encode({ v: 1, type: 'from-the-future', x: 1 })))
    raw.send(encodeBlob(1, { type: 'have', id: 3, hashes: [hash as never] }))
    await tick()
    expect(got).toEqual([{ deviceId: them, message: { type: 'have', id: 3, hashes: [hash] } }])
    expect(errors).toEqual([])
    raw.send(encodeEnvelope(1, EnvelopeKind.Blob, cbor.encode({ v: 1, type: 'have', id: -1, hashes: [] })))
    await tick()
    expect(errors.map((e) => e.code)).toEqual(['BLOB_BAD_ID'])
    expect(raw.closed).toBe(true)
  })
})

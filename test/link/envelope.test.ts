/**
 * The link envelope codec (docs/protocol/link.md): round trips, and every malformed input answered
 * with a `WireError` of a stable `LINK_*` code and nothing else.
 */
import { describe, expect, it } from 'vitest'
import { cbor, type Message, type PeerId } from '@automerge/automerge-repo'
import {
  ENVELOPE_HEADER_BYTES,
  EnvelopeKind,
  MAX_CONTROL_BYTES,
  MAX_SUMMARY_DOCUMENTS,
  MAX_SUMMARY_HEADS,
  checkSummary,
  decodeControl,
  decodeEnvelope,
  decodeHello,
  decodeSync,
  encodeControl,
  encodeEnvelope,
  encodeHello,
  encodeSync,
  negotiateVersion,
  type Control,
  type DocSummary,
  type Hello,
} from '../../src/core/link/envelope.js'

const head = (n: number): string => n.toString(16).padStart(64, '0')
const peer = 'p6cpl7vsa3pyf45nm77jpuzidjxnyoqt' as PeerId

/** What decoding `bytes` throws, as name/code. */
function failure(fn: () => unknown): { name: string; code: string } {
  try {
    fn()
  } catch (error) {
    const e = error as { name: string; code: string }
    return { name: e.name, code: e.code }
  }
  throw new Error('expected a failure')
}

const helloPayload = (body: Record<string, unknown>): Uint8Array => cbor.encode(body)
const validHelloBody = { versions: [1], peerId: peer, peerMetadata: { storageId: 's1', isEphemeral: false }, features: [1, 2, 5] }

describe('envelope header', () => {
  it('is two bytes, version then kind, and the payload follows unchanged', () => {
    const bytes = encodeEnvelope(1, EnvelopeKind.Sync, Uint8Array.of(9, 8, 7))
    expect([...bytes]).toEqual([1, 2, 9, 8, 7])
    expect(decodeEnvelope(bytes)).toEqual({ version: 1, kind: 2, payload: Uint8Array.of(9, 8, 7) })
    expect(ENVELOPE_HEADER_BYTES).toBe(2)
  })

  it('refuses a truncated header, version 0 and oversized envelopes per kind', () => {
    expect(failure(() => decodeEnvelope(new Uint8Array(0)))).toEqual({ name: 'WireError', code: 'LINK_TRUNCATED' })
    expect(failure(() => decodeEnvelope(Uint8Array.of(1)))).toEqual({ name: 'WireError', code: 'LINK_TRUNCATED' })
    expect(failure(() => decodeEnvelope(Uint8Array.of(0, 2, 1)))).toEqual({ name: 'WireError', code: 'LINK_VERSION' })
    expect(failure(() => decodeEnvelope(new Uint8Array(MAX_CONTROL_BYTES + 1).fill(5, 1, 2).fill(1, 0, 1)))).toEqual({ name: 'WireError', code: 'LINK_TOO_LARGE' })
    expect(failure(() => decodeEnvelope(encodeEnvelope(1, EnvelopeKind.Sync, new Uint8Array(100)), { maxEnvelopeBytes: 50 }))).toEqual({ name: 'WireError', code: 'LINK_TOO_LARGE' })
    expect(failure(() => decodeEnvelope(encodeEnvelope(1, EnvelopeKind.Hello, new Uint8Array(100)), { maxHelloBytes: 50 }))).toEqual({ name: 'WireError', code: 'LINK_TOO_LARGE' })
  })

  it('passes unknown kinds and versions through: the link decides what to do with them', () => {
    expect(decodeEnvelope(Uint8Array.of(7, 200, 1))).toMatchObject({ version: 7, kind: 200 })
  })
})

describe('hello', () => {
  it('round-trips peer id, metadata, versions, features and the summary (heads as 32 bytes each)', () => {
    const summary: DocSummary = { docA: [head(2), head(1)], docB: [] }
    const hello: Hello = { versions: [1, 2], peerId: peer, peerMetadata: { storageId: 'st' as never, isEphemeral: false }, features: [1, 2, 5], summary }
    const bytes = encodeHello(hello)
    const envelope = decodeEnvelope(bytes)
    expect(envelope.kind).toBe(EnvelopeKind.Hello)
    expect(envelope.version).toBe(2) // the sender's highest
    expect(decodeHello(envelope.payload)).toEqual({ ...hello, summary: { docA: [head(1), head(2)], docB: [] } })
    // Binary heads: well under the 2 × 64 hex characters the strings take.
    const plain = encodeHello({ ...hello, summary: undefined as never })
    expect(bytes.length - plain.length).toBeLessThan(2 * 64)
  })

  it('ignores unknown keys (a later version may add some) and keeps needHello', () => {
    const hello = decodeHello(helloPayload({ ...validHelloBody, needHello: true, future: { x: 1 } }))
    expect(hello).toEqual({ ...validHelloBody, needHello: true })
  })

  it('refuses every malformed hello with LINK_BAD_HELLO', () => {
    const bad: unknown[] = [
      new Uint8Array(0),
      Uint8Array.of(0xff, 0x00, 0x13),
      cbor.encode([1, 2, 3]),
      cbor.encode('hello'),
      cbor.encode({ ...validHelloBody, versions: [] }),
      cbor.encode({ ...validHelloBody, versions: [0] }),
      cbor.encode({ ...validHelloBody, versions: [256] }),
      cbor.encode({ ...validHelloBody, versions: Array.from({ length: 17 }, (_, i) => i + 1) }),
      cbor.encode({ ...validHelloBody, versions: ['1'] }),
      cbor.encode({ ...validHelloBody, features: 'sync' }),
      cbor.encode({ ...validHelloBody, peerId: '' }),
      cbor.encode({ ...validHelloBody, peerId: 'x'.repeat(257) }),
      cbor.encode({ ...validHelloBody, peerId: 7 }),
      cbor.encode({ ...validHelloBody, peerMetadata: 'me' }),
      cbor.encode({ ...validHelloBody, peerMetadata: { storageId: 5 } }),
      cbor.encode({ ...validHelloBody, peerMetadata: { isEphemeral: 'no' } }),
      cbor.encode({ ...validHelloBody, needHello: 1 }),
    ]
    for (const payload of bad) expect(failure(() => decodeHello(payload as Uint8Array))).toEqual({ name: 'WireError', code: 'LINK_BAD_HELLO' })
    // A truncated hello (cut anywhere inside its CBOR).
    const whole = encodeHello({ ...validHelloBody, summary: { d: [head(3)] } } as unknown as Hello)
    for (let cut = ENVELOPE_HEADER_BYTES; cut < whole.length; cut += 7) {
      expect(failure(() => decodeHello(decodeEnvelope(whole.subarray(0, cut)).payload)).code).toMatch(/^LINK_BAD_(HELLO|SUMMARY)$/)
    }
  })

  it('holds the summary to its bounds on both ends: 4096 documents, 64 heads, 32-byte heads', () => {
    const tooMany: DocSummary = Object.fromEntries(Array.from({ length: MAX_SUMMARY_DOCUMENTS + 1 }, (_, i) => [`doc${i}`, []]))
    const tooDeep: DocSummary = { d: Array.from({ length: MAX_SUMMARY_HEADS + 1 }, (_, i) => head(i)) }
    for (const s of [tooMany, tooDeep, { d: ['not-hex'] }, { d: [head(0xabc).toUpperCase()] }, { '': [] }, { d: 'x' }] as DocSummary[]) {
      expect(failure(() => checkSummary(s))).toEqual({ name: 'WireError', code: 'LINK_BAD_SUMMARY' })
      expect(failure(() => encodeHello({ ...validHelloBody, summary: s } as unknown as Hello))).toEqual({ name: 'WireError', code: 'LINK_BAD_SUMMARY' })
    }
    // The limits themselves are fine.
    checkSummary(Object.fromEntries(Array.from({ length: MAX_SUMMARY_DOCUMENTS }, (_, i) => [`doc${i}`, [head(i)]])))
    checkSummary({ d: Array.from({ length: MAX_SUMMARY_HEADS }, (_, i) => head(i)) })
    // What a peer sends is checked the same way.
    const wire = (summary: unknown): Uint8Array => cbor.encode({ ...validHelloBody, summary })
    expect(failure(() => decodeHello(wire({ d: [new Uint8Array(31)] })))).toEqual({ name: 'WireError', code: 'LINK_BAD_SUMMARY' })
    expect(failure(() => decodeHello(wire({ d: [head(1)] })))).toEqual({ name: 'WireError', code: 'LINK_BAD_SUMMARY' })
    expect(failure(() => decodeHello(wire({ d: Array.from({ length: 65 }, () => new Uint8Array(32)) })))).toEqual({ name: 'WireError', code: 'LINK_BAD_SUMMARY' })
    expect(failure(() => decodeHello(wire([1])))).toEqual({ name: 'WireError', code: 'LINK_BAD_SUMMARY' })
    expect(failure(() => decodeHello(wire(Object.fromEntries(Array.from({ length: 4097 }, (_, i) => [`d${i}`, []])))))).toEqual({ name: 'WireError', code: 'LINK_BAD_SUMMARY' })
  })
})

describe('sync', () => {
  const message = { type: 'sync', senderId: peer, targetId: 'me' as PeerId, documentId: 'doc1', data: Uint8Array.of(1, 2, 3) } as unknown as Message

  it('carries the repo message without sender and target, which the link restores', () => {
    const bytes = encodeSync(1, message)
    const envelope = decodeEnvelope(bytes)
    expect(envelope).toMatchObject({ version: 1, kind: EnvelopeKind.Sync })
    expect(cbor.decode(envelope.payload)).not.toHaveProperty('senderId')
    const back = decodeSync(envelope.payload, { senderId: peer, targetId: 'me' as PeerId })
    expect(back).toEqual(message)
    // Smaller than the message as automerge-repo's own CBOR, ids included.
    expect(bytes.length).toBeLessThan(cbor.encode(message).length)
  })

  it('refuses a payload that names its own sender or target, or is malformed', () => {
    const ids = { senderId: peer, targetId: 'me' as PeerId }
    const bad = [
      cbor.encode({ type: 'sync', senderId: 'mallory' }),
      cbor.encode({ type: 'sync', targetId: 'someone' }),
      cbor.encode({ data: Uint8Array.of(1) }),
      cbor.encode({ type: '' }),
      cbor.encode({ type: 'x'.repeat(65) }),
      cbor.encode({ type: 'sync', data: 'text' }),
      cbor.encode({ type: 'sync', documentId: 5 }),
      cbor.encode([1]),
      Uint8Array.of(0xa1),
      new Uint8Array(0),
    ]
    for (const payload of bad) expect(failure(() => decodeSync(payload, ids))).toEqual({ name: 'WireError', code: 'LINK_BAD_SYNC' })
  })
})

describe('control', () => {
  it('round-trips goodbye, leave and unsupported; an unknown control type is ignored', () => {
    for (const c of [{ type: 'goodbye', reason: 'bye' }, { type: 'goodbye' }, { type: 'goodbye', reason: 'cooldown', retryAfterMs: 9000 }, { type: 'leave' }, { type: 'unsupported', kind: 3, message: 'no blobs' }, { type: 'unsupported', versions: [2, 3], message: 'update' }] as Control[]) {
      const envelope = decodeEnvelope(encodeControl(1, c))
      expect(envelope.kind).toBe(EnvelopeKind.Control)
      expect(decodeControl(envelope.payload)).toEqual(c)
    }
    expect(decodeControl(cbor.encode({ type: 'from-the-future', x: 1 }))).toBeUndefined()
  })

  it('refuses malformed control payloads with LINK_BAD_CONTROL', () => {
    const bad = [
      cbor.encode({ type: 5 }),
      cbor.encode({ type: 'goodbye', reason: 7 }),
      cbor.encode({ type: 'goodbye', reason: 'x'.repeat(257) }),
      cbor.encode({ type: 'goodbye', reason: 'cooldown', retryAfterMs: -1 }),
      cbor.encode({ type: 'goodbye', reason: 'cooldown', retryAfterMs: 1.5 }),
      cbor.encode({ type: 'goodbye', reason: 'cooldown', retryAfterMs: 86_400_001 }),
      cbor.encode({ type: 'goodbye', reason: 'cooldown', retryAfterMs: '10s' }),
      cbor.encode({ type: 'unsupported', kind: 999, message: '' }),
      cbor.encode({ type: 'unsupported', versions: 'all', message: '' }),
      cbor.encode('goodbye'),
      Uint8Array.of(0xbf),
    ]
    for (const payload of bad) expect(failure(() => decodeControl(payload))).toEqual({ name: 'WireError', code: 'LINK_BAD_CONTROL' })
  })
})

describe('version negotiation', () => {
  it('picks the highest common version, or none', () => {
    expect(negotiateVersion([1, 2, 3], [2, 3, 4])).toBe(3)
    expect(negotiateVersion([1], [1])).toBe(1)
    expect(negotiateVersion([1], [2, 3])).toBeUndefined()
  })
})

describe('signal envelopes (docs/protocol/mesh.md)', () => {
  const dev = (c: string): string => c.repeat(32)
  const payloadOf = (bytes: Uint8Array): Uint8Array => bytes.subarray(2)

  it('round-trips routes and relay signals; a relay keeps from only when set', async () => {
    const { encodeSignal, decodeSignal, SIGNAL_VERSION } = await import('../../src/core/link/envelope.js')
    const routes = encodeSignal(1, { type: 'routes', members: [dev('a'), dev('b')] })
    expect(routes[1]).toBe(4)
    expect(decodeSignal(payloadOf(routes))).toEqual({ type: 'routes', members: [dev('a'), dev('b')] })
    const relay = { type: 'relay' as const, to: dev('c'), id: new Uint8Array(16).fill(7), expiresAt: 1_700_000_000_000, body: Uint8Array.of(1, 2, 3) }
    expect(decodeSignal(payloadOf(encodeSignal(1, relay)))).toEqual(relay)
    expect(decodeSignal(payloadOf(encodeSignal(1, { ...relay, from: dev('a') })))).toEqual({ ...relay, from: dev('a') })
    expect((cbor.decode(payloadOf(routes)) as { v: number }).v).toBe(SIGNAL_VERSION)
  })

  it('refuses malformed signals with LINK_BAD_SIGNAL and ignores unknown types', async () => {
    const { decodeSignal, encodeSignal, MAX_ROUTES, MAX_RELAY_BODY_BYTES } = await import('../../src/core/link/envelope.js')
    const good = { v: 1, type: 'relay', to: dev('c'), id: new Uint8Array(16), expiresAt: 5, body: Uint8Array.of(1) }
    for (const bad of [
      { ...good, to: 'not-a-device' },
      { ...good, id: new Uint8Array(15) },
      { ...good, body: new Uint8Array(0) },
      { ...good, expiresAt: -1 },
      { ...good, from: 42 },
      { v: 1, type: 'routes', members: 'x' },
      { v: 1, type: 'routes', members: Array.from({ length: MAX_ROUTES + 1 }, () => dev('a')) },
      { v: 1, type: 7 },
    ]) {
      expect(() => decodeSignal(cbor.encode(bad)), JSON.stringify(bad).slice(0, 80)).toThrow(expect.objectContaining({ name: 'WireError', code: 'LINK_BAD_SIGNAL' }))
    }
    expect(() => decodeSignal(Uint8Array.of(0))).toThrow(expect.objectContaining({ code: 'LINK_BAD_SIGNAL' }))
    expect(decodeSignal(cbor.encode({ v: 2, type: 'later' }))).toBeUndefined()
    expect(() => encodeSignal(1, { type: 'relay', to: dev('c'), id: new Uint8Array(16), expiresAt: 1, body: new Uint8Array(MAX_RELAY_BODY_BYTES + 1) })).toThrow(
      expect.objectContaining({ code: 'LINK_BAD_SIGNAL' }),
    )
  })

  it('bounds the whole signal envelope (LINK_TOO_LARGE)', async () => {
    const { decodeEnvelope, MAX_SIGNAL_BYTES } = await import('../../src/core/link/envelope.js')
    const big = new Uint8Array(MAX_SIGNAL_BYTES + 1)
    big[0] = 1
    big[1] = 4
    expect(() => decodeEnvelope(big)).toThrow(expect.objectContaining({ code: 'LINK_TOO_LARGE' }))
  })
})

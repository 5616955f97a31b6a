/**
 * The blob messages' codec (docs/protocol/blobs.md, "Wire protocol"): every message round-trips
 * with `v: 1`, every bound is enforced on both sides, an unknown type is ignored, and no input —
 * random bytes or random CBOR maps — makes the decoder throw anything but a `BLOB_*` WireError.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { cbor } from '@automerge/automerge-repo'
import { WireError } from '../../src/core/errors.js'
import type { BlobHash } from '../../src/core/ids.js'
import { PIECE_SIZE } from '../../src/core/blobs/port.js'
import { BLOB_PROTOCOL_VERSION, MAX_BLOB_CHUNKS, MAX_BLOB_HASHES, decodeBlobMessage, encodeBlobMessage, type BlobMessage } from '../../src/core/blobs/protocol.js'
import { EnvelopeKind, encodeBlob, encodeEnvelope } from '../../src/core/link/envelope.js'

const h = (c: string): BlobHash => c.repeat(64) as BlobHash
const codeOf = (f: () => unknown): string | undefined => {
  try {
    f()
    return undefined
  } catch (error) {
    expect(error).toBeInstanceOf(WireError)
    return (error as WireError).code
  }
}

describe('blob messages', () => {
  const all: BlobMessage[] = [
    { type: 'query', id: 1, hashes: [h('a'), h('b')] },
    { type: 'have', id: 1, hashes: [] },
    { type: 'want', id: 2, items: [{ hash: h('a'), from: 0 }, { hash: h('b'), from: 1048576 }], credit: 1048576 },
    { type: 'header', id: 2, hash: h('a'), size: 1048577, chunkSize: 1048576, chunks: [h('c'), h('d')] },
    { type: 'header', id: 2, hash: h('e'), size: 0, chunkSize: 1048576, chunks: [] },
    { type: 'refuse', id: 2, hash: h('b'), code: 'NOT_REFERENCED', message: 'no' },
    { type: 'data', id: 2, hash: h('a'), offset: 65536, bytes: new Uint8Array(PIECE_SIZE).fill(1) },
    { type: 'end', id: 2, hash: h('a') },
    { type: 'credit', id: 2, bytes: 65536 },
    { type: 'cancel', id: 0xffffffff },
  ]

  it('round-trip, each carrying v: 1', () => {
    for (const m of all) {
      const payload = encodeBlobMessage(m)
      const got = decodeBlobMessage(payload)
      if (m.type === 'data' && got?.type === 'data') {
        expect(got.bytes.constructor).toBe(Uint8Array)
        expect(Buffer.compare(got.bytes, m.bytes)).toBe(0)
        expect({ ...got, bytes: undefined }).toEqual({ ...m, bytes: undefined })
      } else expect(got).toEqual(m)
      expect((cbor.decode(payload) as { v: number }).v).toBe(BLOB_PROTOCOL_VERSION)
    }
  })

  it('writes the same envelope as the payload behind a header: a data piece at every length form, and every other message', () => {
    const sizes = [1, 23, 24, 255, 256, 65_535, 65_536, PIECE_SIZE]
    const pieces = sizes.map((n, i): BlobMessage => ({ type: 'data', id: i, hash: h('a'), offset: [0, 23, 2 ** 32, Number.MAX_SAFE_INTEGER][i % 4]!, bytes: Uint8Array.from({ length: n }, (_, k) => (k * 31 + i) & 0xff) }))
    const plain = (m: BlobMessage): Uint8Array => encodeEnvelope(1, EnvelopeKind.Blob, encodeBlobMessage(m))
    for (const m of [...all, ...pieces]) {
      const out = encodeBlob(1, m)
      expect(Buffer.compare(out, plain(m))).toBe(0)
      expect(decodeBlobMessage(out.subarray(2))).toEqual(decodeBlobMessage(encodeBlobMessage(m)))
    }
    fc.assert(
      fc.property(fc.nat(0xffff_ffff), fc.nat(Number.MAX_SAFE_INTEGER), fc.uint8Array({ minLength: 1, maxLength: 70_000 }), (id, offset, bytes) => {
        const m: BlobMessage = { type: 'data', id, hash: h('b'), offset, bytes }
        expect(Buffer.compare(encodeBlob(1, m), plain(m))).toBe(0)
      }),
      { numRuns: 200 },
    )
    expect(codeOf(() => encodeBlob(1, { type: 'data', id: 1, hash: h('a'), offset: 0, bytes: new Uint8Array(PIECE_SIZE + 1) }))).toBe('BLOB_BAD_PIECE')
  })

  it('an unknown type is ignored; unknown keys too', () => {
    expect(decodeBlobMessage(cbor.encode({ v: 1, type: 'later', x: 1 }))).toBeUndefined()
    expect(decodeBlobMessage(cbor.encode({ v: 2, type: 'end', id: 1, hash: h('a'), more: true }))).toEqual({ type: 'end', id: 1, hash: h('a') })
  })

  it('refuses what is out of bounds with a BLOB_* code, encoding and decoding alike', () => {
    const cases: Array<[unknown, string]> = [
      [{ type: 'end', id: 1, hash: h('a') }, 'BLOB_BAD_VERSION'],
      [{ v: 1, type: 5 }, 'BLOB_MALFORMED'],
      [{ v: 1, type: 'end', id: -1, hash: h('a') }, 'BLOB_BAD_ID'],
      [{ v: 1, type: 'end', id: 2 ** 32, hash: h('a') }, 'BLOB_BAD_ID'],
      [{ v: 1, type: 'end', id: 1, hash: 'A'.repeat(64) }, 'BLOB_BAD_HASH'],
      [{ v: 1, type: 'query', id: 1, hashes: [] }, 'BLOB_TOO_MANY'],
      [{ v: 1, type: 'query', id: 1, hashes: Array.from({ length: MAX_BLOB_HASHES + 1 }, () => h('a')) }, 'BLOB_TOO_MANY'],
      [{ v: 1, type: 'want', id: 1, items: [], credit: 1 }, 'BLOB_TOO_MANY'],
      [{ v: 1, type: 'want', id: 1, items: [{ hash: h('a'), from: -1 }], credit: 1 }, 'BLOB_BAD_FIELD'],
      [{ v: 1, type: 'want', id: 1, items: [{ hash: h('a'), from: 0 }], credit: 2 ** 40 }, 'BLOB_BAD_FIELD'],
      [{ v: 1, type: 'header', id: 1, hash: h('a'), size: 10, chunkSize: 4, chunks: [h('b')] }, 'BLOB_BAD_FIELD'],
      [{ v: 1, type: 'header', id: 1, hash: h('a'), size: 10, chunkSize: 0, chunks: [] }, 'BLOB_BAD_FIELD'],
      [{ v: 1, type: 'header', id: 1, hash: h('a'), size: MAX_BLOB_CHUNKS + 1, chunkSize: 1, chunks: Array.from({ length: MAX_BLOB_CHUNKS + 1 }, () => h('b')) }, 'BLOB_TOO_MANY'],
      [{ v: 1, type: 'data', id: 1, hash: h('a'), offset: 0, bytes: new Uint8Array(0) }, 'BLOB_BAD_PIECE'],
      [{ v: 1, type: 'data', id: 1, hash: h('a'), offset: 0, bytes: new Uint8Array(PIECE_SIZE + 1) }, 'BLOB_BAD_PIECE'],
      [{ v: 1, type: 'data', id: 1, hash: h('a'), offset: 0, bytes: 'text' }, 'BLOB_BAD_PIECE'],
      [{ v: 1, type: 'refuse', id: 1, hash: h('a'), code: 'lower', message: '' }, 'BLOB_BAD_FIELD'],
      [{ v: 1, type: 'refuse', id: 1, hash: h('a'), code: 'NOT_FOUND', message: 'x'.repeat(257) }, 'BLOB_BAD_FIELD'],
    ]
    for (const [body, code] of cases) expect(codeOf(() => decodeBlobMessage(cbor.encode(body))), JSON.stringify(body).slice(0, 80)).toBe(code)
    for (const bad of [new Uint8Array(0), Uint8Array.of(0xa1), cbor.encode([1, 2]), cbor.encode('query')]) expect(codeOf(() => decodeBlobMessage(bad))).toBe('BLOB_MALFORMED')
    expect(codeOf(() => encodeBlobMessage({ type: 'data', id: 1, hash: h('a'), offset: 0, bytes: new Uint8Array(PIECE_SIZE + 1) }))).toBe('BLOB_BAD_PIECE')
    expect(codeOf(() => encodeBlobMessage({ type: 'query', id: 1, hashes: Array.from({ length: MAX_BLOB_HASHES + 1 }, (_, i) => i.toString(16).padStart(64, '0') as BlobHash) }))).toBe('BLOB_TOO_MANY')
    // A long refusal text is cut on sending, not refused.
    expect(decodeBlobMessage(encodeBlobMessage({ type: 'refuse', id: 1, hash: h('a'), code: 'BUSY', message: 'x'.repeat(1000) }))).toMatchObject({ message: 'x'.repeat(256) })
  })

  const decodesOrWireError = (payload: Uint8Array): void => {
    try {
      const m = decodeBlobMessage(payload)
      if (m !== undefined) expect(typeof m.type).toBe('string')
    } catch (error) {
      expect(error).toBeInstanceOf(WireError)
      expect((error as WireError).code).toMatch(/^BLOB_/)
    }
  }

  it('random bytes: the decoder returns a message, undefined, or throws a BLOB_* WireError — nothing else', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), decodesOrWireError), { numRuns: 400 })
  })

  it('random maps with the right field names: likewise (bit-flipped valid messages too)', () => {
    const value = fc.oneof(
      fc.integer(),
      fc.double(),
      fc.string({ maxLength: 70 }),
      fc.constant(h('a')),
      fc.uint8Array({ maxLength: 70 }),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.oneof(fc.constant(h('b')), fc.integer(), fc.record({ hash: fc.constant(h('c')), from: fc.integer() })), { maxLength: 4 }),
    )
    const type = fc.constantFrom('query', 'have', 'want', 'header', 'refuse', 'data', 'end', 'credit', 'cancel', 'other')
    const body = fc.record(
      { v: fc.oneof(fc.constant(1), value), type, id: value, hashes: value, items: value, credit: value, hash: value, size: value, chunkSize: value, chunks: value, code: value, message: value, offset: value, bytes: value },
      { requiredKeys: ['type'] },
    )
    fc.assert(fc.property(body, (b) => decodesOrWireError(cbor.encode(b))), { numRuns: 400 })
    fc.assert(
      fc.property(fc.constantFrom(...all), fc.nat(), fc.integer({ min: 0, max: 7 }), (m, at, bit) => {
        const payload = encodeBlobMessage(m).slice()
        payload[at % payload.length]! ^= 1 << bit
        decodesOrWireError(payload)
      }),
      { numRuns: 400 },
    )
  })
})

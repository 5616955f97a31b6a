/**
 * Valid encodings the fuzz targets start from (docs/fuzzing.md), made by the project's own
 * encoders: one of every envelope kind, blob message type and signal type.
 */
import type { Message, PeerId } from '@automerge/automerge-repo'
import type { BlobMessage } from '../../src/core/blobs/protocol.js'
import type { BlobHash, DeviceId } from '../../src/core/ids.js'
import { encodeBlob, encodeControl, encodeHello, encodeSignal, encodeSync, type Signal } from '../../src/core/link/envelope.js'

export const H = (n: number): BlobHash => n.toString(16).padStart(64, '0') as BlobHash
export const peerA = 'p6cpl7vsa3pyf45nm77jpuzidjxnyoqt' as PeerId
export const peerB = 'q6cpl7vsa3pyf45nm77jpuzidjxnyoqt' as PeerId
export const A = 'a'.repeat(32) as DeviceId
export const B = 'b'.repeat(32) as DeviceId
export const C = 'c'.repeat(32) as DeviceId
export const X = 'x'.repeat(32) as DeviceId

export const BLOB_SEEDS: BlobMessage[] = [
  { type: 'query', id: 1, hashes: [H(1), H(2)] },
  { type: 'have', id: 2, hashes: [] },
  { type: 'want', id: 3, items: [{ hash: H(3), from: 0 }, { hash: H(4), from: 1 << 20 }], credit: 1 << 20 },
  { type: 'header', id: 4, hash: H(5), size: 3 * 1024 * 1024 + 1, chunkSize: 1 << 20, chunks: [H(6), H(7), H(8), H(9)] },
  { type: 'refuse', id: 5, hash: H(10), code: 'NOT_FOUND', message: 'nope' },
  { type: 'data', id: 6, hash: H(11), offset: 262_144, bytes: Uint8Array.from({ length: 300 }, (_, i) => i & 0xff) },
  { type: 'end', id: 7, hash: H(12) },
  { type: 'credit', id: 8, bytes: 65_536 },
  { type: 'cancel', id: 0xffff_ffff },
]

export const SIGNAL_SEEDS: Signal[] = [
  { type: 'routes', members: [A, B, C] },
  { type: 'routes', members: [] },
  { type: 'relay', to: C, id: new Uint8Array(16).fill(7), expiresAt: 60_000, body: Uint8Array.of(1, 2, 3, 4) },
  { type: 'relay', to: A, from: B, id: new Uint8Array(16).fill(8), expiresAt: 30_000, body: new Uint8Array(200).fill(9) },
]

export const SYNC_SEED = {
  type: 'sync',
  documentId: '3xzNGsGqAjQdDj4Q7NUCkhRyvBH4',
  data: Uint8Array.from({ length: 40 }, (_, i) => (i * 37) & 0xff),
  senderId: peerA,
  targetId: peerB,
} as unknown as Message

/** Every kind of envelope, as this build encodes them. */
export const ENVELOPE_SEEDS: Uint8Array[] = [
  encodeHello({ versions: [1], peerId: peerA, peerMetadata: { storageId: 'st-1' as never, isEphemeral: false }, features: [1, 2, 3, 4, 5], summary: { doc1: [H(1), H(2)], doc2: [] } }),
  encodeHello({ versions: [1, 2], peerId: peerB, peerMetadata: {}, features: [1, 2, 5], needHello: true }),
  encodeSync(1, SYNC_SEED),
  encodeSync(1, { type: 'ephemeral', documentId: 'd', data: Uint8Array.of(1), count: 3, sessionId: 's', senderId: peerA, targetId: peerB } as unknown as Message),
  ...BLOB_SEEDS.map((m) => encodeBlob(1, m)),
  ...SIGNAL_SEEDS.map((s) => encodeSignal(1, s)),
  encodeControl(1, { type: 'goodbye', reason: 'bye' }),
  encodeControl(1, { type: 'leave' }),
  encodeControl(1, { type: 'unsupported', kind: 3, versions: [1, 2], message: 'no blobs' }),
]


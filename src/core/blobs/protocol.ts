/**
 * The blob wire protocol (docs/protocol/blobs.md, "Wire protocol"): the messages a `blob` link
 * envelope (kind 3, docs/protocol/link.md) carries, and their codec. Pure: no state, no I/O —
 * exchange.ts runs the flow on top.
 *
 * ```
 * blob := CBOR map { v: 1, type, … }          unknown keys ignored, an unknown `type` ignored
 * ```
 *
 * Everything decoded here is untrusted input: a failure is a `WireError` with a `BLOB_*` code and
 * nothing else is returned.
 */
import { cbor } from '@automerge/automerge-repo'
import { WireError } from '../errors.js'
import type { BlobHash, DeviceId } from '../ids.js'
import { PIECE_SIZE } from './port.js'

/** Version of the blob payloads, carried in each as `v`. */
export const BLOB_PROTOCOL_VERSION = 1
/** Most hashes in one `query` or `have`, and most items in one `want`. */
export const MAX_BLOB_HASHES = 1024
/** Most chunks in one `header` (1 GiB at 1 MiB chunks: far above any blob limit). */
export const MAX_BLOB_CHUNKS = 1024
/** Largest credit one `want` or `credit` message may grant (16 MiB). */
export const MAX_BLOB_CREDIT = 16 * 1024 * 1024
/** Largest chunk size a header may announce (16 MiB). */
export const MAX_BLOB_CHUNK_SIZE = 16 * 1024 * 1024
/** Largest `refuse` message text (characters). */
export const MAX_REFUSE_TEXT = 256
/** Largest `refuse` code (characters). */
export const MAX_REFUSE_CODE = 32
/**
 * Largest `blob` payload: a `header` with {@link MAX_BLOB_CHUNKS} chunk hashes
 * or a `want` with {@link MAX_BLOB_HASHES} items is about 70 KiB, a `data` piece 256 KiB + ~100 B.
 */
export const MAX_BLOB_PAYLOAD_BYTES = PIECE_SIZE + 4 * 1024
/** Request ids are unsigned 32-bit integers chosen by the side that asks. */
export const MAX_BLOB_REQUEST_ID = 0xffff_ffff

/** Why a provider refuses one `want` item. A later version may add codes: receivers treat an unknown one like `NOT_FOUND`. */
export type BlobRefuseCode = 'NOT_FOUND' | 'NOT_REFERENCED' | 'TOO_LARGE' | 'BUSY' | 'BAD_OFFSET'

/** One item of a `want`: the blob, and the byte offset to start at (what the receiver already holds). */
export interface BlobWantItem {
  hash: BlobHash
  from: number
}

/** The blob messages, by `type`. */
export type BlobMessage =
  /** Receiver → every linked member: which of these do you have? */
  | { type: 'query'; id: number; hashes: BlobHash[] }
  /** Provider → receiver: the subset present here **and** referenced by the workspace. */
  | { type: 'have'; id: number; hashes: BlobHash[] }
  /** Receiver → one provider: send these, in order, each from `from`; `credit` bytes may be in flight. */
  | { type: 'want'; id: number; items: BlobWantItem[]; credit: number }
  /** Provider → receiver: the chunk list of the next item; `data` for it follows from the item's `from`. */
  | { type: 'header'; id: number; hash: BlobHash; size: number; chunkSize: number; chunks: string[] }
  /** Provider → receiver: this item will not be sent. */
  | { type: 'refuse'; id: number; hash: BlobHash; code: string; message: string }
  /** Provider → receiver: `bytes` (1..PIECE_SIZE) of `hash` at `offset`. */
  | { type: 'data'; id: number; hash: BlobHash; offset: number; bytes: Uint8Array }
  /** Provider → receiver: every byte of `hash` was sent. */
  | { type: 'end'; id: number; hash: BlobHash }
  /** Receiver → provider: `bytes` more may be in flight for request `id`. */
  | { type: 'credit'; id: number; bytes: number }
  /** Receiver → provider: stop request `id` (what is queued of it too). */
  | { type: 'cancel'; id: number }

/**
 * What the blob exchange (exchange.ts) needs of a link host (src/core/link/link-adapter.ts's
 * `blobPort()`): the devices it can
 * send `blob` envelopes to now, sending one, and hearing them.
 */
export interface BlobPort {
  /** Devices with a link that carries `blob` envelopes now (both hellos in, both implement kind 3). */
  blobPeers(): DeviceId[]
  /** Sends on the link carrying `deviceId`; false when none can (gone, retired, older build, beyond the bounds). */
  sendBlob(deviceId: DeviceId, message: BlobMessage): boolean
  /** Every `blob` envelope received, with the link-authenticated sender. Returns the unsubscribe function. */
  onBlob(listener: (deviceId: DeviceId, message: BlobMessage) => void): () => void
  /** Called whenever {@link BlobPort.blobPeers} may have changed. Returns the unsubscribe function. */
  onPeersChanged(listener: () => void): () => void
}

/** The `type` of a blob message. */
export type BlobMessageType = BlobMessage['type']

const HASH = /^[0-9a-f]{64}$/
const CODE = /^[A-Z][A-Z0-9_]*$/

const fail = (code: string, message: string, cause?: unknown): WireError => new WireError(`blob: ${message}`, cause === undefined ? { code } : { code, cause })
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array)

function uint(v: unknown, field: string, max: number, min = 0): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw fail(field === 'id' ? 'BLOB_BAD_ID' : 'BLOB_BAD_FIELD', `${field} must be an integer in ${min}..${max}`)
  return v
}

function hash(v: unknown, field = 'hash'): BlobHash {
  if (typeof v !== 'string' || !HASH.test(v)) throw fail('BLOB_BAD_HASH', `${field} is not 64 lower-case hex digits`)
  return v as BlobHash
}

function hashList(v: unknown, field: string, min: number): BlobHash[] {
  if (!Array.isArray(v)) throw fail('BLOB_BAD_FIELD', `${field} must be a list`)
  if (v.length < min || v.length > MAX_BLOB_HASHES) throw fail('BLOB_TOO_MANY', `${field} must hold ${min}..${MAX_BLOB_HASHES} hashes`)
  return [...new Set(v.map((h: unknown) => hash(h, `a hash in ${field}`)))]
}

function text(v: unknown, field: string, max: number): string {
  if (typeof v !== 'string' || v.length > max) throw fail('BLOB_BAD_FIELD', `${field} must be a string of at most ${max} characters`)
  return v
}

/**
 * Checks a message against the bounds (the same ones the decoder enforces), so nothing beyond
 * them is ever sent. Throws the decoder's `WireError`.
 */
export function checkBlobMessage(m: BlobMessage): void {
  decodeFields({ ...m, v: BLOB_PROTOCOL_VERSION } as unknown as Record<string, unknown>)
}

/** Encodes a blob message as its CBOR payload (`v: 1` added). Throws `BLOB_*` for one beyond the bounds. */
export function encodeBlobMessage(m: BlobMessage): Uint8Array {
  const out = m.type === 'refuse' ? { ...m, message: m.message.slice(0, MAX_REFUSE_TEXT) } : m
  checkBlobMessage(out)
  return cbor.encode({ v: BLOB_PROTOCOL_VERSION, ...out })
}

const NO_BYTES = new Uint8Array(0)

/**
 * A `data` message's payload, as {@link encodeBlobMessage} writes it, after `headroom` free bytes
 * of one new array, for a caller that puts its own header in front (the link envelope's): the
 * piece is copied once, straight into that array, not into CBOR's buffer and then again behind
 * the header (`bytes` is the map's last key, its length in the shortest form).
 */
export function encodeBlobDataAfter(m: Extract<BlobMessage, { type: 'data' }>, headroom: number): Uint8Array {
  checkBlobMessage(m)
  const { type, id, hash, offset, bytes } = m
  // The map with an empty `bytes`: it ends with that empty byte string's one byte (0x40), which
  // the real string's header replaces.
  const head = cbor.encode({ v: BLOB_PROTOCOL_VERSION, type, id, hash, offset, bytes: NO_BYTES })
  const n = bytes.length
  const lengthBytes = n < 24 ? 0 : n < 0x100 ? 1 : n < 0x1_0000 ? 2 : 4
  const out = new Uint8Array(headroom + head.length + lengthBytes + n)
  out.set(head.subarray(0, head.length - 1), headroom)
  let at = headroom + head.length - 1
  out[at++] = 0x40 | (lengthBytes === 0 ? n : lengthBytes === 1 ? 24 : lengthBytes === 2 ? 25 : 26)
  for (let shift = 8 * (lengthBytes - 1); shift >= 0; shift -= 8) out[at++] = (n >>> shift) & 0xff
  out.set(bytes, at)
  return out
}

/**
 * Parses a blob payload; `undefined` for a message type this build does not know (ignored, per the
 * forward-compatibility rule). Throws `WireError`: `BLOB_MALFORMED` (not CBOR, not a map, no
 * string `type`), `BLOB_BAD_VERSION`, `BLOB_BAD_ID`, `BLOB_BAD_HASH`, `BLOB_TOO_MANY`,
 * `BLOB_BAD_PIECE`, `BLOB_BAD_FIELD`.
 */
export function decodeBlobMessage(payload: Uint8Array): BlobMessage | undefined {
  if (!(payload instanceof Uint8Array) || payload.length === 0) throw fail('BLOB_MALFORMED', 'empty payload')
  if (payload.length > MAX_BLOB_PAYLOAD_BYTES) throw fail('BLOB_MALFORMED', `payload of ${payload.length} bytes exceeds ${MAX_BLOB_PAYLOAD_BYTES}`)
  let value: unknown
  try {
    value = cbor.decode(payload)
  } catch (cause) {
    throw fail('BLOB_MALFORMED', 'not CBOR (truncated or garbage)', cause)
  }
  if (!isRecord(value)) throw fail('BLOB_MALFORMED', 'not a CBOR map')
  return decodeFields(value)
}

function decodeFields(m: Record<string, unknown>): BlobMessage | undefined {
  if (typeof m.type !== 'string') throw fail('BLOB_MALFORMED', 'type is not a string')
  if (typeof m.v !== 'number' || !Number.isInteger(m.v) || m.v < 1 || m.v > 255) throw fail('BLOB_BAD_VERSION', 'v must be an integer in 1..255')
  const id = (): number => uint(m.id, 'id', MAX_BLOB_REQUEST_ID)
  switch (m.type) {
    case 'query':
      return { type: 'query', id: id(), hashes: hashList(m.hashes, 'hashes', 1) }
    case 'have':
      return { type: 'have', id: id(), hashes: hashList(m.hashes, 'hashes', 0) }
    case 'want': {
      if (!Array.isArray(m.items)) throw fail('BLOB_BAD_FIELD', 'items must be a list')
      if (m.items.length === 0 || m.items.length > MAX_BLOB_HASHES) throw fail('BLOB_TOO_MANY', `items must hold 1..${MAX_BLOB_HASHES} entries`)
      const items = m.items.map((item: unknown): BlobWantItem => {
        if (!isRecord(item)) throw fail('BLOB_BAD_FIELD', 'a want item is not a map')
        return { hash: hash(item.hash), from: uint(item.from, 'from', Number.MAX_SAFE_INTEGER) }
      })
      return { type: 'want', id: id(), items, credit: uint(m.credit, 'credit', MAX_BLOB_CREDIT) }
    }
    case 'header': {
      const size = uint(m.size, 'size', Number.MAX_SAFE_INTEGER)
      const chunkSize = uint(m.chunkSize, 'chunkSize', MAX_BLOB_CHUNK_SIZE, 1)
      if (!Array.isArray(m.chunks) || m.chunks.length > MAX_BLOB_CHUNKS) throw fail('BLOB_TOO_MANY', `chunks must be a list of at most ${MAX_BLOB_CHUNKS} hashes`)
      const chunks = m.chunks.map((c: unknown) => hash(c, 'a chunk hash') as string)
      if (chunks.length !== Math.ceil(size / chunkSize)) throw fail('BLOB_BAD_FIELD', `${chunks.length} chunk hashes for ${size} bytes at ${chunkSize} per chunk`)
      return { type: 'header', id: id(), hash: hash(m.hash), size, chunkSize, chunks }
    }
    case 'refuse': {
      const code = text(m.code, 'code', MAX_REFUSE_CODE)
      if (!CODE.test(code)) throw fail('BLOB_BAD_FIELD', 'code must be upper-case letters, digits and _')
      return { type: 'refuse', id: id(), hash: hash(m.hash), code, message: m.message === undefined ? '' : text(m.message, 'message', MAX_REFUSE_TEXT) }
    }
    case 'data': {
      if (!(m.bytes instanceof Uint8Array) || m.bytes.length === 0 || m.bytes.length > PIECE_SIZE) throw fail('BLOB_BAD_PIECE', `bytes must be 1..${PIECE_SIZE} bytes`)
      // A plain Uint8Array view (the CBOR decoder may hand out a Buffer): no copy.
      const bytes = new Uint8Array(m.bytes.buffer, m.bytes.byteOffset, m.bytes.length)
      return { type: 'data', id: id(), hash: hash(m.hash), offset: uint(m.offset, 'offset', Number.MAX_SAFE_INTEGER), bytes }
    }
    case 'end':
      return { type: 'end', id: id(), hash: hash(m.hash) }
    case 'credit':
      return { type: 'credit', id: id(), bytes: uint(m.bytes, 'bytes', MAX_BLOB_CREDIT) }
    case 'cancel':
      return { type: 'cancel', id: id() }
    default:
      return undefined
  }
}

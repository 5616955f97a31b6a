/**
 * The QR bundle's inner (plaintext) layer, version 1: what changed per document, the sender's heads
 * per document, and the blobs referenced but not carried — compressed with fflate (raw DEFLATE).
 *
 * ```
 * payload  := u32 innerLength • deflateRaw(inner)
 * inner    := u8 version 0x01 • str workspaceId • u16 docCount • doc* • u16 blobCount • str*
 *             • u16 unchangedCount • unchangedDigest[8]
 * doc      := str documentId • u8 headCount • head[32]* • u32 changesLength • changes
 * str      := u16 byteLength • utf8
 * ```
 * `unchanged*` summarise the documents left out because the receiver already has exactly the
 * sender's heads for them (see `unchangedDigest` in apply.ts): the receiver checks the digest
 * against its own heads and, when it matches, learns the sender's heads without 32 bytes per head.
 * `changes` is `Automerge.saveSince(doc, knownHeads)` (Automerge's incremental format), `head` an
 * Automerge change hash (the 64-hex-character strings of `getHeads`) as 32 raw bytes.
 */
import { deflateSync, inflateSync } from 'fflate'
import { QrError } from '../errors.js'
import { ByteReader, ByteWriter } from './bytes.js'

export const BUNDLE_PAYLOAD_VERSION = 1
/** Refuse to inflate more than this: a bomb from a (compromised) member must not exhaust memory. */
export const MAX_INNER_BYTES = 256 * 1024 * 1024
const HEAD = /^[0-9a-f]{64}$/

/** One document's share of a bundle. */
export interface BundleDoc {
  documentId: string
  /** Automerge incremental changes (`saveSince`), possibly empty. */
  changes: Uint8Array
  /** The sender's heads for this document after these changes. */
  heads: string[]
}

export interface BundlePayload {
  workspaceId: string
  docs: BundleDoc[]
  /** Blob hashes the documents refer to that the bundle does not carry. */
  pendingBlobs: string[]
  /** Documents left out as already known to the receiver: how many, and their digest. */
  unchanged?: { count: number; digest: Uint8Array }
}

function headToBytes(head: string): Uint8Array {
  if (!HEAD.test(head)) throw new QrError(`not an Automerge head: ${JSON.stringify(head)}`, { code: 'QR_BUNDLE' })
  const out = new Uint8Array(32)
  for (let i = 0; i < 32; i++) out[i] = parseInt(head.slice(2 * i, 2 * i + 2), 16)
  return out
}

function bytesToHead(b: Uint8Array): string {
  let s = ''
  for (const x of b) s += x.toString(16).padStart(2, '0')
  return s
}

/** Serialises and compresses a payload. */
export function encodePayload(payload: BundlePayload): Uint8Array {
  const w = new ByteWriter().u8(BUNDLE_PAYLOAD_VERSION).str(payload.workspaceId).u16(payload.docs.length)
  for (const doc of payload.docs) {
    if (doc.heads.length > 255) throw new QrError(`document ${doc.documentId} has too many heads`, { code: 'QR_TOO_LARGE' })
    w.str(doc.documentId).u8(doc.heads.length)
    for (const h of doc.heads) w.bytes(headToBytes(h))
    w.blob(doc.changes)
  }
  w.u16(payload.pendingBlobs.length)
  for (const b of payload.pendingBlobs) w.str(b)
  const unchanged = payload.unchanged ?? { count: 0, digest: new Uint8Array(8) }
  if (unchanged.digest.length !== 8) throw new QrError('unchanged digest must be 8 bytes', { code: 'QR_BUNDLE' })
  w.u16(unchanged.count).bytes(unchanged.digest)
  const inner = w.finish()
  return new ByteWriter().u32(inner.length).bytes(deflateSync(inner, { level: 9 })).finish()
}

/** Decompresses and parses a payload; any defect is a `QrError` (code `QR_BUNDLE`). */
export function decodePayload(bytes: Uint8Array): BundlePayload {
  const outer = new ByteReader(bytes, 'QR bundle payload')
  const innerLength = outer.u32()
  if (innerLength > MAX_INNER_BYTES) throw new QrError('QR bundle payload is too large', { code: 'QR_BUNDLE' })
  let inner: Uint8Array
  try {
    inner = inflateSync(outer.take(outer.remaining), { out: new Uint8Array(innerLength) })
  } catch (cause) {
    throw new QrError('QR bundle payload does not decompress', { code: 'QR_BUNDLE', cause })
  }
  if (inner.length !== innerLength) throw new QrError('QR bundle payload has the wrong length', { code: 'QR_BUNDLE' })
  const r = new ByteReader(inner, 'QR bundle payload')
  const version = r.u8()
  if (version !== BUNDLE_PAYLOAD_VERSION) {
    throw new QrError(`unsupported QR bundle payload version ${version}`, { code: 'QR_VERSION' })
  }
  const workspaceId = r.str()
  const docs: BundleDoc[] = []
  const seen = new Set<string>()
  for (let n = r.u16(); n > 0; n--) {
    const documentId = r.str()
    if (seen.has(documentId)) throw new QrError(`document ${documentId} appears twice`, { code: 'QR_BUNDLE' })
    seen.add(documentId)
    const heads: string[] = []
    for (let h = r.u8(); h > 0; h--) heads.push(bytesToHead(r.take(32)))
    docs.push({ documentId, heads, changes: r.blob().slice() })
  }
  const pendingBlobs: string[] = []
  for (let n = r.u16(); n > 0; n--) pendingBlobs.push(r.str())
  const unchanged = { count: r.u16(), digest: r.take(8).slice() }
  r.end()
  return { workspaceId, docs, pendingBlobs, unchanged }
}

/**
 * The link envelope: what every live tier (LAN TCP, WebRTC) carries inside the secure channel,
 * one envelope per channel message. Byte layout, kinds and rules: docs/protocol/link.md.
 *
 * ```
 * envelope := u8 version • u8 kind • payload
 * ```
 *
 * Everything decoded here is untrusted input: a failure is a `WireError` with a `LINK_*` code and
 * nothing else is returned. This module is pure (no state, no I/O); link.ts applies the rules
 * (negotiation, binding, authorization) on top.
 */
import { cbor, type Message, type PeerId, type PeerMetadata, type StorageId } from '@automerge/automerge-repo'
import { WireError } from '../errors.js'
import { MAX_MESSAGE_BYTES } from '../crypto/channel.js'
import { MAX_BLOB_PAYLOAD_BYTES, decodeBlobMessage, encodeBlobDataAfter, encodeBlobMessage, type BlobMessage } from '../blobs/protocol.js'

/** The link version this build speaks best. */
export const LINK_VERSION = 1
/** Every link version this build can speak, highest first. */
export const SUPPORTED_LINK_VERSIONS: readonly number[] = [1]

/**
 * Envelope kinds. `hello` (1) and `control` (5) are frozen across versions — same number, same
 * payload encoding (a CBOR map whose unknown keys are ignored) — so any build can read a newer
 * build's hello and be told, in a control notice, what it lacks.
 */
export const EnvelopeKind = { Hello: 1, Sync: 2, Blob: 3, Signal: 4, Control: 5 } as const
export type EnvelopeKindNumber = (typeof EnvelopeKind)[keyof typeof EnvelopeKind]
/** The kinds defined by link version 1, by number. */
export const KIND_NAMES: Readonly<Record<number, string>> = { 1: 'hello', 2: 'sync', 3: 'blob', 4: 'signal', 5: 'control' }
/** Kinds this build implements (announced in its hello's `features`): all five of link version 1. */
export const IMPLEMENTED_KINDS: readonly number[] = [EnvelopeKind.Hello, EnvelopeKind.Sync, EnvelopeKind.Blob, EnvelopeKind.Signal, EnvelopeKind.Control]
/** Version of the `signal` payloads (docs/protocol/mesh.md), carried in each as `v`. */
export const SIGNAL_VERSION = 1

export const ENVELOPE_HEADER_BYTES = 2
/** Largest envelope of any kind (the secure channel's message limit). */
export const MAX_ENVELOPE_BYTES = MAX_MESSAGE_BYTES
/**
 * Largest hello: room for the summary's bounds (4096 documents × 64 heads × 32 bytes ≈ 8.7 MB)
 * plus peer id and metadata.
 */
export const MAX_HELLO_BYTES = 10 * 1024 * 1024
/** Largest control envelope. */
export const MAX_CONTROL_BYTES = 4096
/** Largest signal envelope (a relay's sealed body carries one WebRTC code: ~1 KB). */
export const MAX_SIGNAL_BYTES = 16 * 1024
/** Largest blob envelope (docs/protocol/blobs.md: a 64 KiB piece, or a list of 1024 hashes, with room to spare). */
export const MAX_BLOB_ENVELOPE_BYTES = MAX_BLOB_PAYLOAD_BYTES + ENVELOPE_HEADER_BYTES
/** Largest sealed body in a relay signal. */
export const MAX_RELAY_BODY_BYTES = 12 * 1024
/** Most device ids in one route gossip. */
export const MAX_ROUTES = 256
/** Summary bounds (docs/protocol/link.md). */
export const MAX_SUMMARY_DOCUMENTS = 4096
export const MAX_SUMMARY_HEADS = 64
const MAX_ID_LENGTH = 256
const MAX_DOCUMENT_ID_LENGTH = 128
const MAX_VERSIONS = 16
const MAX_FEATURES = 32
const MAX_TEXT = 256
/** The longest `retryAfterMs` a goodbye may carry (a day). */
export const MAX_RETRY_AFTER_MS = 86_400_000
const MAX_TYPE_LENGTH = 64
const HEAD_HEX = /^[0-9a-f]{64}$/

/** What a device holds: documentId → its current heads (sorted lowercase hex strings). */
export type DocSummary = Record<string, string[]>

/** One decoded envelope header and its (still undecoded) payload. */
export interface Envelope {
  version: number
  kind: number
  payload: Uint8Array
}

/** The first envelope each side sends on a link. */
export interface Hello {
  /** Link versions the sender speaks (1..255), any order; the link uses the highest common one. */
  versions: number[]
  /** The sender's automerge-repo peer id. */
  peerId: PeerId
  peerMetadata: PeerMetadata
  /** Envelope kinds the sender implements (it answers others with an `unsupported` notice). */
  features: number[]
  /** The sender's documents and their heads, when it offers one. */
  summary?: DocSummary
  /**
   * Set on the hello that follows the sender's own `leave`: it ignored what arrived meanwhile, so
   * the receiver answers with its hello again.
   */
  needHello?: boolean
}

/** `control` payloads. Unknown `type`s are ignored by receivers (room for later versions). */
export type Control =
  /**
   * The sender closes the link now (`reason` is for logs). `retryAfterMs`: do not open a new link
   * before this long (reason `cooldown`: docs/protocol/link.md, "Limits").
   */
  | { type: 'goodbye'; reason?: string; retryAfterMs?: number }
  /** The sender's Repo detached; the link stays and a new hello may follow. */
  | { type: 'leave' }
  /** The sender cannot handle what we sent: a kind (`kind`), or no common version (`versions` it speaks). */
  | { type: 'unsupported'; kind?: number; versions?: number[]; message: string }

/**
 * `signal` payloads (docs/protocol/mesh.md). Unknown `type`s are ignored by receivers.
 * - `routes`: the members the sender has a live link to now (not the receiver itself).
 * - `relay`: an end-to-end sealed body for `to`. The original sender leaves `from` out; a relay
 *   forwarding it stamps `from` with the device its link authenticated. `id` (16 bytes) and
 *   `expiresAt` (ms since the epoch) are bound into the sealed body's signature by the endpoints.
 */
export type Signal =
  | { type: 'routes'; members: string[] }
  | { type: 'relay'; to: string; from?: string; id: Uint8Array; expiresAt: number; body: Uint8Array }

/** Bounds a decoder enforces; tests lower them. */
export interface EnvelopeLimits {
  maxEnvelopeBytes?: number
  maxHelloBytes?: number
  maxControlBytes?: number
}

const fail = (code: string, message: string, cause?: unknown): WireError => new WireError(message, cause === undefined ? { code } : { code, cause })
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array)

// ---- the header ------------------------------------------------------------------------------

/** `u8 version • u8 kind • payload`: one copy of the payload. */
export function encodeEnvelope(version: number, kind: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(ENVELOPE_HEADER_BYTES + payload.length)
  out.set(payload, ENVELOPE_HEADER_BYTES)
  return withHeader(out, version, kind)
}

/** Writes the header into the first {@link ENVELOPE_HEADER_BYTES} of `out` (the payload already behind them). */
function withHeader(out: Uint8Array, version: number, kind: number): Uint8Array {
  out[0] = version
  out[1] = kind
  return out
}

/**
 * Splits the header from the payload (no copy) and checks the size bounds that depend only on
 * the kind. Throws `LINK_TRUNCATED` (under 2 bytes), `LINK_TOO_LARGE`, `LINK_VERSION` (version 0).
 */
export function decodeEnvelope(bytes: Uint8Array, limits: EnvelopeLimits = {}): Envelope {
  if (bytes.length < ENVELOPE_HEADER_BYTES) throw fail('LINK_TRUNCATED', `envelope of ${bytes.length} byte(s): the header alone is 2`)
  const version = bytes[0]!
  const kind = bytes[1]!
  if (version === 0) throw fail('LINK_VERSION', 'envelope version 0 does not exist')
  const max =
    kind === EnvelopeKind.Hello
      ? (limits.maxHelloBytes ?? MAX_HELLO_BYTES)
      : kind === EnvelopeKind.Control
        ? (limits.maxControlBytes ?? MAX_CONTROL_BYTES)
        : kind === EnvelopeKind.Signal
          ? MAX_SIGNAL_BYTES
          : kind === EnvelopeKind.Blob
            ? MAX_BLOB_ENVELOPE_BYTES
            : (limits.maxEnvelopeBytes ?? MAX_ENVELOPE_BYTES)
  if (bytes.length > max) throw fail('LINK_TOO_LARGE', `${KIND_NAMES[kind] ?? `kind ${kind}`} envelope of ${bytes.length} bytes exceeds ${max}`)
  return { version, kind, payload: bytes.subarray(ENVELOPE_HEADER_BYTES) }
}

function decodeCborMap(payload: Uint8Array, code: string, what: string): Record<string, unknown> {
  if (payload.length === 0) throw fail(code, `${what}: empty payload`)
  let value: unknown
  try {
    value = cbor.decode(payload)
  } catch (cause) {
    throw fail(code, `${what}: not CBOR (truncated or garbage)`, cause)
  }
  if (!isRecord(value)) throw fail(code, `${what}: not a CBOR map`)
  return value
}

// ---- hello -----------------------------------------------------------------------------------

function hexToBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16)
  return out
}

function bytesToHex(bytes: Uint8Array): string {
  let s = ''
  for (const b of bytes) s += b.toString(16).padStart(2, '0')
  return s
}

/**
 * Checks a summary against the summary bounds of docs/protocol/link.md (≤ 4096 documents, ≤ 64 heads each, heads as
 * 64-digit lowercase hex). Throws `ValidationError`-like `WireError` `LINK_BAD_SUMMARY`.
 */
export function checkSummary(summary: DocSummary): void {
  if (!isRecord(summary)) throw fail('LINK_BAD_SUMMARY', 'summary: not a map of documentId to heads')
  const ids = Object.keys(summary)
  if (ids.length > MAX_SUMMARY_DOCUMENTS) throw fail('LINK_BAD_SUMMARY', `summary: ${ids.length} documents, at most ${MAX_SUMMARY_DOCUMENTS}`)
  for (const id of ids) {
    if (id.length === 0 || id.length > MAX_DOCUMENT_ID_LENGTH) throw fail('LINK_BAD_SUMMARY', 'summary: bad documentId')
    const heads = summary[id]
    if (!Array.isArray(heads)) throw fail('LINK_BAD_SUMMARY', `summary: heads of ${id.slice(0, 40)} are not a list`)
    if (heads.length > MAX_SUMMARY_HEADS) throw fail('LINK_BAD_SUMMARY', `summary: ${heads.length} heads for one document, at most ${MAX_SUMMARY_HEADS}`)
    for (const h of heads) if (typeof h !== 'string' || !HEAD_HEX.test(h)) throw fail('LINK_BAD_SUMMARY', 'summary: a head is not 64 lowercase hex digits')
  }
}

/** Encodes a hello envelope (version byte = the sender's highest version). Throws `LINK_BAD_SUMMARY`. */
export function encodeHello(hello: Hello): Uint8Array {
  const body: Record<string, unknown> = {
    versions: hello.versions,
    peerId: hello.peerId,
    peerMetadata: hello.peerMetadata,
    features: hello.features,
  }
  if (hello.needHello === true) body.needHello = true
  if (hello.summary !== undefined) {
    checkSummary(hello.summary)
    // Heads travel as 32-byte strings: half the size of their hex.
    const wire: Record<string, Uint8Array[]> = {}
    for (const [id, heads] of Object.entries(hello.summary)) wire[id] = heads.map(hexToBytes)
    body.summary = wire
  }
  return encodeEnvelope(Math.max(...hello.versions), EnvelopeKind.Hello, cbor.encode(body))
}

function smallIntList(value: unknown, max: number, field: string): number[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > max) throw fail('LINK_BAD_HELLO', `hello: ${field} must list 1..${max} numbers`)
  for (const v of value) if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > 255) throw fail('LINK_BAD_HELLO', `hello: ${field} holds a value outside 1..255`)
  return [...new Set(value as number[])]
}

/**
 * Parses a hello payload. Unknown keys are ignored (a later version may add some). Throws
 * `LINK_BAD_HELLO` for anything malformed, `LINK_BAD_SUMMARY` for a summary beyond the bounds.
 */
export function decodeHello(payload: Uint8Array): Hello {
  const m = decodeCborMap(payload, 'LINK_BAD_HELLO', 'hello')
  const versions = smallIntList(m.versions, MAX_VERSIONS, 'versions')
  const features = smallIntList(m.features, MAX_FEATURES, 'features')
  const peerId = m.peerId
  if (typeof peerId !== 'string' || peerId.length === 0 || peerId.length > MAX_ID_LENGTH) throw fail('LINK_BAD_HELLO', 'hello: peerId must be a string of 1..256 characters')
  const meta = m.peerMetadata ?? {}
  if (!isRecord(meta)) throw fail('LINK_BAD_HELLO', 'hello: peerMetadata is not a map')
  const peerMetadata: PeerMetadata = {}
  if (meta.storageId !== undefined) {
    if (typeof meta.storageId !== 'string' || meta.storageId.length > MAX_ID_LENGTH) throw fail('LINK_BAD_HELLO', 'hello: bad storageId')
    peerMetadata.storageId = meta.storageId as StorageId
  }
  if (meta.isEphemeral !== undefined) {
    if (typeof meta.isEphemeral !== 'boolean') throw fail('LINK_BAD_HELLO', 'hello: isEphemeral is not a boolean')
    peerMetadata.isEphemeral = meta.isEphemeral
  }
  const hello: Hello = { versions, peerId: peerId as PeerId, peerMetadata, features }
  if (m.needHello !== undefined) {
    if (typeof m.needHello !== 'boolean') throw fail('LINK_BAD_HELLO', 'hello: needHello is not a boolean')
    if (m.needHello) hello.needHello = true
  }
  if (m.summary !== undefined && m.summary !== null) {
    if (!isRecord(m.summary)) throw fail('LINK_BAD_SUMMARY', 'hello: summary is not a map')
    const ids = Object.keys(m.summary)
    if (ids.length > MAX_SUMMARY_DOCUMENTS) throw fail('LINK_BAD_SUMMARY', `summary: ${ids.length} documents, at most ${MAX_SUMMARY_DOCUMENTS}`)
    const summary: DocSummary = {}
    for (const id of ids) {
      if (id.length === 0 || id.length > MAX_DOCUMENT_ID_LENGTH) throw fail('LINK_BAD_SUMMARY', 'summary: bad documentId')
      const heads = m.summary[id]
      if (!Array.isArray(heads) || heads.length > MAX_SUMMARY_HEADS) throw fail('LINK_BAD_SUMMARY', `summary: heads of one document must be a list of at most ${MAX_SUMMARY_HEADS}`)
      summary[id] = heads
        .map((h: unknown) => {
          if (!(h instanceof Uint8Array) || h.length !== 32) throw fail('LINK_BAD_SUMMARY', 'summary: a head is not 32 bytes')
          return bytesToHex(h)
        })
        .sort()
    }
    hello.summary = summary
  }
  return hello
}

// ---- sync ------------------------------------------------------------------------------------

/**
 * A `sync` envelope: the automerge-repo message as CBOR, *without* `senderId` and `targetId` —
 * the link knows both (the peer ids the two hellos bound), so they need not travel and cannot be
 * spoofed. Any message type passes; automerge-repo checks the type-specific fields.
 */
export function encodeSync(version: number, message: Message): Uint8Array {
  const { senderId: _s, targetId: _t, ...rest } = message
  return encodeEnvelope(version, EnvelopeKind.Sync, cbor.encode(rest))
}

/** Parses a `sync` payload and completes it with the link's sender and target. Throws `LINK_BAD_SYNC`. */
export function decodeSync(payload: Uint8Array, ids: { senderId: PeerId; targetId: PeerId }): Message {
  const m = decodeCborMap(payload, 'LINK_BAD_SYNC', 'sync')
  if (typeof m.type !== 'string' || m.type.length === 0 || m.type.length > MAX_TYPE_LENGTH) throw fail('LINK_BAD_SYNC', 'sync: type must be a short string')
  if ('senderId' in m || 'targetId' in m) throw fail('LINK_BAD_SYNC', 'sync: senderId/targetId are the link’s, not the message’s')
  if (m.data !== undefined && !(m.data instanceof Uint8Array)) throw fail('LINK_BAD_SYNC', 'sync: data is not bytes')
  if (m.documentId !== undefined && (typeof m.documentId !== 'string' || m.documentId.length > MAX_DOCUMENT_ID_LENGTH)) throw fail('LINK_BAD_SYNC', 'sync: bad documentId')
  m.senderId = ids.senderId
  m.targetId = ids.targetId
  return m as unknown as Message
}

// ---- control ---------------------------------------------------------------------------------

export function encodeControl(version: number, control: Control): Uint8Array {
  const body: Record<string, unknown> = { ...control }
  if (typeof body.reason === 'string') body.reason = body.reason.slice(0, MAX_TEXT)
  if (typeof body.message === 'string') body.message = body.message.slice(0, MAX_TEXT)
  return encodeEnvelope(version, EnvelopeKind.Control, cbor.encode(body))
}

/**
 * Parses a `control` payload; `undefined` for a control type this build does not know (ignored,
 * per the forward-compatibility rule). Throws `LINK_BAD_CONTROL` for a malformed one.
 */
export function decodeControl(payload: Uint8Array): Control | undefined {
  const m = decodeCborMap(payload, 'LINK_BAD_CONTROL', 'control')
  const text = (v: unknown, field: string): string | undefined => {
    if (v === undefined) return undefined
    if (typeof v !== 'string' || v.length > MAX_TEXT) throw fail('LINK_BAD_CONTROL', `control: ${field} must be a string of at most ${MAX_TEXT} characters`)
    return v
  }
  switch (m.type) {
    case 'goodbye': {
      const reason = text(m.reason, 'reason')
      const out: Control = reason === undefined ? { type: 'goodbye' } : { type: 'goodbye', reason }
      if (m.retryAfterMs !== undefined) {
        const ms = m.retryAfterMs
        if (!Number.isSafeInteger(ms) || (ms as number) < 0 || (ms as number) > MAX_RETRY_AFTER_MS) throw fail('LINK_BAD_CONTROL', `control: retryAfterMs outside 0..${MAX_RETRY_AFTER_MS}`)
        out.retryAfterMs = ms as number
      }
      return out
    }
    case 'leave':
      return { type: 'leave' }
    case 'unsupported': {
      const out: Control = { type: 'unsupported', message: text(m.message, 'message') ?? '' }
      if (m.kind !== undefined) {
        if (!Number.isInteger(m.kind) || (m.kind as number) < 0 || (m.kind as number) > 255) throw fail('LINK_BAD_CONTROL', 'control: kind outside 0..255')
        out.kind = m.kind as number
      }
      if (m.versions !== undefined) {
        try {
          out.versions = smallIntList(m.versions, MAX_VERSIONS, 'versions')
        } catch (cause) {
          throw fail('LINK_BAD_CONTROL', 'control: bad versions', cause)
        }
      }
      return out
    }
    default:
      if (typeof m.type !== 'string') throw fail('LINK_BAD_CONTROL', 'control: type is not a string')
      return undefined
  }
}

// ---- signal ----------------------------------------------------------------------------------

const DEVICE_ID = /^[a-z2-7]{32}$/

/** Encodes a `signal` envelope. Throws `LINK_BAD_SIGNAL` for one beyond the bounds (nothing sent). */
export function encodeSignal(version: number, signal: Signal): Uint8Array {
  let body: Record<string, unknown>
  if (signal.type === 'routes') {
    if (signal.members.length > MAX_ROUTES) throw fail('LINK_BAD_SIGNAL', `routes: ${signal.members.length} members, at most ${MAX_ROUTES}`)
    body = { v: SIGNAL_VERSION, type: 'routes', members: signal.members }
  } else {
    if (signal.body.length > MAX_RELAY_BODY_BYTES) throw fail('LINK_BAD_SIGNAL', `relay: body of ${signal.body.length} bytes, at most ${MAX_RELAY_BODY_BYTES}`)
    body = { v: SIGNAL_VERSION, type: 'relay', to: signal.to, id: signal.id, expiresAt: signal.expiresAt, body: signal.body }
    if (signal.from !== undefined) body.from = signal.from
  }
  return encodeEnvelope(version, EnvelopeKind.Signal, cbor.encode(body))
}

/**
 * Parses a `signal` payload; `undefined` for a signal type this build does not know (ignored).
 * Throws `LINK_BAD_SIGNAL` for a malformed one.
 */
export function decodeSignal(payload: Uint8Array): Signal | undefined {
  const m = decodeCborMap(payload, 'LINK_BAD_SIGNAL', 'signal')
  const id = (v: unknown, field: string): string => {
    if (typeof v !== 'string' || !DEVICE_ID.test(v)) throw fail('LINK_BAD_SIGNAL', `signal: ${field} is not a device id`)
    return v
  }
  switch (m.type) {
    case 'routes': {
      if (!Array.isArray(m.members) || m.members.length > MAX_ROUTES) throw fail('LINK_BAD_SIGNAL', `routes: members must be a list of at most ${MAX_ROUTES} device ids`)
      return { type: 'routes', members: [...new Set(m.members.map((v: unknown) => id(v, 'a member')))] }
    }
    case 'relay': {
      if (!(m.id instanceof Uint8Array) || m.id.length !== 16) throw fail('LINK_BAD_SIGNAL', 'relay: id must be 16 bytes')
      if (!(m.body instanceof Uint8Array) || m.body.length === 0 || m.body.length > MAX_RELAY_BODY_BYTES) throw fail('LINK_BAD_SIGNAL', `relay: body must be 1..${MAX_RELAY_BODY_BYTES} bytes`)
      if (!Number.isSafeInteger(m.expiresAt) || (m.expiresAt as number) < 0) throw fail('LINK_BAD_SIGNAL', 'relay: expiresAt must be a non-negative integer')
      const out: Signal = { type: 'relay', to: id(m.to, 'to'), id: m.id, expiresAt: m.expiresAt as number, body: m.body }
      if (m.from !== undefined) out.from = id(m.from, 'from')
      return out
    }
    default:
      if (typeof m.type !== 'string') throw fail('LINK_BAD_SIGNAL', 'signal: type is not a string')
      return undefined
  }
}

// ---- blob ------------------------------------------------------------------------------------

/**
 * Encodes a `blob` envelope: the message's CBOR (src/core/blobs/protocol.ts, docs/protocol/blobs.md).
 * Throws the codec's `WireError` (`BLOB_*`) for a message beyond the bounds (nothing sent).
 */
export function encodeBlob(version: number, message: BlobMessage): Uint8Array {
  if (message.type !== 'data') return encodeEnvelope(version, EnvelopeKind.Blob, encodeBlobMessage(message))
  // A piece is written behind room for the header: its 256 KiB are not copied twice.
  return withHeader(encodeBlobDataAfter(message, ENVELOPE_HEADER_BYTES), version, EnvelopeKind.Blob)
}

/**
 * Parses a `blob` payload; `undefined` for a blob message type this build does not know (ignored).
 * Throws `WireError` with a `BLOB_*` code for a malformed one.
 */
export function decodeBlob(payload: Uint8Array): BlobMessage | undefined {
  return decodeBlobMessage(payload)
}

/** Highest version in both lists, or undefined. */
export function negotiateVersion(ours: readonly number[], theirs: readonly number[]): number | undefined {
  let best: number | undefined
  for (const v of ours) if (theirs.includes(v) && (best === undefined || v > best)) best = v
  return best
}

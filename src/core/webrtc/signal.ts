/**
 * Serverless signalling codes: a WebRTC offer or answer as one short, signed, single-use,
 * expiring string that travels by QR code or copy-paste instead of through a signalling server.
 *
 * Byte layout (version 1) is in docs/protocol/webrtc.md. In short:
 * `orbit-rtc1.` + base64url( body • Ed25519 signature over ("orbit-webrtc-signal/1" • body) ).
 *
 * @example
 * const code = encodeSignalCode({ type: 'offer', sdp, expiresAt: now() + 600_000 }, identity)
 * const parsed = parseSignalCode(code, { now, resolveMember, nonces, expectType: 'offer' })
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { deviceIdFromPublicKey, verifySignature } from '../crypto/identity.js'
import { WebRtcError } from '../errors.js'
import type { DeviceId } from '../ids.js'
import { randomBytes } from '../ids.js'
import { ByteReader, ByteWriter, decodeBase64Url, encodeBase64Url } from './code-bytes.js'
import type { EssentialCandidate, SdpEssentials } from './sdp-essentials.js'
import { essentialsToSdp, formatIp, ICE_CHARS, parseIpv4, parseIpv6, sdpToEssentials } from './sdp-essentials.js'

/** The text every signalling code starts with; its digit is the format version. */
export const SIGNAL_CODE_PREFIX = 'orbit-rtc1.'
/** Version byte inside the code. */
export const SIGNAL_CODE_VERSION = 1
/** Default lifetime of a code. */
export const DEFAULT_SIGNAL_TTL_MS = 10 * 60_000

const SIGNING_CONTEXT = new TextEncoder().encode('orbit-webrtc-signal/1')
const NONCE_BYTES = 16
const HASH_BYTES = 16
const KEY_BYTES = 32
const SIGNATURE_BYTES = 64
const MAX_CANDIDATES = 32
const KIND = { offer: 1, answer: 2 } as const
const SETUP = ['actpass', 'active', 'passive'] as const
const CANDIDATE_TYPES = ['host', 'srflx', 'prflx', 'relay'] as const

/** The part of a `DeviceIdentity` a code needs: the public key it carries, and signing. */
export interface SignalSigner {
  readonly publicKey: Uint8Array
  sign(message: Uint8Array): Uint8Array
}

/** What to put in a code. */
export interface SignalInput {
  readonly type: 'offer' | 'answer'
  /** The local description's SDP after ICE gathering completed (non-trickle). */
  readonly sdp: string
  /** Absolute expiry, ms since the epoch (stored with one-second resolution, rounded down). */
  readonly expiresAt: number
  /** For an answer: the `hash` of the parsed offer it answers. */
  readonly answers?: Uint8Array
  /** Injected for tests; 16 random bytes by default. */
  readonly nonce?: Uint8Array
  /** Keep only candidates this returns true for (e.g. drop addresses that must not leave the host). */
  readonly candidateFilter?: (candidate: EssentialCandidate) => boolean
}

/** A verified code. */
export interface SignalCode {
  readonly type: 'offer' | 'answer'
  readonly deviceId: DeviceId
  readonly publicKey: Uint8Array
  readonly expiresAt: number
  readonly nonce: Uint8Array
  /** First 16 bytes of SHA-256 of the signed body: what an answer names in `answers`. */
  readonly hash: Uint8Array
  /** For answers: the offer hash this answer is bound to. */
  readonly answers: Uint8Array | undefined
  readonly essentials: SdpEssentials
  /** A valid SDP rebuilt from the essentials, ready for `setRemoteDescription`. */
  readonly sdp: string
}

/** Records nonces of accepted codes so each code is consumed at most once. */
export interface NonceLedger {
  /** Returns false when the nonce was seen before (replay); otherwise records it until `expiresAt`. */
  consume(nonce: Uint8Array, expiresAt: number): boolean
}

/** Options for {@link parseSignalCode}. */
export interface ParseSignalOptions {
  readonly now: () => number
  /** The workspace's member list: the public key of a device, or undefined if it is not a member. */
  readonly resolveMember: (deviceId: DeviceId) => Uint8Array | undefined
  /** When given, a code whose nonce was already consumed is refused (`CODE_REPLAYED`). */
  readonly nonces?: NonceLedger
  /** Refuse a code of the other type (`CODE_WRONG_TYPE`). */
  readonly expectType?: 'offer' | 'answer'
}

/**
 * Builds a signed code from a local description.
 * Throws `WebRtcError` (`SDP_MALFORMED`, `CODE_NO_CANDIDATES`) when the SDP cannot be carried.
 */
export function encodeSignalCode(input: SignalInput, signer: SignalSigner): string {
  const essentials = sdpToEssentials(input.sdp)
  const candidates = essentials.candidates.filter((c) => input.candidateFilter?.(c) ?? true).slice(0, MAX_CANDIDATES)
  if (candidates.length === 0) throw new WebRtcError('no usable ICE candidate to put in the code', { code: 'CODE_NO_CANDIDATES' })
  const nonce = input.nonce ?? randomBytes(NONCE_BYTES)
  if (nonce.length !== NONCE_BYTES) throw new WebRtcError('nonce must be 16 bytes', { code: 'CODE_MALFORMED' })
  const w = new ByteWriter()
    .u8(SIGNAL_CODE_VERSION)
    .u8(KIND[input.type])
    .u32(Math.floor(input.expiresAt / 1000))
    .bytes(nonce)
  if (input.type === 'answer') {
    if (input.answers?.length !== HASH_BYTES) throw new WebRtcError('an answer must name the offer it answers', { code: 'CODE_MALFORMED' })
    w.bytes(input.answers)
  }
  if (signer.publicKey.length !== KEY_BYTES) throw new WebRtcError('signer public key must be 32 bytes', { code: 'CODE_MALFORMED' })
  w.bytes(signer.publicKey)
    .ascii(essentials.iceUfrag)
    .ascii(essentials.icePwd)
    .bytes(essentials.fingerprint)
    .u8(SETUP.indexOf(essentials.setup))
    .u16(essentials.sctpPort)
    .u32(essentials.maxMessageSize)
    .u8(candidates.length)
  for (const c of candidates) {
    const v4 = parseIpv4(c.address)
    const ip = v4 ?? (parseIpv6(c.address) as Uint8Array)
    w.u8(CANDIDATE_TYPES.indexOf(c.type) | (c.protocol === 'tcp' ? 4 : 0) | (v4 === undefined ? 8 : 0))
      .bytes(ip)
      .u16(c.port)
      .u32(c.priority)
  }
  const body = w.finish()
  const signature = signer.sign(signedMessage(body))
  const out = new Uint8Array(body.length + signature.length)
  out.set(body)
  out.set(signature, body.length)
  return SIGNAL_CODE_PREFIX + encodeBase64Url(out)
}

/**
 * Decodes and verifies a code. Every failure is a `WebRtcError`; its `code` says which:
 * `CODE_MALFORMED`, `CODE_TRUNCATED`, `CODE_VERSION`, `CODE_NOT_MEMBER` (signed by a device outside the
 * workspace), `CODE_BAD_SIGNATURE` (tampered), `CODE_EXPIRED`, `CODE_REPLAYED`, `CODE_WRONG_TYPE`.
 * Nothing is recorded unless the code is accepted.
 */
export function parseSignalCode(text: string, options: ParseSignalOptions): SignalCode {
  const trimmed = text.trim()
  if (!trimmed.startsWith(SIGNAL_CODE_PREFIX)) {
    if (/^orbit-rtc\d+\./.test(trimmed)) throw new WebRtcError('signalling code from another format version', { code: 'CODE_VERSION' })
    throw new WebRtcError(`not a signalling code (expected it to start with "${SIGNAL_CODE_PREFIX}")`, { code: 'CODE_MALFORMED' })
  }
  const raw = decodeBase64Url(trimmed.slice(SIGNAL_CODE_PREFIX.length))
  if (raw === undefined) throw new WebRtcError('signalling code holds characters outside base64url', { code: 'CODE_MALFORMED' })
  if (raw.length < 1 + SIGNATURE_BYTES) throw new WebRtcError('signalling code is truncated', { code: 'CODE_TRUNCATED' })
  const body = raw.subarray(0, raw.length - SIGNATURE_BYTES)
  const signature = raw.subarray(raw.length - SIGNATURE_BYTES)
  const r = new ByteReader(body)
  const version = r.u8()
  if (version !== SIGNAL_CODE_VERSION) throw new WebRtcError(`signalling code version ${version} is not supported`, { code: 'CODE_VERSION' })
  const kind = r.u8()
  if (kind !== KIND.offer && kind !== KIND.answer) throw new WebRtcError('signalling code of unknown kind', { code: 'CODE_MALFORMED' })
  const type = kind === KIND.offer ? 'offer' : 'answer'
  const expiresAt = r.u32() * 1000
  const nonce = r.take(NONCE_BYTES).slice()
  const answers = type === 'answer' ? r.take(HASH_BYTES).slice() : undefined
  const claimedKey = r.take(KEY_BYTES).slice()
  const iceUfrag = r.ascii()
  const icePwd = r.ascii()
  // The SDP rebuilt from the code must be one this build's own parser accepts (RFC 8839 ice-chars):
  // any other printable byte would reach the WebRTC stack unchecked.
  if (!ICE_CHARS.test(iceUfrag) || !ICE_CHARS.test(icePwd)) throw new WebRtcError('signalling code has a bad ICE ufrag or password', { code: 'CODE_MALFORMED' })
  const fingerprint = r.take(32).slice()
  const setup = SETUP[r.u8()]
  if (setup === undefined) throw new WebRtcError('signalling code has a bad DTLS role', { code: 'CODE_MALFORMED' })
  const sctpPort = r.u16()
  const maxMessageSize = r.u32()
  const count = r.u8()
  if (count === 0 || count > MAX_CANDIDATES) throw new WebRtcError('signalling code has no or too many candidates', { code: 'CODE_MALFORMED' })
  const candidates: EssentialCandidate[] = []
  for (let i = 0; i < count; i++) {
    const flags = r.u8()
    if (flags > 15) throw new WebRtcError('signalling code has a bad candidate', { code: 'CODE_MALFORMED' })
    const address = formatIp(r.take(flags & 8 ? 16 : 4))
    const port = r.u16()
    const priority = r.u32()
    if (port === 0) throw new WebRtcError('signalling code has a candidate on port 0', { code: 'CODE_MALFORMED' })
    candidates.push({ type: CANDIDATE_TYPES[flags & 3] as EssentialCandidate['type'], protocol: flags & 4 ? 'tcp' : 'udp', address, port, priority })
  }
  if (r.remaining !== 0) throw new WebRtcError('signalling code has trailing bytes', { code: 'CODE_MALFORMED' })
  if (sctpPort === 0) throw new WebRtcError('signalling code has sctp port 0', { code: 'CODE_MALFORMED' })

  const deviceId = deviceIdFromPublicKey(claimedKey)
  const publicKey = options.resolveMember(deviceId)
  if (publicKey === undefined || !sameBytes(publicKey, claimedKey)) {
    throw new WebRtcError(`signalling code signed by ${deviceId}, which is not a member of this workspace`, { code: 'CODE_NOT_MEMBER' })
  }
  if (!verifySignature(publicKey, signedMessage(body), signature)) {
    throw new WebRtcError('signalling code signature does not verify (tampered or forged)', { code: 'CODE_BAD_SIGNATURE' })
  }
  if (options.now() >= expiresAt) throw new WebRtcError('signalling code has expired', { code: 'CODE_EXPIRED' })
  if (options.expectType !== undefined && options.expectType !== type) {
    throw new WebRtcError(`expected an ${options.expectType} code, got an ${type} code`, { code: 'CODE_WRONG_TYPE' })
  }
  if (options.nonces !== undefined && !options.nonces.consume(nonce, expiresAt)) {
    throw new WebRtcError('signalling code was already used', { code: 'CODE_REPLAYED' })
  }
  const essentials: SdpEssentials = { iceUfrag, icePwd, fingerprint, setup, sctpPort, maxMessageSize, candidates }
  const hash = sha256(body).slice(0, HASH_BYTES)
  const sessionId = String(((hash[0] as number) << 16) | ((hash[1] as number) << 8) | (hash[2] as number))
  return { type, deviceId, publicKey, expiresAt, nonce, hash, answers, essentials, sdp: essentialsToSdp(essentials, sessionId) }
}

function signedMessage(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(SIGNING_CONTEXT.length + body.length)
  out.set(SIGNING_CONTEXT)
  out.set(body, SIGNING_CONTEXT.length)
  return out
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number)
  return diff === 0
}

/**
 * An in-memory {@link NonceLedger}. Entries are forgotten after their code expires, since an
 * expired code is refused on its expiry alone.
 */
export function createNonceLedger(now: () => number): NonceLedger {
  const seen = new Map<string, number>()
  return {
    consume(nonce, expiresAt) {
      const t = now()
      for (const [key, until] of seen) if (until <= t) seen.delete(key)
      const key = encodeBase64Url(nonce)
      if (seen.has(key)) return false
      seen.set(key, expiresAt)
      return true
    },
  }
}

/**
 * Sealed, signed envelopes (README.md, "Security": QR bundles readable only by workspace members, and
 * signed so the receiver knows which device wrote them).
 *
 *   sealed    := header • ciphertext • 64 signature
 *   header    := u8 version(1) • 20 senderId • 32 ephemeralX25519 • 24 nonce • u8 n (≥1)
 *                • n × (20 recipientId • 48 wrappedKey)
 *   wrapKey_i := HKDF-SHA256(ikm = X25519(ephemeral, recipientX25519_i),
 *                            salt = ephemeralX25519 ‖ recipientX25519_i, info = "orbit-seal-wrap-v1", 32)
 *   wrappedKey_i := XChaCha20-Poly1305(wrapKey_i, nonce = 24 zero bytes, aad = u8 version ‖ senderId ‖ recipientId_i)
 *                   .encrypt(contentKey)      — each wrapKey is used once, so a fixed nonce is safe
 *   ciphertext   := XChaCha20-Poly1305(contentKey, nonce, aad = header ‖ aad?).encrypt(plaintext)
 *   signature    := Ed25519_sender("orbit-seal-v1" ‖ header ‖ ciphertext ‖ aad?)
 *
 * Ids are the 20 raw bytes behind the 32-character device id. Recipient X25519 keys are their
 * Ed25519 keys mapped to Montgomery form (identity.ts). Recipient ids are visible (device ids are
 * public); contents and the content key are not.
 */
import { ed25519, x25519 } from '@noble/curves/ed25519.js'
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { CryptoError } from '../errors.js'
import { base32, randomBytes, type DeviceId } from '../ids.js'
import { ByteReader, concatBytes, fromBase32, utf8 } from './bytes.js'
import { assertPublicKey, deviceIdFromPublicKey, parseDeviceId, verifySignature, x25519Shared, type DeviceIdentity } from './identity.js'

/** Envelope format version. */
export const SEAL_VERSION = 1
const ID_BYTES = 20
const NONCE_BYTES = 24
const WRAPPED_BYTES = 32 + 16
const SIG_BYTES = 64
const WRAP_INFO = utf8('orbit-seal-wrap-v1')
const SIGN_LABEL = utf8('orbit-seal-v1')
const ZERO_NONCE = new Uint8Array(NONCE_BYTES)

/** A recipient: device id and Ed25519 public key (e.g. a workspace MemberDevice). */
export interface SealRecipient {
  deviceId: DeviceId
  publicKey: Uint8Array
}

/** Options of {@link seal}. */
export interface SealOptions {
  plaintext: Uint8Array
  sender: DeviceIdentity
  recipients: SealRecipient[]
  /** Extra authenticated data, not carried: the opener must pass the same bytes. */
  aad?: Uint8Array
}

/**
 * Encrypts `plaintext` for `recipients` and signs it as `sender`. Throws CryptoError
 * `NO_RECIPIENTS` / `TOO_MANY_RECIPIENTS` / `BAD_KEY` (a recipient key that is invalid or does not
 * match its device id).
 */
export function seal(options: SealOptions): Uint8Array {
  const { plaintext, sender, recipients } = options
  if (recipients.length === 0) throw new CryptoError('a sealed envelope needs at least one recipient', { code: 'NO_RECIPIENTS' })
  if (recipients.length > 255) throw new CryptoError('at most 255 recipients', { code: 'TOO_MANY_RECIPIENTS' })
  const senderId = fromBase32(sender.deviceId, 'sender')
  const ephemeralSecret = x25519.utils.randomSecretKey()
  const ephemeralPublic = x25519.getPublicKey(ephemeralSecret)
  const nonce = randomBytes(NONCE_BYTES)
  const contentKey = randomBytes(32)
  const entries: Uint8Array[] = []
  const seen = new Set<string>()
  for (const recipient of recipients) {
    try {
      assertPublicKey(recipient.publicKey)
    } catch (cause) {
      throw new CryptoError(`recipient ${recipient.deviceId} has an invalid public key`, { code: 'BAD_KEY', cause })
    }
    if (deviceIdFromPublicKey(recipient.publicKey) !== recipient.deviceId) {
      throw new CryptoError(`recipient ${recipient.deviceId}: public key does not match the device id`, { code: 'BAD_KEY' })
    }
    if (seen.has(recipient.deviceId)) continue
    seen.add(recipient.deviceId)
    const recipientId = fromBase32(recipient.deviceId, 'recipient')
    const recipientX = ed25519.utils.toMontgomery(recipient.publicKey)
    const wrapKey = deriveWrapKey(x25519Shared(ephemeralSecret, recipientX), ephemeralPublic, recipientX)
    const wrapped = xchacha20poly1305(wrapKey, ZERO_NONCE, wrapAad(senderId, recipientId)).encrypt(contentKey)
    entries.push(recipientId, wrapped)
  }
  const header = concatBytes(Uint8Array.of(SEAL_VERSION), senderId, ephemeralPublic, nonce, Uint8Array.of(seen.size), ...entries)
  const aad = options.aad ?? new Uint8Array(0)
  const ciphertext = xchacha20poly1305(contentKey, nonce, concatBytes(header, aad)).encrypt(plaintext)
  const signature = sender.sign(concatBytes(SIGN_LABEL, header, ciphertext, aad))
  return concatBytes(header, ciphertext, signature)
}

/** Options of {@link openSealed}. */
export interface OpenOptions {
  me: DeviceIdentity
  /** The sender's Ed25519 public key if it is a device we trust (e.g. a non-revoked member), else undefined. */
  resolveSender(deviceId: DeviceId): Uint8Array | undefined
  aad?: Uint8Array
}

/** The sender id of an envelope without opening it (for routing/diagnostics). Throws CryptoError `MALFORMED`. */
export function sealedSender(bytes: Uint8Array): DeviceId {
  return parseHeader(bytes).senderId
}

/**
 * Verifies and decrypts. Throws CryptoError with code `MALFORMED` / `UNSUPPORTED_VERSION` (not an
 * envelope, truncated), `UNKNOWN_SENDER`, `BAD_SIGNATURE` (tampered, or not signed by the
 * sender), `NOT_RECIPIENT`, `DECRYPT`.
 */
export function openSealed(bytes: Uint8Array, options: OpenOptions): { plaintext: Uint8Array; senderId: DeviceId } {
  const parsed = parseHeader(bytes)
  const senderKey = options.resolveSender(parsed.senderId)
  if (senderKey === undefined || deviceIdFromPublicKey(senderKey) !== parsed.senderId) {
    throw new CryptoError(`envelope from unknown device ${parsed.senderId}`, { code: 'UNKNOWN_SENDER' })
  }
  const aad = options.aad ?? new Uint8Array(0)
  if (!verifySignature(senderKey, concatBytes(SIGN_LABEL, parsed.header, parsed.ciphertext, aad), parsed.signature)) {
    throw new CryptoError('envelope signature does not verify (tampered or forged)', { code: 'BAD_SIGNATURE' })
  }
  const myId = fromBase32(options.me.deviceId, 'me')
  const entry = parsed.recipients.find((r) => r.id.every((b, i) => b === myId[i]))
  if (entry === undefined) throw new CryptoError('this device is not a recipient of the envelope', { code: 'NOT_RECIPIENT' })
  try {
    const wrapKey = deriveWrapKey(options.me.dh(parsed.ephemeral), parsed.ephemeral, options.me.noisePublicKey)
    const contentKey = xchacha20poly1305(wrapKey, ZERO_NONCE, wrapAad(parsed.senderIdBytes, myId)).decrypt(entry.wrapped)
    const plaintext = xchacha20poly1305(contentKey, parsed.nonce, concatBytes(parsed.header, aad)).decrypt(parsed.ciphertext)
    return { plaintext, senderId: parsed.senderId }
  } catch (cause) {
    throw new CryptoError('envelope does not decrypt', { code: 'DECRYPT', cause })
  }
}

interface ParsedEnvelope {
  header: Uint8Array
  senderId: DeviceId
  senderIdBytes: Uint8Array
  ephemeral: Uint8Array
  nonce: Uint8Array
  recipients: Array<{ id: Uint8Array; wrapped: Uint8Array }>
  ciphertext: Uint8Array
  signature: Uint8Array
}

function parseHeader(bytes: Uint8Array): ParsedEnvelope {
  const malformed = (what: string): CryptoError => new CryptoError(`not a sealed envelope (${what})`, { code: 'MALFORMED' })
  if (!(bytes instanceof Uint8Array)) throw malformed('not bytes')
  const r = new ByteReader(bytes, malformed)
  const version = r.u8('version')
  if (version !== SEAL_VERSION) throw new CryptoError(`sealed envelope version ${version} is not supported`, { code: 'UNSUPPORTED_VERSION' })
  const senderIdBytes = r.bytes(ID_BYTES, 'sender')
  const ephemeral = r.bytes(32, 'ephemeral key')
  const nonce = r.bytes(NONCE_BYTES, 'nonce')
  const count = r.u8('recipient count')
  if (count === 0) throw malformed('no recipients')
  const recipients: ParsedEnvelope['recipients'] = []
  for (let i = 0; i < count; i++) recipients.push({ id: r.bytes(ID_BYTES, 'recipient'), wrapped: r.bytes(WRAPPED_BYTES, 'wrapped key') })
  const header = bytes.subarray(0, r.offset)
  // Ciphertext is at least its 16-byte tag; the signature is the last 64 bytes.
  if (r.remaining < 16 + SIG_BYTES) throw malformed('truncated')
  const ciphertext = r.bytes(r.remaining - SIG_BYTES, 'ciphertext')
  const signature = r.bytes(SIG_BYTES, 'signature')
  return { header, senderId: parseDeviceId(base32(senderIdBytes)), senderIdBytes, ephemeral, nonce, recipients, ciphertext, signature }
}

function deriveWrapKey(shared: Uint8Array, ephemeralPublic: Uint8Array, recipientX: Uint8Array): Uint8Array {
  return hkdf(sha256, shared, concatBytes(ephemeralPublic, recipientX), WRAP_INFO, 32)
}

function wrapAad(senderId: Uint8Array, recipientId: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(SEAL_VERSION), senderId, recipientId)
}

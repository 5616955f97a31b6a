/**
 * Device identity: one long-term Ed25519 key pair per device (README.md, "Security").
 *
 * - The device id is derived from the public key, as Syncthing derives it from its certificate:
 *   `deviceId = base32lower(SHA-256("orbit-device-id-v1" ‖ ed25519PublicKey)[0..20])` — 20 bytes
 *   (160 bits) → 32 characters of `[a-z2-7]`, short enough for people to compare.
 * - The Noise static key is the same key on the Montgomery curve (RFC 7748 birational map, noble's
 *   `toMontgomery`/`toMontgomerySecret`), so one secret serves both signing and key agreement and
 *   a peer's Noise static key is checked against the Ed25519 key it claims (see channel.ts).
 * - The secret is held in a module-private WeakMap, never on the object: `JSON.stringify`,
 *   `util.inspect`, `Object.keys` and structured logging cannot reveal it.
 */
import { ed25519, x25519 } from '@noble/curves/ed25519.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { CryptoError, ValidationError } from '../errors.js'
import { base32, randomBytes, type DeviceId } from '../ids.js'
import { concatBytes, fromBase64Url, toBase64Url, utf8 } from './bytes.js'

/** Length in bytes of Ed25519 public keys, secrets and X25519 keys. */
export const KEY_BYTES = 32
/** Length in bytes of an Ed25519 signature. */
export const SIGNATURE_BYTES = 64
/** Length in characters of a device id. */
export const DEVICE_ID_LENGTH = 32

const DEVICE_ID_DOMAIN = utf8('orbit-device-id-v1')
const DEVICE_ID = /^[a-z2-7]{32}$/

/**
 * A device's long-term identity. Pass it to the handshake, to `seal`, to pairing; persist it with
 * the identity-fs adapter. It never exposes its secret key.
 */
export interface DeviceIdentity {
  /** Derived from `publicKey` with {@link deviceIdFromPublicKey}. */
  readonly deviceId: DeviceId
  /** Ed25519 public key, 32 bytes. */
  readonly publicKey: Uint8Array
  /** The X25519 public key used as the Noise static key (`toMontgomery(publicKey)`). */
  readonly noisePublicKey: Uint8Array
  /** Ed25519 signature (64 bytes) over `message`. */
  sign(message: Uint8Array): Uint8Array
  /** X25519(own static secret, `remotePublic`) — the Noise `DH(s, r)`. Throws CryptoError on a low-order point. */
  dh(remotePublic: Uint8Array): Uint8Array
}

const secrets = new WeakMap<DeviceIdentity, Uint8Array>()

class Identity implements DeviceIdentity {
  readonly deviceId: DeviceId
  readonly publicKey: Uint8Array
  readonly noisePublicKey: Uint8Array
  readonly #signing: Uint8Array
  readonly #agreement: Uint8Array

  constructor(secret: Uint8Array) {
    this.#signing = secret
    this.#agreement = ed25519.utils.toMontgomerySecret(secret)
    this.publicKey = ed25519.getPublicKey(secret)
    this.noisePublicKey = x25519.getPublicKey(this.#agreement)
    this.deviceId = deviceIdFromPublicKey(this.publicKey)
    secrets.set(this, secret)
    Object.freeze(this)
  }

  sign(message: Uint8Array): Uint8Array {
    return ed25519.sign(message, this.#signing)
  }

  dh(remotePublic: Uint8Array): Uint8Array {
    return x25519Shared(this.#agreement, remotePublic)
  }

  /** What logs and JSON see: the public half only. */
  toJSON(): { deviceId: DeviceId; publicKey: string } {
    return { deviceId: this.deviceId, publicKey: toBase64Url(this.publicKey) }
  }

  toString(): string {
    return `DeviceIdentity(${this.deviceId})`
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString()
  }
}

/** X25519 with typed errors (low-order points make noble throw). Exported for noise.ts and seal.ts. */
export function x25519Shared(secret: Uint8Array, remotePublic: Uint8Array): Uint8Array {
  if (remotePublic.length !== KEY_BYTES) throw new CryptoError('X25519 public key must be 32 bytes', { code: 'BAD_KEY' })
  try {
    return x25519.getSharedSecret(secret, remotePublic)
  } catch (cause) {
    throw new CryptoError('X25519 key agreement failed (low-order or invalid public key)', { code: 'BAD_KEY', cause })
  }
}

/** A new random identity. */
export function generateIdentity(): DeviceIdentity {
  return new Identity(randomBytes(KEY_BYTES))
}

/** Rebuilds an identity from its 32-byte Ed25519 secret (seed). The array is copied. */
export function identityFromSecret(secret: Uint8Array): DeviceIdentity {
  if (!(secret instanceof Uint8Array) || secret.length !== KEY_BYTES) {
    throw new ValidationError('identity secret must be 32 bytes', { field: 'secret' })
  }
  return new Identity(secret.slice())
}

/**
 * The identity's 32-byte secret, for persistence by an identity store adapter only. Never log it,
 * never send it. Returns a copy.
 */
export function exportIdentitySecret(identity: DeviceIdentity): Uint8Array {
  const secret = secrets.get(identity)
  if (secret === undefined) throw new CryptoError('not an identity created by this module', { code: 'FOREIGN_IDENTITY' })
  return secret.slice()
}

/** `base32lower(SHA-256("orbit-device-id-v1" ‖ publicKey)[0..20])` — see the module comment. */
export function deviceIdFromPublicKey(publicKey: Uint8Array): DeviceId {
  if (publicKey.length !== KEY_BYTES) throw new ValidationError('public key must be 32 bytes', { field: 'publicKey' })
  return base32(sha256(concatBytes(DEVICE_ID_DOMAIN, publicKey)).subarray(0, 20)) as DeviceId
}

/** Validates an untrusted device id (32 characters of lower-case base32). Throws ValidationError naming `field`. */
export function parseDeviceId(value: unknown, field = 'deviceId'): DeviceId {
  if (typeof value !== 'string' || !DEVICE_ID.test(value)) {
    throw new ValidationError(`${field}: not a device id (expected 32 lower-case base32 characters)`, { field })
  }
  return value as DeviceId
}

/** Groups of four for people to read aloud and compare: `abcd-efgh-…` (8 groups). */
export function formatDeviceId(id: DeviceId): string {
  return id.match(/.{1,4}/g)?.join('-') ?? id
}

/**
 * Lenient parse for ids typed or pasted by people: ignores case, spaces and dashes (so the
 * {@link formatDeviceId} form is accepted), then validates strictly.
 */
export function parseDeviceIdInput(value: unknown, field = 'deviceId'): DeviceId {
  return parseDeviceId(typeof value === 'string' ? value.replace(/[\s-]/g, '').toLowerCase() : value, field)
}

/** True when `value` is a syntactically valid device id. */
export const isDeviceId = (value: unknown): value is DeviceId => typeof value === 'string' && DEVICE_ID.test(value)

/** base64url (no padding) text form of an Ed25519 public key: 43 characters. */
export function encodePublicKey(publicKey: Uint8Array): string {
  if (publicKey.length !== KEY_BYTES) throw new ValidationError('public key must be 32 bytes', { field: 'publicKey' })
  return toBase64Url(publicKey)
}

/** Parses and validates (length, point on the curve) an untrusted Ed25519 public key. */
export function decodePublicKey(value: unknown, field = 'publicKey'): Uint8Array {
  if (typeof value !== 'string' || value.length !== 43) {
    throw new ValidationError(`${field}: not a public key (43 base64url characters)`, { field })
  }
  const bytes = fromBase64Url(value, field)
  assertPublicKey(bytes, field)
  return bytes
}

/** Throws ValidationError unless `bytes` is a valid Ed25519 point encoding. */
export function assertPublicKey(bytes: Uint8Array, field = 'publicKey'): void {
  if (bytes.length !== KEY_BYTES) throw new ValidationError(`${field}: public key must be 32 bytes`, { field })
  try {
    ed25519.Point.fromBytes(bytes)
  } catch (cause) {
    throw new ValidationError(`${field}: not a valid Ed25519 public key`, { field, cause })
  }
}

/** The X25519 (Noise static) key that corresponds to an Ed25519 public key. Throws ValidationError if invalid. */
export function noiseKeyFromPublicKey(publicKey: Uint8Array): Uint8Array {
  assertPublicKey(publicKey)
  return ed25519.utils.toMontgomery(publicKey)
}

/** Ed25519 verification; false (never a throw) for malformed keys or signatures. */
export function verifySignature(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== KEY_BYTES || signature.length !== SIGNATURE_BYTES) return false
  try {
    // zip215: false → strict RFC 8032 verification (no malleable encodings).
    return ed25519.verify(signature, message, publicKey, { zip215: false })
  } catch {
    return false
  }
}

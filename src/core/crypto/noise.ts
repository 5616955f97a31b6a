/**
 * Noise_XX_25519_ChaChaPoly_SHA256 (Noise Protocol Framework, revision 34), on noble primitives.
 *
 *   XX:
 *     -> e
 *     <- e, ee, s, es
 *     -> s, se
 *
 * Only what Orbit needs: the XX pattern, X25519, ChaCha20-Poly1305 (IETF, 96-bit nonce = 32 zero
 * bits ‖ 64-bit little-endian counter), SHA-256 (HASHLEN 32, BLOCKLEN 64), HKDF per §4.3. Tested
 * against the cacophony vectors (test/crypto/fixtures). The secure channel (channel.ts) builds the
 * Orbit handshake on top. Failures throw HandshakeError (handshake) or WireError (transport).
 */
import { x25519 } from '@noble/curves/ed25519.js'
import { chacha20poly1305 } from '@noble/ciphers/chacha.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { hmac } from '@noble/hashes/hmac.js'
import { HandshakeError, WireError } from '../errors.js'
import { randomBytes } from '../ids.js'
import { concatBytes, utf8 } from './bytes.js'
import { x25519Shared } from './identity.js'

/** Noise's maximum message length (§3). */
export const NOISE_MAX_MESSAGE = 65535
/** DHLEN for 25519. */
export const DH_BYTES = 32
/** AEAD tag length. */
export const TAG_BYTES = 16
const HASH_BYTES = 32
const PROTOCOL_NAME = utf8('Noise_XX_25519_ChaChaPoly_SHA256')
// 2^64-1 is reserved by the spec; we stop well before it, at the largest exact JS integer.
const MAX_NONCE = Number.MAX_SAFE_INTEGER

/**
 * An IETF ChaCha20-Poly1305 implementation (RFC 8439: 32-byte key, 12-byte nonce, 16-byte tag
 * appended). The default is @noble/ciphers (pure JS, ~40 MB/s here); a platform adapter may
 * inject a native one (Node's `chacha20-poly1305` is ~15× faster) — it must pass the vector test.
 */
export interface ChaChaPolyAead {
  /**
   * Returns ciphertext ‖ tag in a new array. It must not keep `plaintext` or return a view of it:
   * the secure channel seals every frame of a session from one reused buffer.
   */
  seal(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array): Uint8Array
  /** Throws (any error) when authentication fails. */
  open(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, ciphertext: Uint8Array): Uint8Array
}

/** The default AEAD: @noble/ciphers' chacha20poly1305. */
export const nobleChaChaPoly: ChaChaPolyAead = {
  seal: (key, nonce, ad, plaintext) => chacha20poly1305(key, nonce, ad).encrypt(plaintext),
  open: (key, nonce, ad, ciphertext) => chacha20poly1305(key, nonce, ad).decrypt(ciphertext),
}

/** The static key as the handshake needs it: the public half and a DH function (the secret stays inside). */
export interface NoiseStaticKey {
  readonly publicKey: Uint8Array
  dh(remotePublic: Uint8Array): Uint8Array
}

/** A static key from a raw X25519 secret (test vectors, tools). */
export function x25519StaticKey(secret: Uint8Array): NoiseStaticKey {
  const copy = secret.slice()
  return { publicKey: x25519.getPublicKey(copy), dh: (remote) => x25519Shared(copy, remote) }
}

function nonceBytes(n: number): Uint8Array {
  const nonce = new Uint8Array(12)
  // Little-endian 64-bit counter in bytes 4..11; n < 2^53 so two 32-bit halves suffice.
  let lo = n % 0x100000000
  let hi = Math.floor(n / 0x100000000)
  for (let i = 4; i < 8; i++) {
    nonce[i] = lo & 0xff
    lo = Math.floor(lo / 256)
  }
  for (let i = 8; i < 12; i++) {
    nonce[i] = hi & 0xff
    hi = Math.floor(hi / 256)
  }
  return nonce
}

/** Noise CipherState (§5.1). After the handshake, one per direction. */
export class CipherState {
  #k: Uint8Array | undefined
  #n = 0
  readonly #aead: ChaChaPolyAead

  constructor(key?: Uint8Array, aead: ChaChaPolyAead = nobleChaChaPoly) {
    this.#k = key
    this.#aead = aead
  }

  hasKey(): boolean {
    return this.#k !== undefined
  }

  /** Encrypts with the current nonce and increments it. Without a key, returns the plaintext. */
  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    if (this.#k === undefined) return plaintext
    if (this.#n >= MAX_NONCE) throw new WireError('nonce exhausted; reconnect', { code: 'NONCE_EXHAUSTED' })
    const out = this.#aead.seal(this.#k, nonceBytes(this.#n), ad, plaintext)
    this.#n++
    return out
  }

  /**
   * Decrypts with the current nonce; increments it only on success (§5.1). Throws WireError
   * code `DECRYPT` on authentication failure.
   */
  decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    if (this.#k === undefined) return ciphertext
    if (this.#n >= MAX_NONCE) throw new WireError('nonce exhausted; reconnect', { code: 'NONCE_EXHAUSTED' })
    if (ciphertext.length < TAG_BYTES) throw new WireError('ciphertext shorter than its tag', { code: 'DECRYPT' })
    let out: Uint8Array
    try {
      out = this.#aead.open(this.#k, nonceBytes(this.#n), ad, ciphertext)
    } catch (cause) {
      throw new WireError('decryption failed (tampered, replayed or out of order)', { code: 'DECRYPT', cause })
    }
    this.#n++
    return out
  }
}

/** HKDF as Noise defines it (§4.3), with HMAC-SHA256, two or three outputs. */
function hkdf(chainingKey: Uint8Array, ikm: Uint8Array, outputs: 2 | 3): Uint8Array[] {
  const temp = hmac(sha256, chainingKey, ikm)
  const out1 = hmac(sha256, temp, Uint8Array.of(1))
  const out2 = hmac(sha256, temp, concatBytes(out1, Uint8Array.of(2)))
  if (outputs === 2) return [out1, out2]
  return [out1, out2, hmac(sha256, temp, concatBytes(out2, Uint8Array.of(3)))]
}

/** Noise SymmetricState (§5.2). */
class SymmetricState {
  cipher: CipherState
  ck: Uint8Array
  h: Uint8Array

  constructor(
    protocolName: Uint8Array,
    readonly aead: ChaChaPolyAead,
  ) {
    this.cipher = new CipherState(undefined, aead)
    if (protocolName.length <= HASH_BYTES) {
      this.h = new Uint8Array(HASH_BYTES)
      this.h.set(protocolName)
    } else {
      this.h = sha256(protocolName)
    }
    this.ck = this.h.slice()
  }

  mixKey(ikm: Uint8Array): void {
    const [ck, k] = hkdf(this.ck, ikm, 2) as [Uint8Array, Uint8Array]
    this.ck = ck
    this.cipher = new CipherState(k, this.aead)
  }

  mixHash(data: Uint8Array): void {
    this.h = sha256(concatBytes(this.h, data))
  }

  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    const ciphertext = this.cipher.encryptWithAd(this.h, plaintext)
    this.mixHash(ciphertext)
    return ciphertext
  }

  decryptAndHash(ciphertext: Uint8Array): Uint8Array {
    const plaintext = this.cipher.decryptWithAd(this.h, ciphertext)
    this.mixHash(ciphertext)
    return plaintext
  }

  split(): [CipherState, CipherState] {
    const [k1, k2] = hkdf(this.ck, new Uint8Array(0), 2) as [Uint8Array, Uint8Array]
    return [new CipherState(k1, this.aead), new CipherState(k2, this.aead)]
  }
}

/** Options of {@link XXHandshake}. */
export interface XXHandshakeOptions {
  initiator: boolean
  /** Bytes both sides must agree on, mixed into the transcript (§6). */
  prologue: Uint8Array
  /** This side's static key. */
  staticKey: NoiseStaticKey
  /** Fixed ephemeral secret — ONLY for test vectors. Fresh random ephemerals otherwise. */
  ephemeralSecret?: Uint8Array
  /** ChaCha20-Poly1305 implementation; defaults to {@link nobleChaChaPoly}. */
  aead?: ChaChaPolyAead
}

/** Transport keys after the handshake. */
export interface NoiseTransport {
  send: CipherState
  receive: CipherState
  /** The handshake hash `h`: unique per session, both sides agree on it (channel binding). */
  handshakeHash: Uint8Array
  /** The peer's static X25519 public key. */
  remoteStatic: Uint8Array
}

/**
 * One XX handshake, driven message by message. Messages alternate: the initiator writes 1 and 3,
 * the responder writes 2. Call `finish()` after message 3 for the transport keys.
 */
export class XXHandshake {
  readonly initiator: boolean
  #ss: SymmetricState
  #s: NoiseStaticKey
  #eSecret: Uint8Array
  #ePublic: Uint8Array
  #re: Uint8Array | undefined
  #rs: Uint8Array | undefined
  #step = 0

  constructor(options: XXHandshakeOptions) {
    this.initiator = options.initiator
    this.#s = options.staticKey
    this.#eSecret = options.ephemeralSecret?.slice() ?? randomBytes(DH_BYTES)
    this.#ePublic = x25519.getPublicKey(this.#eSecret)
    this.#ss = new SymmetricState(PROTOCOL_NAME, options.aead ?? nobleChaChaPoly)
    this.#ss.mixHash(options.prologue)
  }

  /** The running handshake hash. */
  get handshakeHash(): Uint8Array {
    return this.#ss.h.slice()
  }

  /** The peer's static key, once received (after message 2 for the initiator, 3 for the responder). */
  get remoteStatic(): Uint8Array | undefined {
    return this.#rs?.slice()
  }

  get complete(): boolean {
    return this.#step === 3
  }

  /** True when it is this side's turn to write. */
  get myTurn(): boolean {
    return this.#step < 3 && (this.#step % 2 === 0) === this.initiator
  }

  #dhE(remote: Uint8Array): Uint8Array {
    return x25519Shared(this.#eSecret, remote)
  }

  /** Writes the next handshake message carrying `payload`. */
  writeMessage(payload: Uint8Array): Uint8Array {
    if (!this.myTurn) throw new HandshakeError('not our turn to write a handshake message', { code: 'STATE' })
    const ss = this.#ss
    const parts: Uint8Array[] = []
    if (this.#step === 0) {
      parts.push(this.#ePublic)
      ss.mixHash(this.#ePublic)
    } else if (this.#step === 1) {
      parts.push(this.#ePublic)
      ss.mixHash(this.#ePublic)
      ss.mixKey(this.#dhE(this.#re as Uint8Array)) // ee
      parts.push(ss.encryptAndHash(this.#s.publicKey)) // s
      ss.mixKey(this.#s.dh(this.#re as Uint8Array)) // es (responder: DH(s, re))
    } else {
      parts.push(ss.encryptAndHash(this.#s.publicKey)) // s
      ss.mixKey(this.#s.dh(this.#re as Uint8Array)) // se (initiator: DH(s, re))
    }
    parts.push(ss.encryptAndHash(payload))
    const message = concatBytes(...parts)
    if (message.length > NOISE_MAX_MESSAGE) throw new HandshakeError('handshake message too long', { code: 'TOO_LONG' })
    this.#step++
    return message
  }

  /** Reads the peer's next handshake message and returns its payload. Throws HandshakeError. */
  readMessage(message: Uint8Array): Uint8Array {
    if (this.myTurn || this.#step >= 3) throw new HandshakeError('unexpected handshake message', { code: 'STATE' })
    if (message.length > NOISE_MAX_MESSAGE) throw new HandshakeError('handshake message too long', { code: 'TOO_LONG' })
    const ss = this.#ss
    let offset = 0
    const take = (length: number): Uint8Array => {
      if (offset + length > message.length) throw new HandshakeError('handshake message truncated', { code: 'TRUNCATED' })
      const part = message.subarray(offset, offset + length)
      offset += length
      return part
    }
    try {
      if (this.#step === 0) {
        this.#re = take(DH_BYTES).slice()
        ss.mixHash(this.#re)
      } else if (this.#step === 1) {
        this.#re = take(DH_BYTES).slice()
        ss.mixHash(this.#re)
        ss.mixKey(this.#dhE(this.#re)) // ee
        this.#rs = ss.decryptAndHash(take(DH_BYTES + TAG_BYTES)).slice() // s
        ss.mixKey(this.#dhE(this.#rs)) // es (initiator: DH(e, rs))
      } else {
        this.#rs = ss.decryptAndHash(take(DH_BYTES + TAG_BYTES)).slice() // s
        ss.mixKey(this.#dhE(this.#rs)) // se (responder: DH(e, rs))
      }
      const payload = ss.decryptAndHash(message.subarray(offset))
      this.#step++
      return payload
    } catch (cause) {
      if (cause instanceof HandshakeError) throw cause
      throw new HandshakeError('handshake message rejected (bad key or failed authentication)', { code: 'BAD_MESSAGE', cause })
    }
  }

  /** The transport cipher states, once all three messages are through. */
  finish(): NoiseTransport {
    if (!this.complete || this.#rs === undefined) throw new HandshakeError('handshake not complete', { code: 'STATE' })
    const [c1, c2] = this.#ss.split()
    return {
      send: this.initiator ? c1 : c2,
      receive: this.initiator ? c2 : c1,
      handshakeHash: this.#ss.h.slice(),
      remoteStatic: this.#rs.slice(),
    }
  }
}

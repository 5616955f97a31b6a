/**
 * QR-only pairing: the joiner scans the invite QR, then shows back an acceptance code/QR that
 * the inviter scans. No network needed.
 *
 *   acceptance := u8 version(1) • u32 createdAt (s) • 32 inviterPublicKey • 32 joinerPublicKey
 *                 • str8 joinerName • 32 proof • 64 signature • 4 checksum
 *   proof      := HMAC-SHA256(secret, inviterPublicKey ‖ joinerPublicKey ‖ "orbit-accept-v1")
 *   signature  := Ed25519_joiner("orbit-accept-v1" ‖ every byte before the signature)
 *   checksum   := SHA-256("orbit-accept:" ‖ every byte before the checksum)[0..4]
 *   code       := "orbit-accept:" base64url(acceptance)
 *
 * The proof shows the joiner saw the invite (only the QR carried the secret); the signature shows
 * it holds the key it claims, so the inviter can add exactly that key as a member.
 */
import { hmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { PairingError } from '../errors.js'
import { ByteReader, concatBytes, equalBytes, fromBase64Url, string8, toBase64Url, utf8, writeU32 } from '../crypto/bytes.js'
import { assertPublicKey, deviceIdFromPublicKey, verifySignature, type DeviceIdentity } from '../crypto/identity.js'
import { assertInviteUsable, type Invite, type PendingInvite } from './invite.js'
import type { InviteStore } from './invite-store.js'
import type { Joiner } from './exchange.js'

/** Prefix of acceptance codes. */
export const ACCEPT_PREFIX = 'orbit-accept:'
/** Acceptance format version. */
export const ACCEPT_VERSION = 1
const LABEL = utf8('orbit-accept-v1')
const CHECKSUM_BYTES = 4

/** `HMAC-SHA256(secret, inviterPublicKey ‖ joinerPublicKey ‖ "orbit-accept-v1")`. */
export function acceptanceProof(secret: Uint8Array, inviterPublicKey: Uint8Array, joinerPublicKey: Uint8Array): Uint8Array {
  return hmac(sha256, secret, concatBytes(inviterPublicKey, joinerPublicKey, LABEL))
}

/**
 * Joiner side: the code to show back to the inviter (render it as a QR code). Throws PairingError
 * `EXPIRED` when `now` is given and the invite has expired.
 */
export function createAcceptance(invite: Invite, joiner: DeviceIdentity, name: string, now?: number): string {
  if (now !== undefined) assertInviteUsable(invite, now)
  const created = new Uint8Array(4)
  writeU32(created, 0, Math.floor((now ?? 0) / 1000))
  const signed = concatBytes(
    Uint8Array.of(ACCEPT_VERSION),
    created,
    invite.inviterPublicKey,
    joiner.publicKey,
    string8(name, 'name'),
    acceptanceProof(invite.secret, invite.inviterPublicKey, joiner.publicKey),
  )
  const body = concatBytes(signed, joiner.sign(concatBytes(LABEL, signed)))
  return ACCEPT_PREFIX + toBase64Url(concatBytes(body, checksum(body)))
}

/** A parsed, signature-checked acceptance (the invite secret is not checked yet). */
export interface Acceptance {
  version: number
  createdAt: number
  inviterPublicKey: Uint8Array
  joiner: Joiner
  proof: Uint8Array
}

/**
 * Parses an acceptance code and checks its signature. Throws PairingError `MALFORMED`,
 * `CHECKSUM`, `UNSUPPORTED_VERSION` or `BAD_SIGNATURE`.
 */
export function parseAcceptance(text: unknown): Acceptance {
  if (typeof text !== 'string') throw malformed('not a string')
  const trimmed = text.trim()
  if (!trimmed.startsWith(ACCEPT_PREFIX) || trimmed.length > 4096) throw malformed(`does not start with "${ACCEPT_PREFIX}" or too long`)
  let bytes: Uint8Array
  try {
    bytes = fromBase64Url(trimmed.slice(ACCEPT_PREFIX.length), 'acceptance')
  } catch (cause) {
    throw new PairingError('acceptance code is not valid base64url', { code: 'MALFORMED', cause })
  }
  if (bytes.length < 1 + CHECKSUM_BYTES) throw malformed('too short')
  const body = bytes.subarray(0, bytes.length - CHECKSUM_BYTES)
  if (!equalBytes(checksum(body), bytes.subarray(bytes.length - CHECKSUM_BYTES))) {
    throw new PairingError('acceptance code is damaged (checksum mismatch); scan it again', { code: 'CHECKSUM' })
  }
  const r = new ByteReader(body, malformed)
  const version = r.u8('version')
  if (version !== ACCEPT_VERSION) throw new PairingError(`acceptance version ${version} is not supported; update Orbit`, { code: 'UNSUPPORTED_VERSION' })
  const createdAt = r.u32('created') * 1000
  const inviterPublicKey = r.bytes(32, 'inviter key').slice()
  const joinerPublicKey = r.bytes(32, 'joiner key').slice()
  const name = r.string8('name')
  const proof = r.bytes(32, 'proof').slice()
  const signedLength = r.offset
  const signature = r.bytes(64, 'signature')
  r.end('acceptance')
  try {
    assertPublicKey(inviterPublicKey)
    assertPublicKey(joinerPublicKey)
  } catch (cause) {
    throw new PairingError('acceptance carries an invalid key', { code: 'MALFORMED', cause })
  }
  if (!verifySignature(joinerPublicKey, concatBytes(LABEL, body.subarray(0, signedLength)), signature)) {
    throw new PairingError('acceptance signature does not verify', { code: 'BAD_SIGNATURE' })
  }
  return {
    version,
    createdAt,
    inviterPublicKey,
    joiner: { deviceId: deviceIdFromPublicKey(joinerPublicKey), publicKey: joinerPublicKey, name },
    proof,
  }
}

/**
 * Inviter side: verifies an acceptance code against the pending invites issued by `inviter`,
 * consumes the matching invite (single use) and returns the joiner to add as a member. A wrong,
 * expired or used secret, or an acceptance for another inviter, throws the same PairingError
 * `REFUSED`; bad codes throw the errors of {@link parseAcceptance}.
 */
export async function verifyAcceptance(
  code: string,
  store: InviteStore,
  now: number,
  inviter: Pick<DeviceIdentity, 'deviceId' | 'publicKey'>,
): Promise<{ joiner: Joiner; invite: PendingInvite }> {
  const acceptance = parseAcceptance(code)
  const refused = (): PairingError => new PairingError('acceptance refused: the invite is wrong, expired or already used', { code: 'REFUSED' })
  if (!equalBytes(acceptance.inviterPublicKey, inviter.publicKey)) throw refused()
  let match: PendingInvite | undefined
  for (const invite of await store.list(now)) {
    const expected = acceptanceProof(invite.secret, inviter.publicKey, acceptance.joiner.publicKey)
    if (invite.inviterDeviceId === inviter.deviceId && equalBytes(expected, acceptance.proof) && match === undefined) match = invite
  }
  if (match === undefined) throw refused()
  const taken = await store.take(match.secretHash)
  if (taken === undefined || now >= taken.expiresAt) throw refused()
  return { joiner: acceptance.joiner, invite: taken }
}

function checksum(body: Uint8Array): Uint8Array {
  return sha256(concatBytes(utf8(ACCEPT_PREFIX), body)).subarray(0, CHECKSUM_BYTES)
}

function malformed(what: string): PairingError {
  return new PairingError(`acceptance code is malformed (${what})`, { code: 'MALFORMED' })
}

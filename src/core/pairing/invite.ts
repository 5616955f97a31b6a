/**
 * Pairing invites (README.md, "Security"): what the inviting device shows as a code or QR code — its device
 * id and key, name, workspace, addresses, and a one-time, expiring 16-byte secret.
 *
 * Code: `orbit-invite:` + base64url(binary), binary layout in docs/protocol/pairing.md. The
 * trailing checksum catches copy/paste and scan errors; it is not a signature — the invite is
 * the root of trust and must travel over a channel the user trusts (their own screen/camera).
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { PairingError, ValidationError } from '../errors.js'
import { parseWorkspaceId, randomBytes, base32, type DeviceId, type WorkspaceId } from '../ids.js'
import { ByteReader, concatBytes, equalBytes, fromBase32, fromBase64Url, string8, toBase64Url, toHex, writeU32 } from '../crypto/bytes.js'
import { assertPublicKey, deviceIdFromPublicKey, type DeviceIdentity } from '../crypto/identity.js'

/** Current invite format version. */
export const INVITE_VERSION = 1
/** Prefix of every invite code. */
export const INVITE_PREFIX = 'orbit-invite:'
/** Bytes of the one-time secret. */
export const INVITE_SECRET_BYTES = 16
/** At most this many addresses per invite. */
export const MAX_INVITE_ADDRESSES = 8
/** Default lifetime of an invite. */
export const DEFAULT_INVITE_TTL_MS = 15 * 60 * 1000
const CHECKSUM_BYTES = 4
const MAX_ADDRESS_BYTES = 64

/** A parsed invite. */
export interface Invite {
  version: number
  inviterDeviceId: DeviceId
  /** Inviter's Ed25519 public key. */
  inviterPublicKey: Uint8Array
  inviterName: string
  workspaceId: WorkspaceId
  /** "ip:port", "[ipv6]:port" or "host:port" where the inviter listens (hints; the key is what counts). */
  addresses: string[]
  /** The one-time secret (16 bytes). */
  secret: Uint8Array
  /** Expiry, ms since the epoch (whole seconds). */
  expiresAt: number
}

/** What the inviting device remembers about an invite it issued (InviteStore record). */
export interface PendingInvite {
  /** {@link inviteSecretHash} of the secret: the store key. */
  secretHash: string
  secret: Uint8Array
  workspaceId: WorkspaceId
  inviterDeviceId: DeviceId
  createdAt: number
  expiresAt: number
}

/** Options of {@link createInvite}. */
export interface CreateInviteOptions {
  identity: DeviceIdentity
  workspaceId: WorkspaceId
  deviceName: string
  addresses: string[]
  ttlMs?: number
  now: number
  /** Injected randomness for tests; defaults to the platform CSPRNG. */
  random?: (length: number) => Uint8Array
}

/**
 * Issues an invite. Put `pending` into the InviteStore, show `code` (or its QR) to the joiner.
 * @example
 * const { code, pending } = createInvite({ identity, workspaceId, deviceName: 'Laptop', addresses: ['192.168.1.5:7420'], now: Date.now() })
 * await store.put(pending)
 */
export function createInvite(options: CreateInviteOptions): { invite: Invite; code: string; secret: Uint8Array; pending: PendingInvite } {
  const ttl = options.ttlMs ?? DEFAULT_INVITE_TTL_MS
  if (!Number.isFinite(ttl) || ttl <= 0) throw new ValidationError('ttlMs must be positive', { field: 'ttlMs' })
  const secret = (options.random ?? randomBytes)(INVITE_SECRET_BYTES)
  const invite: Invite = {
    version: INVITE_VERSION,
    inviterDeviceId: options.identity.deviceId,
    inviterPublicKey: options.identity.publicKey.slice(),
    inviterName: options.deviceName,
    workspaceId: parseWorkspaceId(options.workspaceId),
    addresses: options.addresses.map((a, i) => parseAddress(a, `addresses.${i}`)),
    secret,
    expiresAt: Math.floor((options.now + ttl) / 1000) * 1000,
  }
  const code = encodeInviteCode(invite)
  const pending: PendingInvite = {
    secretHash: inviteSecretHash(secret),
    secret: secret.slice(),
    workspaceId: invite.workspaceId,
    inviterDeviceId: invite.inviterDeviceId,
    createdAt: options.now,
    expiresAt: invite.expiresAt,
  }
  return { invite, code, secret: secret.slice(), pending }
}

/** Hex SHA-256 of the secret: how stores key pending invites without the secret in the key. */
export function inviteSecretHash(secret: Uint8Array): string {
  return toHex(sha256(secret))
}

/** Binary → `orbit-invite:<base64url>`. */
export function encodeInviteCode(invite: Invite): string {
  if (invite.secret.length !== INVITE_SECRET_BYTES) throw new ValidationError('secret must be 16 bytes', { field: 'secret' })
  if (invite.addresses.length > MAX_INVITE_ADDRESSES) throw new ValidationError(`at most ${MAX_INVITE_ADDRESSES} addresses`, { field: 'addresses' })
  const expires = new Uint8Array(4)
  writeU32(expires, 0, Math.floor(invite.expiresAt / 1000))
  const body = concatBytes(
    Uint8Array.of(invite.version),
    expires,
    invite.inviterPublicKey,
    invite.secret,
    fromBase32(invite.workspaceId.slice(3), 'workspaceId'),
    string8(invite.inviterName, 'deviceName'),
    Uint8Array.of(invite.addresses.length),
    ...invite.addresses.map((a) => string8(parseAddress(a), 'addresses')),
  )
  return INVITE_PREFIX + toBase64Url(concatBytes(body, checksum(body)))
}

/**
 * Parses an untrusted invite code (surrounding whitespace allowed). Throws PairingError with code
 * `MALFORMED`, `CHECKSUM` or `UNSUPPORTED_VERSION`. Does not check expiry: use {@link assertInviteUsable}.
 */
export function parseInviteCode(text: unknown): Invite {
  if (typeof text !== 'string') throw malformed('not a string')
  const trimmed = text.trim()
  if (!trimmed.startsWith(INVITE_PREFIX)) throw malformed(`does not start with "${INVITE_PREFIX}"`)
  if (trimmed.length > 4096) throw malformed('too long')
  let bytes: Uint8Array
  try {
    bytes = fromBase64Url(trimmed.slice(INVITE_PREFIX.length), 'invite')
  } catch (cause) {
    throw new PairingError('invite code is not valid base64url', { code: 'MALFORMED', cause })
  }
  if (bytes.length < 1 + CHECKSUM_BYTES) throw malformed('too short')
  const body = bytes.subarray(0, bytes.length - CHECKSUM_BYTES)
  if (!equalBytes(checksum(body), bytes.subarray(bytes.length - CHECKSUM_BYTES))) {
    throw new PairingError('invite code is damaged (checksum mismatch); copy or scan it again', { code: 'CHECKSUM' })
  }
  const r = new ByteReader(body, (what) => malformed(what))
  const version = r.u8('version')
  if (version !== INVITE_VERSION) {
    throw new PairingError(`invite format version ${version} is not supported (this build reads ${INVITE_VERSION}); update Orbit`, { code: 'UNSUPPORTED_VERSION' })
  }
  const expiresAt = r.u32('expiry') * 1000
  const inviterPublicKey = r.bytes(32, 'public key').slice()
  try {
    assertPublicKey(inviterPublicKey)
  } catch (cause) {
    throw new PairingError('invite carries an invalid public key', { code: 'MALFORMED', cause })
  }
  const secret = r.bytes(INVITE_SECRET_BYTES, 'secret').slice()
  const workspaceId = `ws_${base32(r.bytes(16, 'workspace'))}` as WorkspaceId
  const inviterName = r.string8('name')
  const count = r.u8('address count')
  if (count > MAX_INVITE_ADDRESSES) throw malformed('too many addresses')
  const addresses: string[] = []
  for (let i = 0; i < count; i++) {
    try {
      addresses.push(parseAddress(r.string8('address')))
    } catch (cause) {
      if (cause instanceof PairingError) throw cause
      throw new PairingError('invite carries an invalid address', { code: 'MALFORMED', cause })
    }
  }
  r.end('invite')
  return { version, inviterDeviceId: deviceIdFromPublicKey(inviterPublicKey), inviterPublicKey, inviterName, workspaceId, addresses, secret, expiresAt }
}

/** Throws PairingError `EXPIRED` when the invite is no longer usable at `now`. */
export function assertInviteUsable(invite: { expiresAt: number }, now: number): void {
  if (now >= invite.expiresAt) throw new PairingError('this invite has expired; ask for a new one', { code: 'EXPIRED' })
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3}):(\d{1,5})$/
const IPV6 = /^\[[0-9a-fA-F:.]{2,45}(%[A-Za-z0-9_.-]{1,16})?\]:(\d{1,5})$/
const HOST = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9-]{1,63})*:(\d{1,5})$/

/** Validates "ip:port" / "[ipv6]:port" / "host:port". Throws ValidationError naming `field`. */
export function parseAddress(value: unknown, field = 'address'): string {
  const bad = (): ValidationError => new ValidationError(`${field}: expected "ip:port", "[ipv6]:port" or "host:port"`, { field })
  if (typeof value !== 'string' || value.length > MAX_ADDRESS_BYTES) throw bad()
  const v4 = IPV4.exec(value)
  const port = Number((v4 ?? IPV6.exec(value) ?? HOST.exec(value))?.at(-1))
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad()
  if (v4 && v4.slice(1, 5).some((o) => Number(o) > 255)) throw bad()
  return value
}

function checksum(body: Uint8Array): Uint8Array {
  return sha256(concatBytes(new TextEncoder().encode(INVITE_PREFIX), body)).subarray(0, CHECKSUM_BYTES)
}

function malformed(what: string): PairingError {
  return new PairingError(`invite code is malformed (${what})`, { code: 'MALFORMED' })
}


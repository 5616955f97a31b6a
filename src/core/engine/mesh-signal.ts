/**
 * End-to-end security of mesh signalling (docs/protocol/mesh.md): what two members send each other
 * through a relay member — a WebRTC offer or answer code, or a refusal — is sealed for the
 * recipient's device key and signed by the sender's (src/core/crypto/seal.ts), with the relay
 * envelope's `id`, `to` and `expiresAt` bound into the signature. A relay can drop or delay a
 * message, never read, alter, redirect, extend or forge one.
 *
 * The receiving side ({@link SignalInbox}) refuses, each with a typed `WireError` and nothing
 * else done: an expired message (`MESH_EXPIRED`), one for another device (`MESH_NOT_FOR_ME`), one
 * whose sender is not a current member (`MESH_NOT_MEMBER`), one whose sealed sender is not the
 * device the relay named (`MESH_SENDER_MISMATCH`), a bad signature or body (`MESH_BAD_SIGNATURE`,
 * `MESH_MALFORMED`), and a replay (`MESH_REPLAYED`: ids seen within the expiry window are kept,
 * at most `maxSeen`; when that many are live, new ones are refused `MESH_BUSY` rather than an old
 * one forgotten).
 *
 * Platform-free: no I/O, no timers; the caller passes `now`.
 */
import { cbor } from '@automerge/automerge-repo'
import { concatBytes, toHex, utf8 } from '../crypto/bytes.js'
import type { DeviceIdentity } from '../crypto/identity.js'
import { openSealed, seal, sealedSender } from '../crypto/seal.js'
import { CryptoError, WireError } from '../errors.js'
import { randomBytes, type DeviceId } from '../ids.js'
import { MAX_RELAY_TTL_MS } from '../link/signal-relay.js'
import type { Signal } from '../link/envelope.js'

/** Version of the sealed mesh body (inside the seal's signed plaintext as `v`). */
export const MESH_SIGNAL_VERSION = 1
/** Default lifetime of a relayed message. */
export const DEFAULT_MESH_TTL_MS = 30_000
/** Default bound on remembered message ids. */
export const DEFAULT_MAX_SEEN = 4096
const AAD_LABEL = utf8('orbit-mesh-v1')
const MAX_CODE = 8 * 1024
const MAX_TEXT = 256

/** A relay envelope (the `signal` kind's `relay`). */
export type RelaySignal = Extract<Signal, { type: 'relay' }>

/** What members say to each other through a relay. `re` names the message answered (its id, hex). */
export type MeshBody =
  | { type: 'offer'; code: string }
  | { type: 'answer'; re: string; code: string }
  | { type: 'refuse'; re: string; code: string; message: string }

/** A message opened and verified. */
export interface OpenedSignal {
  from: DeviceId
  /** The relay envelope's id, hex. */
  id: string
  body: MeshBody
}

/** The additional data every seal binds: label ‖ id ‖ to ‖ expiresAt (decimal). */
function aadOf(id: Uint8Array, to: string, expiresAt: number): Uint8Array {
  return concatBytes(AAD_LABEL, id, utf8(to), utf8(String(expiresAt)))
}

/**
 * Seals `body` for `recipient` as `sender`: a relay envelope ready for {@link SignalRelay.send}.
 * @throws CryptoError `BAD_KEY` for a recipient key that does not match its id.
 */
export function sealSignal(options: {
  sender: DeviceIdentity
  recipient: { deviceId: DeviceId; publicKey: Uint8Array }
  body: MeshBody
  now: number
  ttlMs?: number
  /** Injected by tests; 16 random bytes by default. */
  id?: Uint8Array
}): RelaySignal {
  const id = options.id ?? randomBytes(16)
  const expiresAt = options.now + Math.min(options.ttlMs ?? DEFAULT_MESH_TTL_MS, MAX_RELAY_TTL_MS)
  const to = options.recipient.deviceId
  const plaintext = cbor.encode({ v: MESH_SIGNAL_VERSION, ...options.body })
  const body = seal({ plaintext, sender: options.sender, recipients: [options.recipient], aad: aadOf(id, to, expiresAt) })
  return { type: 'relay', to, id, expiresAt, body }
}

export interface SignalInboxOptions {
  me: DeviceIdentity
  /** A current member's public key, else undefined (unknown or revoked). */
  resolveMember(deviceId: DeviceId): Uint8Array | undefined
  now(): number
  maxSeen?: number
}

const refuse = (code: string, message: string, cause?: unknown): WireError => new WireError(message, cause === undefined ? { code } : { code, cause })

/** Verifies and opens relayed messages for this device, refusing replays. */
export class SignalInbox {
  readonly #o: SignalInboxOptions
  /** id (hex) → expiresAt, for ids accepted and not yet expired. */
  readonly #seen = new Map<string, number>()

  constructor(options: SignalInboxOptions) {
    this.#o = options
  }

  /** How many ids are remembered now. */
  get seen(): number {
    return this.#seen.size
  }

  /**
   * Opens a relay envelope that `from` (as the relay stamped it, or the direct neighbour) sent.
   * @throws WireError `MESH_EXPIRED`, `MESH_NOT_FOR_ME`, `MESH_NOT_MEMBER`, `MESH_SENDER_MISMATCH`,
   *   `MESH_BAD_SIGNATURE`, `MESH_MALFORMED`, `MESH_REPLAYED`, `MESH_BUSY`.
   */
  open(from: DeviceId, signal: RelaySignal): OpenedSignal {
    const now = this.#o.now()
    if (signal.expiresAt <= now) throw refuse('MESH_EXPIRED', `a relayed message from ${from} expired ${now - signal.expiresAt} ms ago`)
    if (signal.expiresAt > now + MAX_RELAY_TTL_MS) throw refuse('MESH_EXPIRED', `a relayed message from ${from} claims to live more than ${MAX_RELAY_TTL_MS} ms`)
    if (signal.to !== this.#o.me.deviceId) throw refuse('MESH_NOT_FOR_ME', `a relayed message for ${signal.to} reached this device`)
    const key = this.#o.resolveMember(from)
    if (key === undefined) throw refuse('MESH_NOT_MEMBER', `a relayed message from ${from}, not a member of this workspace`)
    let sender: DeviceId
    try {
      sender = sealedSender(signal.body)
    } catch (cause) {
      throw refuse('MESH_MALFORMED', 'a relayed message is not a sealed envelope', cause)
    }
    if (sender !== from) throw refuse('MESH_SENDER_MISMATCH', `a relayed message named as from ${from} is sealed by ${sender}`)
    let plaintext: Uint8Array
    try {
      plaintext = openSealed(signal.body, { me: this.#o.me, resolveSender: (id) => (id === from ? key : undefined), aad: aadOf(signal.id, signal.to, signal.expiresAt) }).plaintext
    } catch (cause) {
      const code = cause instanceof CryptoError && (cause.code === 'MALFORMED' || cause.code === 'UNSUPPORTED_VERSION' || cause.code === 'NOT_RECIPIENT') ? 'MESH_MALFORMED' : 'MESH_BAD_SIGNATURE'
      throw refuse(code, `a relayed message from ${from} does not verify (${(cause as Error).message})`, cause)
    }
    const body = parseBody(plaintext)
    // Recorded only once it verified: a forged copy cannot burn a genuine message's id.
    const id = toHex(signal.id)
    this.#prune(now)
    if (this.#seen.has(id)) throw refuse('MESH_REPLAYED', `relayed message ${id} from ${from} was already received`)
    if (this.#seen.size >= (this.#o.maxSeen ?? DEFAULT_MAX_SEEN)) throw refuse('MESH_BUSY', 'too many relayed messages within the expiry window; refused')
    this.#seen.set(id, signal.expiresAt)
    return { from, id, body }
  }

  #prune(now: number): void {
    for (const [id, expiresAt] of this.#seen) if (expiresAt <= now) this.#seen.delete(id)
  }
}

function parseBody(plaintext: Uint8Array): MeshBody {
  let m: unknown
  try {
    m = cbor.decode(plaintext)
  } catch (cause) {
    throw refuse('MESH_MALFORMED', 'a relayed message body is not CBOR', cause)
  }
  const r = m as Record<string, unknown>
  if (typeof m !== 'object' || m === null || r.v !== MESH_SIGNAL_VERSION) throw refuse('MESH_MALFORMED', `a relayed message body is not version ${MESH_SIGNAL_VERSION}`)
  const text = (v: unknown, max: number, field: string): string => {
    if (typeof v !== 'string' || v.length === 0 || v.length > max) throw refuse('MESH_MALFORMED', `a relayed message's ${field} is not a string of 1..${max} characters`)
    return v
  }
  switch (r.type) {
    case 'offer':
      return { type: 'offer', code: text(r.code, MAX_CODE, 'code') }
    case 'answer':
      return { type: 'answer', re: text(r.re, 32, 're'), code: text(r.code, MAX_CODE, 'code') }
    case 'refuse':
      return { type: 'refuse', re: text(r.re, 32, 're'), code: text(r.code, 64, 'code'), message: typeof r.message === 'string' ? r.message.slice(0, MAX_TEXT) : '' }
    default:
      throw refuse('MESH_MALFORMED', 'a relayed message of an unknown type')
  }
}

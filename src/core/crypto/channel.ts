/**
 * The secure channel: an Orbit handshake on Noise XX (noise.ts) bound to the device keys
 * (identity.ts), then length-limited encrypted frames. Transport-agnostic: TCP and WebRTC wrap
 * their byte pipes in a {@link HandshakeIO} (whole frames in, whole frames out), call
 * {@link performHandshake}, then carry `session.encrypt(...)` frames and feed received frames to
 * `session.decrypt(...)`. Byte layouts: docs/protocol/handshake.md.
 */
import { ed25519 } from '@noble/curves/ed25519.js'
import { AbortedError, HandshakeError, OrbitError, ValidationError, WireError } from '../errors.js'
import type { DeviceId } from '../ids.js'
import { concatBytes, decodeUtf8, equalBytes, utf8 } from './bytes.js'
import { deviceIdFromPublicKey, KEY_BYTES, SIGNATURE_BYTES, verifySignature, type DeviceIdentity } from './identity.js'
import { CipherState, TAG_BYTES, XXHandshake, type ChaChaPolyAead, type NoiseStaticKey } from './noise.js'

/** Largest frame on the wire (the Noise message limit). */
export const MAX_FRAME_BYTES = 65535
/** Largest application message `decrypt` reassembles (64 MiB). */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024
/** The protocol version this build speaks best. */
export const PROTOCOL_VERSION = 1
/** Every protocol version this build can speak, highest first. */
export const SUPPORTED_VERSIONS: readonly number[] = [1]
/** Default handshake deadline. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000

const PROLOGUE = utf8('orbit-sync/noise-xx')
const STATIC_BINDING = utf8('orbit-static-binding-v1')
const MAX_NAME_BYTES = 255
// One flags byte precedes each chunk inside the AEAD.
const MAX_CHUNK = MAX_FRAME_BYTES - TAG_BYTES - 1
/** Transport messages carry no associated data. */
const NO_AD = new Uint8Array(0)

/** Handshake frame types (first byte of each handshake frame). */
export const FrameType = { Hello: 0x01, Reply: 0x02, Finish: 0x03, Confirm: 0x04, Abort: 0x0f } as const
/** Reasons carried by an Abort frame. */
export const AbortReason = { Refused: 1, UnsupportedVersion: 2, ProtocolError: 3 } as const

/** Whole frames in and out; the transport does the length framing. */
export interface HandshakeIO {
  send(frame: Uint8Array): void
  /** Resolves with the next whole frame; should reject (or never resolve) once `signal` aborts. */
  receive(signal?: AbortSignal): Promise<Uint8Array>
}

/** What the local side makes of an authenticated peer. */
export type PeerAuthorization = 'member' | 'pairing' | 'refuse'

/** Options of {@link performHandshake}. */
export interface HandshakeOptions {
  identity: DeviceIdentity
  role: 'initiator' | 'responder'
  /**
   * Decides about the authenticated peer: 'member' (a paired, non-revoked device), 'pairing' (an
   * unknown device allowed only to run the pairing exchange) or 'refuse' (told only "refused").
   * The initiator decides before revealing its own identity, the responder after the peer's.
   */
  authorize(remote: { deviceId: DeviceId; publicKey: Uint8Array }): PeerAuthorization | Promise<PeerAuthorization>
  /** Initiator dialing a known device: any other device → HandshakeError `UNEXPECTED_PEER`. */
  expectedRemote?: DeviceId
  /** Sent to the peer (UTF-8, at most 255 bytes). */
  deviceName?: string
  signal?: AbortSignal
  /** Defaults to {@link DEFAULT_HANDSHAKE_TIMEOUT_MS}; expiry → AbortedError code `TIMEOUT`. */
  timeoutMs?: number
  /** Versions offered/accepted, highest first. Defaults to {@link SUPPORTED_VERSIONS}; tests use it to play other builds. */
  supportedVersions?: readonly number[]
  /** Largest message `decrypt` will reassemble; defaults to {@link MAX_MESSAGE_BYTES}. */
  maxMessageBytes?: number
  /** ChaCha20-Poly1305 implementation (a platform adapter may pass a native one); defaults to @noble/ciphers. */
  aead?: ChaChaPolyAead
}

/** An established, mutually authenticated, encrypted session. */
export interface SecureSession {
  remoteDeviceId: DeviceId
  /** The peer's Ed25519 public key. */
  remotePublicKey: Uint8Array
  remoteName: string
  /** The negotiated protocol version. */
  protocolVersion: number
  /** This side's decision about the peer. */
  authorization: 'member' | 'pairing'
  /** Noise handshake hash: unique per session, equal on both sides (channel binding for pairing proofs). */
  handshakeHash: Uint8Array
  /** Encrypts one message into frames of at most {@link MAX_FRAME_BYTES}; send them in order. */
  encrypt(message: Uint8Array): Uint8Array[]
  /**
   * Decrypts one received frame; returns the whole message when its last frame arrives, else
   * undefined. Throws WireError on tampering, replay, reordering, bad framing or a message above
   * {@link MAX_MESSAGE_BYTES}; the session is then dead (every later call throws) — close the connection.
   */
  decrypt(frame: Uint8Array): Uint8Array | undefined
}

interface PeerHello {
  publicKey: Uint8Array
  name: string
}

/**
 * Runs the Orbit handshake over `io`. Rejects with HandshakeError (codes: `REFUSED` — the peer
 * refused us; `PEER_NOT_AUTHORIZED` — `authorize` refused the peer; `UNEXPECTED_PEER`;
 * `UNSUPPORTED_VERSION`; `BAD_MESSAGE`/`BAD_IDENTITY`/`PROTOCOL`/`TRUNCATED`/`TOO_LONG` — bad
 * input, replay or tampering; `IO` — the pipe failed), AbortedError (`TIMEOUT`, `ABORTED`) or
 * ValidationError (bad options) only. On any rejection, close the connection.
 */
export async function performHandshake(io: HandshakeIO, opts: HandshakeOptions): Promise<SecureSession> {
  const versions = normaliseVersions(opts.supportedVersions ?? SUPPORTED_VERSIONS)
  const name = utf8(opts.deviceName ?? '')
  if (name.length > MAX_NAME_BYTES) throw new ValidationError('deviceName: at most 255 UTF-8 bytes', { field: 'deviceName' })
  const deadline = makeDeadline(opts.signal, opts.timeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS)
  const channel = new FrameChannel(io, deadline.signal)
  try {
    return opts.role === 'initiator'
      ? await runInitiator(channel, opts, versions, name)
      : await runResponder(channel, opts, versions, name)
  } catch (error) {
    throw asTypedError(error, deadline.signal)
  } finally {
    deadline.dispose()
  }
}

async function runInitiator(ch: FrameChannel, opts: HandshakeOptions, versions: number[], name: Uint8Array): Promise<SecureSession> {
  const noise = new XXHandshake({ initiator: true, prologue: PROLOGUE, staticKey: staticKeyOf(opts.identity), aead: opts.aead })
  ch.send(FrameType.Hello, noise.writeMessage(encodeHello(versions)))

  const reply = noise.readMessage(await ch.expect(FrameType.Reply))
  const r = new Reader(reply, 'reply')
  const version = r.u8()
  if (!versions.includes(version)) {
    ch.abort(AbortReason.ProtocolError)
    throw new HandshakeError(`peer chose protocol version ${version}, which we did not offer`, { code: 'PROTOCOL' })
  }
  const peer = readPeerHello(r, noise.remoteStatic as Uint8Array)
  r.end()
  const remoteDeviceId = deviceIdFromPublicKey(peer.publicKey)
  if (opts.expectedRemote !== undefined && remoteDeviceId !== opts.expectedRemote) {
    ch.abort(AbortReason.Refused)
    throw new HandshakeError(`expected device ${opts.expectedRemote} but reached ${remoteDeviceId}`, { code: 'UNEXPECTED_PEER' })
  }
  const authorization = await decide(ch, opts, remoteDeviceId, peer.publicKey)

  ch.send(FrameType.Finish, noise.writeMessage(concatBytes(Uint8Array.of(version), encodeIdentityBlock(opts.identity, name))))
  const transport = noise.finish()
  const confirm = transport.receive.decryptWithAd(new Uint8Array(0), await ch.expect(FrameType.Confirm))
  if (confirm.length !== 1 || confirm[0] !== 1) throw new HandshakeError('malformed confirmation', { code: 'PROTOCOL' })
  return new Session(transport.send, transport.receive, { remoteDeviceId, peer, version, authorization, handshakeHash: transport.handshakeHash, maxMessageBytes: opts.maxMessageBytes ?? MAX_MESSAGE_BYTES })
}

async function runResponder(ch: FrameChannel, opts: HandshakeOptions, versions: number[], name: Uint8Array): Promise<SecureSession> {
  const noise = new XXHandshake({ initiator: false, prologue: PROLOGUE, staticKey: staticKeyOf(opts.identity), aead: opts.aead })
  const hello = new Reader(noise.readMessage(await ch.expect(FrameType.Hello)), 'hello')
  hello.u8() // the peer's preferred version; the list below is what counts
  const count = hello.u8()
  if (count === 0) throw new HandshakeError('hello offers no protocol version', { code: 'PROTOCOL' })
  const offered = Array.from(hello.bytes(count))
  // Trailing bytes in the hello are allowed: a later version may append fields before negotiation.
  const version = versions.find((v) => offered.includes(v))
  if (version === undefined) {
    ch.send(FrameType.Abort, concatBytes(Uint8Array.of(AbortReason.UnsupportedVersion, versions.length), Uint8Array.from(versions)))
    throw unsupported(offered, versions)
  }
  ch.send(FrameType.Reply, noise.writeMessage(concatBytes(Uint8Array.of(version), encodeIdentityBlock(opts.identity, name))))

  const finish = new Reader(noise.readMessage(await ch.expect(FrameType.Finish)), 'finish')
  if (finish.u8() !== version) {
    ch.abort(AbortReason.ProtocolError)
    throw new HandshakeError('peer changed the negotiated version', { code: 'PROTOCOL' })
  }
  const peer = readPeerHello(finish, noise.remoteStatic as Uint8Array)
  finish.end()
  const remoteDeviceId = deviceIdFromPublicKey(peer.publicKey)
  const authorization = await decide(ch, opts, remoteDeviceId, peer.publicKey)
  const transport = noise.finish()
  ch.send(FrameType.Confirm, transport.send.encryptWithAd(new Uint8Array(0), Uint8Array.of(1)))
  return new Session(transport.send, transport.receive, { remoteDeviceId, peer, version, authorization, handshakeHash: transport.handshakeHash, maxMessageBytes: opts.maxMessageBytes ?? MAX_MESSAGE_BYTES })
}

async function decide(ch: FrameChannel, opts: HandshakeOptions, deviceId: DeviceId, publicKey: Uint8Array): Promise<'member' | 'pairing'> {
  let decision: PeerAuthorization
  try {
    decision = await ch.race(Promise.resolve(opts.authorize({ deviceId, publicKey: publicKey.slice() })))
  } catch (cause) {
    ch.abort(AbortReason.Refused)
    if (cause instanceof AbortedError) throw cause
    throw new HandshakeError('authorization failed', { code: 'AUTHORIZE_FAILED', cause })
  }
  if (decision !== 'member' && decision !== 'pairing') {
    ch.abort(AbortReason.Refused)
    throw new HandshakeError(`device ${deviceId} is not authorized`, { code: 'PEER_NOT_AUTHORIZED' })
  }
  return decision
}

// ---- payloads ----------------------------------------------------------------------------------

function encodeHello(versions: number[]): Uint8Array {
  return concatBytes(Uint8Array.of(versions[0] as number, versions.length), Uint8Array.from(versions))
}

const bindingSignatures = new WeakMap<DeviceIdentity, Uint8Array>()

/** `32 ed25519 public key • 64 signature("orbit-static-binding-v1" ‖ X25519 static) • u8 n • n name bytes` */
function encodeIdentityBlock(identity: DeviceIdentity, name: Uint8Array): Uint8Array {
  let sig = bindingSignatures.get(identity)
  if (sig === undefined) {
    // Ed25519 signatures are deterministic, so one per identity is enough.
    sig = identity.sign(concatBytes(STATIC_BINDING, identity.noisePublicKey))
    bindingSignatures.set(identity, sig)
  }
  return concatBytes(identity.publicKey, sig, Uint8Array.of(name.length), name)
}

function readPeerHello(r: Reader, remoteStatic: Uint8Array): PeerHello {
  const publicKey = r.bytes(KEY_BYTES).slice()
  const signature = r.bytes(SIGNATURE_BYTES)
  const nameBytes = r.bytes(r.u8())
  let montgomery: Uint8Array
  try {
    montgomery = ed25519.utils.toMontgomery(publicKey)
  } catch (cause) {
    throw new HandshakeError('peer sent an invalid Ed25519 key', { code: 'BAD_IDENTITY', cause })
  }
  // The Noise static key must be the device key itself, and the device key must vouch for it.
  if (!equalBytes(montgomery, remoteStatic) || !verifySignature(publicKey, concatBytes(STATIC_BINDING, remoteStatic), signature)) {
    throw new HandshakeError('peer static key is not bound to its device key', { code: 'BAD_IDENTITY' })
  }
  const name = decodeUtf8(nameBytes)
  if (name === undefined) throw new HandshakeError('peer name is not UTF-8', { code: 'PROTOCOL' })
  return { publicKey, name }
}

function normaliseVersions(versions: readonly number[]): number[] {
  const out = [...new Set(versions)].sort((a, b) => b - a)
  if (out.length === 0 || out.length > 255 || out.some((v) => !Number.isInteger(v) || v < 1 || v > 255)) {
    throw new ValidationError('supportedVersions: 1..255 integers in 1..255', { field: 'supportedVersions' })
  }
  return out
}

function unsupported(theirs: number[], ours: number[]): HandshakeError {
  return new HandshakeError(
    `no common protocol version (peer speaks ${theirs.join(', ') || 'none'}, we speak ${ours.join(', ')}); update the older device`,
    { code: 'UNSUPPORTED_VERSION' },
  )
}

function staticKeyOf(identity: DeviceIdentity): NoiseStaticKey {
  return { publicKey: identity.noisePublicKey, dh: (remote) => identity.dh(remote) }
}

/** Bounds-checked reader over a handshake payload; every failure is a HandshakeError. */
class Reader {
  #offset = 0
  constructor(readonly bytes_: Uint8Array, readonly what: string) {}
  u8(): number {
    return this.bytes(1)[0] as number
  }
  bytes(length: number): Uint8Array {
    if (this.#offset + length > this.bytes_.length) throw new HandshakeError(`${this.what} payload truncated`, { code: 'TRUNCATED' })
    const out = this.bytes_.subarray(this.#offset, this.#offset + length)
    this.#offset += length
    return out
  }
  end(): void {
    if (this.#offset !== this.bytes_.length) throw new HandshakeError(`${this.what} payload has trailing bytes`, { code: 'PROTOCOL' })
  }
}

// ---- frames, deadlines -------------------------------------------------------------------------

class FrameChannel {
  #aborted: Promise<never>
  constructor(readonly io: HandshakeIO, readonly signal: AbortSignal) {
    this.#aborted = new Promise<never>((_, reject) => {
      const fail = (): void => reject(signal.reason as unknown)
      if (signal.aborted) fail()
      else signal.addEventListener('abort', fail, { once: true })
    })
    // Observed so that an abort after a successful handshake is not an unhandled rejection.
    this.#aborted.catch(() => undefined)
  }

  send(type: number, body: Uint8Array): void {
    const frame = concatBytes(Uint8Array.of(type), body)
    if (frame.length > MAX_FRAME_BYTES) throw new HandshakeError('handshake frame too long', { code: 'TOO_LONG' })
    try {
      this.io.send(frame)
    } catch (cause) {
      throw new HandshakeError('could not send a handshake frame', { code: 'IO', cause })
    }
  }

  /** Best-effort refusal notice; the caller throws right after. */
  abort(reason: number): void {
    try {
      this.io.send(Uint8Array.of(FrameType.Abort, reason))
    } catch {
      /* the connection is going away anyway */
    }
  }

  race<T>(promise: Promise<T>): Promise<T> {
    return Promise.race([promise, this.#aborted])
  }

  async expect(type: number): Promise<Uint8Array> {
    this.signal.throwIfAborted()
    let frame: Uint8Array
    try {
      frame = await this.race(this.io.receive(this.signal))
    } catch (cause) {
      if (this.signal.aborted) throw this.signal.reason
      throw new HandshakeError('connection failed or closed during the handshake', { code: 'IO', cause })
    }
    if (!(frame instanceof Uint8Array) || frame.length === 0) throw new HandshakeError('empty handshake frame', { code: 'PROTOCOL' })
    if (frame.length > MAX_FRAME_BYTES) throw new HandshakeError('handshake frame too long', { code: 'TOO_LONG' })
    const got = frame[0] as number
    if (got === FrameType.Abort) throw abortError(frame)
    if (got !== type) throw new HandshakeError(`unexpected handshake frame type ${got} (wanted ${type})`, { code: 'PROTOCOL' })
    return frame.subarray(1)
  }
}

function abortError(frame: Uint8Array): HandshakeError {
  const reason = frame[1]
  if (reason === AbortReason.UnsupportedVersion) {
    const count = frame[2] ?? 0
    const theirs = Array.from(frame.subarray(3, 3 + count))
    return new HandshakeError(`peer speaks protocol versions ${theirs.join(', ') || 'unknown'} only; update the older device`, { code: 'UNSUPPORTED_VERSION' })
  }
  if (reason === AbortReason.Refused) return new HandshakeError('the peer refused the connection', { code: 'REFUSED' })
  return new HandshakeError('the peer aborted the handshake', { code: 'PEER_ABORTED' })
}

function makeDeadline(parent: AbortSignal | undefined, timeoutMs: number): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController()
  const onParent = (): void => controller.abort(new AbortedError('handshake cancelled', { code: 'ABORTED', cause: parent?.reason }))
  if (parent?.aborted) onParent()
  else parent?.addEventListener('abort', onParent, { once: true })
  const timer = setTimeout(() => controller.abort(new AbortedError(`handshake timed out after ${timeoutMs} ms`, { code: 'TIMEOUT' })), timeoutMs)
  return {
    signal: controller.signal,
    dispose(): void {
      clearTimeout(timer)
      parent?.removeEventListener('abort', onParent)
    },
  }
}

function asTypedError(error: unknown, signal: AbortSignal): Error {
  if (error instanceof HandshakeError || error instanceof AbortedError || error instanceof ValidationError) return error
  if (signal.aborted && signal.reason instanceof AbortedError) return signal.reason
  if (error instanceof OrbitError) return new HandshakeError(error.message, { code: error.code, cause: error })
  return new HandshakeError('handshake failed', { code: 'INTERNAL', cause: error })
}

// ---- the session -------------------------------------------------------------------------------

class Session implements SecureSession {
  readonly remoteDeviceId: DeviceId
  readonly remotePublicKey: Uint8Array
  readonly remoteName: string
  readonly protocolVersion: number
  readonly authorization: 'member' | 'pairing'
  readonly handshakeHash: Uint8Array
  readonly #send: CipherState
  readonly #receive: CipherState
  #pending: Uint8Array[] = []
  #plain: Uint8Array | undefined
  #pendingBytes = 0
  #dead: WireError | undefined
  readonly #maxMessageBytes: number

  constructor(
    send: CipherState,
    receive: CipherState,
    info: { remoteDeviceId: DeviceId; peer: PeerHello; version: number; authorization: 'member' | 'pairing'; handshakeHash: Uint8Array; maxMessageBytes: number },
  ) {
    this.#maxMessageBytes = info.maxMessageBytes
    this.#send = send
    this.#receive = receive
    this.remoteDeviceId = info.remoteDeviceId
    this.remotePublicKey = info.peer.publicKey
    this.remoteName = info.peer.name
    this.protocolVersion = info.version
    this.authorization = info.authorization
    this.handshakeHash = info.handshakeHash
  }

  encrypt(message: Uint8Array): Uint8Array[] {
    if (message.length > MAX_MESSAGE_BYTES) throw new WireError(`message of ${message.length} bytes exceeds ${MAX_MESSAGE_BYTES}`, { code: 'MESSAGE_TOO_LARGE' })
    const frames: Uint8Array[] = []
    // Each frame's plaintext (flag byte, then its part of the message) is built in this session's
    // one buffer: it is sealed into a new array at once, so the buffer is free again for the next.
    const scratch = (this.#plain ??= new Uint8Array(MAX_CHUNK + 1))
    let offset = 0
    do {
      const end = Math.min(offset + MAX_CHUNK, message.length)
      const plain = scratch.subarray(0, 1 + end - offset)
      plain[0] = end === message.length ? 1 : 0
      plain.set(message.subarray(offset, end), 1)
      const sealed = this.#send.encryptWithAd(NO_AD, plain)
      // An AEAD that sealed in place would hand out frames that the next one overwrites.
      if (sealed.buffer === scratch.buffer) throw new WireError('the AEAD returned a view of its input; frames need their own bytes', { code: 'AEAD_IN_PLACE' })
      frames.push(sealed)
      offset = end
    } while (offset < message.length)
    return frames
  }

  decrypt(frame: Uint8Array): Uint8Array | undefined {
    if (this.#dead !== undefined) throw new WireError('session is closed after an earlier error', { code: 'SESSION_FAILED', cause: this.#dead })
    try {
      if (!(frame instanceof Uint8Array) || frame.length < TAG_BYTES + 1) throw new WireError('frame too short', { code: 'BAD_FRAME' })
      if (frame.length > MAX_FRAME_BYTES) throw new WireError('frame too long', { code: 'FRAME_TOO_LARGE' })
      const plain = this.#receive.decryptWithAd(NO_AD, frame)
      const flags = plain[0] as number
      if ((flags & ~1) !== 0) throw new WireError('unknown frame flags', { code: 'BAD_FRAME' })
      const chunk = plain.subarray(1)
      this.#pendingBytes += chunk.length
      if (this.#pendingBytes > this.#maxMessageBytes) throw new WireError(`message exceeds ${this.#maxMessageBytes} bytes`, { code: 'MESSAGE_TOO_LARGE' })
      this.#pending.push(chunk)
      if (flags === 0) return undefined
      const message = this.#pending.length === 1 ? (this.#pending[0] as Uint8Array) : concatBytes(...this.#pending)
      this.#pending = []
      this.#pendingBytes = 0
      return message
    } catch (error) {
      this.#dead = error instanceof WireError ? error : new WireError('frame rejected', { code: 'BAD_FRAME', cause: error })
      this.#pending = []
      throw this.#dead
    }
  }

  toJSON(): object {
    return { remoteDeviceId: this.remoteDeviceId, remoteName: this.remoteName, protocolVersion: this.protocolVersion, authorization: this.authorization }
  }
}

/**
 * An authenticated WebRTC connection: the secure channel (src/core/crypto/channel.ts, Noise XX
 * bound to the device keys) runs inside the data channel, so the same device keys that sign the
 * signalling codes authenticate and encrypt every byte, independently of DTLS.
 */
import type { RTCDataChannel, RTCPeerConnection } from 'werift'
import type { HandshakeOptions, PeerAuthorization, SecureSession } from '../../core/crypto/channel.js'
import { performHandshake } from '../../core/crypto/channel.js'
import type { DeviceIdentity } from '../../core/crypto/identity.js'
import type { ChaChaPolyAead } from '../../core/crypto/noise.js'
import { nodeChaChaPoly } from '../crypto-node/index.js'
import { HandshakeError, WebRtcError } from '../../core/errors.js'
import type { DeviceId } from '../../core/ids.js'
import type { Logger } from '../../core/log.js'
import { silentLogger } from '../../core/log.js'
import { FrameChannel, type FrameChannelOptions } from './frame-channel.js'

/** A live, mutually authenticated, encrypted link to one device. */
export interface WebRtcConnection {
  readonly remoteDeviceId: DeviceId
  readonly remoteName: string
  readonly authorization: 'member' | 'pairing'
  /** Encrypts and sends one message; resolves once handed to SCTP (waits under backpressure). */
  send(message: Uint8Array): Promise<void>
  /** Subscribes to whole decrypted messages. Messages that arrived before the first subscriber are delivered to it. */
  onMessage(handler: (message: Uint8Array) => void): () => void
  /** Called once when the connection ends: undefined for an orderly close, else the (typed) error. */
  onClose(handler: (error: Error | undefined) => void): void
  readonly closed: boolean
  /** Plaintext bytes sent/received, for `SyncSession` statistics. */
  readonly stats: { readonly bytesSent: number; readonly bytesReceived: number }
  /** The ICE candidate pair in use (`host`, `srflx`, `prflx`, `relay`), when known. */
  selectedPair(): { local: CandidateInfo; remote: CandidateInfo } | undefined
  /** Closes the channel and the peer connection. Idempotent. */
  close(error?: Error): Promise<void>
}

/** Where one end of the selected ICE pair is. */
export interface CandidateInfo {
  readonly type: string
  readonly address: string
  readonly port: number
}

/** How the secure handshake inside the channel is run. */
export interface SecureChannelOptions {
  readonly identity: DeviceIdentity
  readonly role: 'initiator' | 'responder'
  readonly authorize: (remote: { deviceId: DeviceId; publicKey: Uint8Array }) => PeerAuthorization | Promise<PeerAuthorization>
  readonly expectedRemote?: DeviceId
  readonly deviceName?: string
  readonly signal?: AbortSignal
  readonly handshakeTimeoutMs?: number
  readonly framing?: FrameChannelOptions
  readonly logger?: Logger
  /** The session's ChaCha20-Poly1305. Default: Node's native one (werift runs only on Node anyway). */
  readonly aead?: ChaChaPolyAead
}

/**
 * Runs the handshake over an open data channel and returns the connection. On any failure the
 * channel and the peer connection are closed and the typed error (HandshakeError, WireError,
 * AbortedError) is thrown; nothing was delivered to the application.
 */
export async function secureConnection(pc: RTCPeerConnection, dc: RTCDataChannel, options: SecureChannelOptions): Promise<WebRtcConnection> {
  const frames = new FrameChannel(dc, options.framing)
  const log = (options.logger ?? silentLogger).forComponent('orbit:transport-webrtc')
  const io = {
    send(frame: Uint8Array): void {
      // Failures surface on the receive side (the channel closes); the handshake API is synchronous.
      frames.send(frame).catch(() => undefined)
    },
    receive: (signal?: AbortSignal) => frames.receive(signal),
  }
  const handshake: HandshakeOptions = {
    identity: options.identity,
    role: options.role,
    authorize: options.authorize,
    aead: options.aead ?? nodeChaChaPoly,
    ...(options.expectedRemote === undefined ? {} : { expectedRemote: options.expectedRemote }),
    ...(options.deviceName === undefined ? {} : { deviceName: options.deviceName }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.handshakeTimeoutMs === undefined ? {} : { timeoutMs: options.handshakeTimeoutMs }),
  }
  let session: SecureSession
  try {
    session = await performHandshake(io, handshake)
  } catch (error) {
    frames.close(error as Error)
    await closePeer(pc)
    throw error
  }
  log.debug('secure channel up', { remote: session.remoteDeviceId, authorization: session.authorization })
  return new Connection(pc, frames, session, log)
}

function candidateInfo(line: string): CandidateInfo | undefined {
  const m = / (\S+) (\d+) typ (\w+)/.exec(line)
  return m === null ? undefined : { address: m[1] as string, port: Number(m[2]), type: m[3] as string }
}

async function closePeer(pc: RTCPeerConnection): Promise<void> {
  try {
    await pc.close()
  } catch {
    // Closing a half-dead peer connection may throw inside werift; it is closed either way.
  }
}

class Connection implements WebRtcConnection {
  readonly remoteDeviceId: DeviceId
  readonly remoteName: string
  readonly authorization: 'member' | 'pairing'
  readonly #handlers = new Set<(message: Uint8Array) => void>()
  readonly #closeHandlers = new Set<(error: Error | undefined) => void>()
  readonly #early: Uint8Array[] = []
  #closed = false
  #closeError: Error | undefined
  bytesSent = 0
  bytesReceived = 0

  constructor(
    private readonly pc: RTCPeerConnection,
    private readonly frames: FrameChannel,
    private readonly session: SecureSession,
    private readonly log: Logger,
  ) {
    this.remoteDeviceId = session.remoteDeviceId
    this.remoteName = session.remoteName
    this.authorization = session.authorization
    frames.onClose((error) => void this.close(error))
    pc.connectionStateChange.subscribe((state) => {
      // 'disconnected' is transient (consent checks may recover); only 'failed' and 'closed' are final.
      if (state === 'failed' || state === 'closed') {
        void this.close(state === 'closed' ? undefined : new WebRtcError('peer connection failed', { code: 'CONNECTION_LOST' }))
      }
    })
    void this.#readLoop()
  }

  get stats(): { bytesSent: number; bytesReceived: number } {
    return { bytesSent: this.bytesSent, bytesReceived: this.bytesReceived }
  }

  get closed(): boolean {
    return this.#closed
  }

  async send(message: Uint8Array): Promise<void> {
    if (this.#closed) throw this.#closeError ?? new WebRtcError('connection closed', { code: 'CHANNEL_CLOSED' })
    const encrypted = this.session.encrypt(message)
    await Promise.all(encrypted.map((frame) => this.frames.send(frame)))
    this.bytesSent += message.length
  }

  selectedPair(): { local: CandidateInfo; remote: CandidateInfo } | undefined {
    const pair = this.pc.iceTransports[0]?.getSelectedCandidatePair()
    if (pair == null) return undefined
    const local = candidateInfo(pair.local.candidate)
    const remote = candidateInfo(pair.remote.candidate)
    return local && remote ? { local, remote } : undefined
  }

  onMessage(handler: (message: Uint8Array) => void): () => void {
    this.#handlers.add(handler)
    if (this.#handlers.size === 1) for (const message of this.#early.splice(0)) handler(message)
    return () => this.#handlers.delete(handler)
  }

  onClose(handler: (error: Error | undefined) => void): void {
    if (this.#closed) handler(this.#closeError)
    else this.#closeHandlers.add(handler)
  }

  async close(error?: Error): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#closeError = error
    if (error !== undefined) this.log.warn('connection closed', { remote: this.remoteDeviceId, error: error.name, code: (error as { code?: string }).code })
    for (const handler of this.#closeHandlers) handler(error)
    this.#closeHandlers.clear()
    await this.frames.goodbye(error)
    await closePeer(this.pc)
  }

  async #readLoop(): Promise<void> {
    while (!this.#closed) {
      let frame: Uint8Array
      try {
        frame = await this.frames.receive()
      } catch (error) {
        await this.close(error instanceof WebRtcError && error.code === 'CHANNEL_CLOSED' ? undefined : (error as Error))
        return
      }
      let message: Uint8Array | undefined
      try {
        message = this.session.decrypt(frame)
      } catch (error) {
        // Tampered, replayed or garbage frame: the session is dead; deliver nothing more.
        await this.close(error instanceof Error ? error : new HandshakeError(String(error)))
        return
      }
      if (message === undefined) continue
      this.bytesReceived += message.length
      if (this.#handlers.size === 0) this.#early.push(message)
      else for (const handler of this.#handlers) handler(message)
    }
  }
}

/**
 * An automerge-repo `NetworkAdapter` over one authenticated {@link WebRtcConnection}: repo messages
 * travel CBOR-encoded inside the secure channel. Join/leave follows automerge-repo's websocket
 * adapter, made symmetric since neither side is a server:
 *
 * - `connect(peerId)` sends `{ type: 'join', senderId, peerMetadata }`;
 * - a `join` is answered with `{ type: 'peer', senderId, peerMetadata }` (if connected), and either
 *   message makes the remote a `peer-candidate` (once, until it leaves);
 * - `disconnect()` sends `{ type: 'leave', senderId }`; the connection itself stays open so a later
 *   `connect()` can rejoin. Closing the connection is the owner's business ({@link WebRtcConnection.close}).
 *
 * The remote's peer id is bound to the device the secure channel authenticated: by default it must
 * equal that device id, otherwise its messages are dropped and the connection closed.
 */
import { cbor, NetworkAdapter, type Message, type PeerId, type PeerMetadata } from '@automerge/automerge-repo'
import { HandshakeError } from '../../core/errors.js'
import type { DeviceId } from '../../core/ids.js'
import { silentLogger, type Logger } from '../../core/log.js'
import type { WebRtcConnection } from './connection.js'

/** Options of {@link WebRtcNetworkAdapter}. */
export interface WebRtcNetworkAdapterOptions {
  /**
   * Whether the remote may present `peerId` over a channel authenticated as `deviceId`.
   * Default: only when they are equal (the app uses device ids as repo peer ids).
   */
  readonly acceptPeerId?: (peerId: PeerId, deviceId: DeviceId) => boolean
  readonly logger?: Logger
  /**
   * `whenReady()` resolves when the remote joined, or this long after `connect()` if it has not
   * (a remote whose repo never joins must not block the local repo). Default 1000 ms.
   */
  readonly joinGraceMs?: number
}

type Control =
  | { type: 'join' | 'peer'; senderId: PeerId; peerMetadata: PeerMetadata }
  | { type: 'leave'; senderId: PeerId }

const MAX_ID_LENGTH = 256

export class WebRtcNetworkAdapter extends NetworkAdapter {
  readonly #connection: WebRtcConnection
  readonly #acceptPeerId: (peerId: PeerId, deviceId: DeviceId) => boolean
  readonly #log: Logger
  #remote: { peerId: PeerId; peerMetadata: PeerMetadata } | undefined
  #announced = false
  #ready = false
  #readyWaiters: (() => void)[] = []
  #offMessage: (() => void) | undefined
  #graceTimer: ReturnType<typeof setTimeout> | undefined
  readonly #joinGraceMs: number

  constructor(connection: WebRtcConnection, options: WebRtcNetworkAdapterOptions = {}) {
    super()
    this.#connection = connection
    this.#acceptPeerId = options.acceptPeerId ?? ((peerId, deviceId) => (peerId as string) === deviceId)
    this.#log = (options.logger ?? silentLogger).forComponent('orbit:transport-webrtc:repo')
    this.#joinGraceMs = options.joinGraceMs ?? 1000
    connection.onClose(() => {
      this.#offMessage?.()
      this.#dropRemote()
      this.#markReady()
      this.emit('close')
    })
  }

  /** The authenticated device at the other end. */
  get remoteDeviceId(): DeviceId {
    return this.#connection.remoteDeviceId
  }

  isReady(): boolean {
    return this.#ready
  }

  /** Resolves once the remote peer joined, the join grace passed, or the connection is gone. */
  whenReady(): Promise<void> {
    if (this.#ready) return Promise.resolve()
    return new Promise((resolve) => this.#readyWaiters.push(resolve))
  }

  connect(peerId: PeerId, peerMetadata?: PeerMetadata): void {
    this.peerId = peerId
    this.peerMetadata = peerMetadata ?? {}
    this.#offMessage ??= this.#connection.onMessage((bytes) => this.#receive(bytes))
    if (!this.#ready && this.#graceTimer === undefined) {
      this.#graceTimer = setTimeout(() => this.#markReady(), this.#joinGraceMs)
      this.#graceTimer.unref?.()
    }
    this.#sendControl({ type: 'join', senderId: peerId, peerMetadata: this.peerMetadata })
  }

  send(message: Message): void {
    if (this.peerId === undefined || this.#connection.closed) return
    if (this.#remote === undefined || message.targetId !== this.#remote.peerId) return
    this.#sendBytes(cbor.encode(message))
  }

  disconnect(): void {
    if (this.peerId === undefined) return
    this.#sendControl({ type: 'leave', senderId: this.peerId })
    this.peerId = undefined
    this.#dropRemote()
  }

  #receive(bytes: Uint8Array): void {
    let decoded: unknown
    try {
      decoded = cbor.decode(bytes)
    } catch {
      this.#refuse('undecodable CBOR')
      return
    }
    if (typeof decoded !== 'object' || decoded === null || typeof (decoded as { type?: unknown }).type !== 'string') {
      this.#refuse('not a message object')
      return
    }
    const message = decoded as { type: string; senderId?: unknown; targetId?: unknown; peerMetadata?: unknown }
    const senderId = message.senderId
    if (typeof senderId !== 'string' || senderId.length === 0 || senderId.length > MAX_ID_LENGTH) {
      this.#refuse('bad senderId')
      return
    }
    if (!this.#acceptPeerId(senderId as PeerId, this.#connection.remoteDeviceId)) {
      // A member device must not speak for another peer id: that would let it impersonate.
      this.#log.warn('peer id not bound to the authenticated device; closing', { senderId, device: this.#connection.remoteDeviceId })
      void this.#connection.close(new HandshakeError('repo peer id does not match the authenticated device', { code: 'PEER_ID_MISMATCH' }))
      return
    }
    if (this.peerId === undefined) {
      // Disconnected: a join is remembered so a later connect() meets the peer; the rest is dropped.
      if (message.type === 'join' || message.type === 'peer') this.#remote = { peerId: senderId as PeerId, peerMetadata: metadataOf(message.peerMetadata) }
      else if (message.type === 'leave') this.#remote = undefined
      return
    }
    switch (message.type) {
      case 'join':
      case 'peer': {
        this.#remote = { peerId: senderId as PeerId, peerMetadata: metadataOf(message.peerMetadata) }
        if (message.type === 'join') this.#sendControl({ type: 'peer', senderId: this.peerId, peerMetadata: this.peerMetadata ?? {} })
        this.#announce()
        return
      }
      case 'leave':
        this.#dropRemote()
        return
      default:
        if (this.#remote?.peerId !== senderId || message.targetId !== this.peerId) {
          this.#log.debug('dropping a message not from the joined peer or not for us', { type: message.type })
          return
        }
        // NetworkSubsystem validates the repo message shape (isRepoMessage) before use.
        this.emit('message', decoded as Message)
    }
  }

  #announce(): void {
    if (this.#announced || this.#remote === undefined || this.peerId === undefined) return
    this.#announced = true
    this.emit('peer-candidate', { peerId: this.#remote.peerId, peerMetadata: this.#remote.peerMetadata })
    this.#markReady()
  }

  #dropRemote(): void {
    const remote = this.#remote
    this.#remote = undefined
    if (this.#announced && remote !== undefined) {
      this.#announced = false
      this.emit('peer-disconnected', { peerId: remote.peerId })
    }
  }

  #markReady(): void {
    clearTimeout(this.#graceTimer)
    if (this.#ready) return
    this.#ready = true
    for (const resolve of this.#readyWaiters.splice(0)) resolve()
  }

  #refuse(why: string): void {
    this.#log.warn('malformed repo message; closing', { why })
    void this.#connection.close(new HandshakeError(`peer sent a malformed repo message (${why})`, { code: 'BAD_REPO_MESSAGE' }))
  }

  #sendControl(message: Control): void {
    this.#sendBytes(cbor.encode(message))
  }

  #sendBytes(bytes: Uint8Array): void {
    if (this.#connection.closed) return
    this.#connection.send(bytes).catch((error: unknown) => {
      this.#log.debug('send failed', { error: String(error) })
    })
  }
}

function metadataOf(value: unknown): PeerMetadata {
  if (typeof value !== 'object' || value === null) return {}
  const { storageId, isEphemeral } = value as { storageId?: unknown; isEphemeral?: unknown }
  return {
    ...(typeof storageId === 'string' && storageId.length <= MAX_ID_LENGTH ? { storageId: storageId as PeerMetadata['storageId'] } : {}),
    ...(typeof isEphemeral === 'boolean' ? { isEphemeral } : {}),
  }
}

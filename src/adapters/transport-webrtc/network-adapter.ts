/**
 * An automerge-repo `NetworkAdapter` over one authenticated {@link WebRtcConnection}: the
 * connection's decrypted messages are the byte pipe of one link (src/core/link,
 * docs/protocol/link.md), hosted by core's {@link LinkNetworkAdapter} exactly as TCP's are.
 *
 * - `connect(peerId)` sends our hello; the remote's hello (before or after) makes it a
 *   `peer-candidate`, preceded by `peer-summary`;
 * - `disconnect()` sends a `leave` control: both sides forget the exchange, the connection stays
 *   open, and a later `connect()` starts a new one. Closing the connection is the owner's
 *   business ({@link WebRtcConnection.close}).
 *
 * The remote's peer id is bound to the device the secure channel authenticated: by default it must
 * equal that device id, otherwise the connection closes (`HandshakeError` `PEER_ID_MISMATCH`).
 */
import type { PeerId, PeerMetadata } from '@automerge/automerge-repo'
import type { DeviceId } from '../../core/ids.js'
import { silentLogger, type Logger } from '../../core/log.js'
import { LinkNetworkAdapter, type LinkAdapterEvents } from '../../core/link/link-adapter.js'
import type { Link, LinkAuthorize } from '../../core/link/link.js'
import type { DocSummary, EnvelopeLimits } from '../../core/link/envelope.js'
import type { BytePipe } from '../../core/link/pipe.js'
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
  /** What this device holds (documentId → sorted heads), sent in the hello (docs/protocol/link.md). */
  readonly summary?: () => DocSummary | undefined
  /**
   * Re-asked for every envelope the remote sends: false → dropped and the connection closed
   * (`WireError` `LINK_REVOKED`). Default: none (the handshake's decision stands).
   */
  readonly authorize?: LinkAuthorize
  /** Link versions offered (default: this build's). Tests use it to play other builds. */
  readonly linkVersions?: readonly number[]
  /** Envelope size bounds (default docs/protocol/link.md's). Tests lower them. */
  readonly linkLimits?: EnvelopeLimits
}

export class WebRtcNetworkAdapter extends LinkNetworkAdapter<WebRtcConnection, LinkAdapterEvents> {
  readonly #connection: WebRtcConnection
  readonly #link: Link<WebRtcConnection>
  #ready = false
  #readyWaiters: (() => void)[] = []
  #graceTimer: ReturnType<typeof setTimeout> | undefined
  readonly #joinGraceMs: number

  constructor(connection: WebRtcConnection, options: WebRtcNetworkAdapterOptions = {}) {
    super({
      ...(options.acceptPeerId ? { acceptPeerId: options.acceptPeerId } : {}),
      ...(options.summary ? { summary: options.summary } : {}),
      ...(options.authorize ? { authorize: options.authorize } : {}),
      ...(options.linkVersions ? { versions: options.linkVersions } : {}),
      ...(options.linkLimits ? { limits: options.linkLimits } : {}),
      logger: options.logger ?? silentLogger,
      component: 'orbit:transport-webrtc:link',
    })
    this.#connection = connection
    this.#joinGraceMs = options.joinGraceMs ?? 1000
    const log = this.linkLog
    const pipe: BytePipe = {
      remoteDeviceId: connection.remoteDeviceId,
      send(bytes) {
        connection.send(bytes).catch((error: unknown) => log.debug('send failed', { error: String(error) }))
      },
      onBytes: (handler) => connection.onMessage(handler),
      onClose: (handler) => connection.onClose(handler),
      close: (error) => void connection.close(error),
      get closed() {
        return connection.closed
      },
    }
    // The offerer opened the channel; with one link per adapter the duplicate rule never applies.
    this.#link = this.addLink(pipe, connection, 'local')
    // After the link's own close handler: the Repo hears peer-disconnected before close.
    connection.onClose(() => {
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

  override connect(peerId: PeerId, peerMetadata?: PeerMetadata): void {
    if (!this.#ready && this.#graceTimer === undefined) {
      this.#graceTimer = setTimeout(() => this.#markReady(), this.#joinGraceMs)
      this.#graceTimer.unref?.()
    }
    super.connect(peerId, peerMetadata)
  }

  disconnect(): void {
    if (this.peerId === undefined) return
    this.leaveLinks()
    this.peerId = undefined
  }

  /** Envelopes sent and received on this connection's link (every kind). */
  get envelopes(): { readonly sent: number; readonly received: number } {
    return this.#link.counts
  }

  protected override onPeerJoined(): void {
    this.#markReady()
  }

  #markReady(): void {
    clearTimeout(this.#graceTimer)
    if (this.#ready) return
    this.#ready = true
    for (const resolve of this.#readyWaiters.splice(0)) resolve()
  }
}

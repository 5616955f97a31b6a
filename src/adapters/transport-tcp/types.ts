/**
 * Options, events and results of the TCP transport (tcp-network-adapter.ts).
 */
import type { PeerId } from '@automerge/automerge-repo'
import type { OrbitError } from '../../core/errors.js'
import type { DeviceId } from '../../core/ids.js'
import type { Logger } from '../../core/log.js'
import type { DeviceIdentity } from '../../core/crypto/identity.js'
import type { ChaChaPolyAead } from '../../core/crypto/noise.js'
import type { LinkAdapterEvents, LinkTimers } from '../../core/link/link-adapter.js'
import type { LinkAuthorize } from '../../core/link/link.js'
import type { DocSummary, EnvelopeLimits } from '../../core/link/envelope.js'
import type { Authorization, ChannelIo, PerformHandshake, RemoteDevice, SecureSession } from './channel-contract.js'

/** Timers, injectable so reconnect logic runs on the test's schedule. */
export type TimeoutTimers = LinkTimers

/** A session the handshake authorized for pairing only: H4's pairing exchange runs over it. */
export interface PairingConnection {
  session: SecureSession
  /** Raw frame I/O (encrypt/decrypt with `session`). */
  io: ChannelIo
  remoteAddress: string | undefined
  close(): void
}

export interface TcpNetworkAdapterOptions {
  identity: DeviceIdentity
  /** Accept connections here (port 0 picks one; see `address()`). Omit for dial-only. */
  listen?: { host: string; port: number }
  /** Decides what an authenticated remote device may do. Called during every handshake. */
  authorize(remote: RemoteDevice): Authorization | Promise<Authorization>
  /** The secure channel's handshake; default core/crypto/channel.ts `performHandshake`. Tests may wrap it. */
  handshake?: PerformHandshake
  /** Receives sessions authorized as 'pairing'. Without it they are closed. */
  onPairingSession?(connection: PairingConnection): void
  /**
   * ChaCha20-Poly1305 for the channel. Default: Node's native one (`nodeChaChaPoly`,
   * adapters/crypto-node, about 15× faster than @noble/ciphers), since this adapter runs on Node
   * and the initial sync's bulk encryption is its hot path. Pass core's `nobleChaChaPoly` to compare.
   */
  aead?: ChaChaPolyAead
  /** Name sent in the handshake (shown to the other side when pairing). */
  deviceName?: string
  logger?: Logger
  /** Reconnect delays in ms; the last repeats. Default [250, 500, 1000, 2000, 5000, 10000, 30000]. */
  backoff?: number[]
  timers?: TimeoutTimers
  now?: () => number
  maxFrameBytes?: number
  handshakeTimeoutMs?: number
  /** Give up a TCP connect after this long (a cut link drops SYNs silently). Default 5000. */
  connectTimeoutMs?: number
  /** Send an empty keep-alive message when we sent nothing for this long. Default 5000. */
  heartbeatMs?: number
  /** Drop a joined connection that sent nothing (not even keep-alives) for this long. Default 20 000. */
  idleTimeoutMs?: number
  /** How long a duplicate link is still read before it is closed. Default 2000. */
  duplicateDrainMs?: number
  /**
   * Inbound connections in their handshake at once; beyond it the oldest is dropped to make room
   * (`HANDSHAKE_EVICTED`), so stalled strangers cannot lock out an honest device. Default 64.
   */
  maxPendingHandshakes?: number
  /** Inbound connections in their handshake from one address; beyond it refused (`BUSY`). Default 8. */
  maxPendingHandshakesPerAddress?: number
  /** See the module comment. Default 'device-id'. */
  peerIdPolicy?: 'device-id' | 'bound'
  /**
   * What this device holds (documentId → sorted heads), sent in every link's hello (docs/protocol/link.md,
   * docs/protocol/link.md); the remote's arrives as `peer-summary` before its `peer-candidate`.
   */
  summary?: () => DocSummary | undefined
  /**
   * Re-asked for every envelope a member sends: false → the envelope is dropped and the link
   * closed (`WireError` `LINK_REVOKED`). Default: `authorize` must still answer 'member'.
   */
  recheck?: LinkAuthorize
  /** Largest message one link reassembles (the secure channel's limit). Default 64 MiB. Tests lower it. */
  maxMessageBytes?: number
  /**
   * Inbound bytes all links together may hold in reassembly and decode at once
   * (docs/protocol/link.md, "Limits"). Default 65 MiB: one 64 MiB message and a 1 MiB reserve.
   */
  inboundBudgetBytes?: number
  /** Frames links without a reassembly slot may hold at once. Default 16. */
  inboundReserveFrames?: number
  /** Longest a reassembly slot is kept while another link waits (then `LINK_SLOW`). Default 30 000. */
  slotHoldMs?: number
  /** Link versions offered (default: this build's). Tests use it to play other builds. */
  linkVersions?: readonly number[]
  /** Envelope size bounds (default docs/protocol/link.md's). Tests lower them. */
  linkLimits?: EnvelopeLimits
}

export interface DialOptions {
  /** The device we mean to reach; the handshake fails (HandshakeError) if another answers. */
  expectedDeviceId?: DeviceId
  /** Keep the link up: redial with backoff after drops and network errors. Default true. */
  reconnect?: boolean
  signal?: AbortSignal
}

/** Transport-level events beyond automerge-repo's, for the daemon and `orbit sync` (with the link's `peer-summary` and `link-error`). */
export interface TcpAdapterEvents extends LinkAdapterEvents {
  /** A handshake succeeded (before `join`; pairing sessions too). */
  session: (info: { deviceId: DeviceId; authorization: 'member' | 'pairing'; role: 'initiator' | 'responder' }) => void
  /** A member session joined (its repo peer id is `peerId`). */
  'device-connected': (info: { deviceId: DeviceId; peerId: PeerId; remoteAddress: string | undefined }) => void
  'device-disconnected': (info: { deviceId: DeviceId; peerId: PeerId }) => void
  /** A connection failed or was dropped for bad input, a refused handshake, a network error. */
  'connection-error': (info: { error: OrbitError; remoteAddress: string | undefined; deviceId?: DeviceId }) => void
}

/** Byte counters for one remote device (all connections, this adapter's lifetime). */
export interface DeviceTraffic {
  bytesSent: number
  bytesReceived: number
  messagesSent: number
  messagesReceived: number
}

/**
 * The discovery port: something that finds other Orbit devices nearby (mDNS on a LAN; a React
 * Native app plugs in react-native-zeroconf behind the same interface).
 *
 * What discovery reports is a **hint**: the device id in a TXT record is whatever the sender wrote.
 * Identity is only established by the secure channel's handshake (`expectedDeviceId` on connect).
 */
import type { DeviceId } from '../ids.js'
import type { OrbitError } from '../errors.js'
import type { DeviceInfo, Timestamp } from '../sync/types.js'

/** The DNS-SD service type Orbit advertises (`_crmorbit._tcp.local`). */
export const SERVICE_TYPE = '_crmorbit._tcp.local'

/** The LAN protocol version this build speaks and advertises in TXT `pv`. */
export const LAN_PROTOCOL_VERSION = 1

/** A device seen by discovery: where it claims to be and who it claims to be. Untrusted. */
export interface DiscoveredPeer {
  /** Claimed device id (from TXT `id`): verify with the handshake before trusting. */
  deviceId: DeviceId
  deviceName: string
  protocolVersion: number
  /** IPv4/IPv6 addresses from A/AAAA records (or the packet's source address). */
  addresses: string[]
  /** TCP port from the SRV record. */
  port: number
  /** The DNS-SD instance name, e.g. `<deviceId>._crmorbit._tcp.local`. */
  instance: string
  lastSeen: Timestamp
}

/** Events a {@link Discovery} emits. */
export interface DiscoveryEvents {
  /** A new peer, or a known peer whose address, port, name or version changed. */
  peer: (peer: DiscoveredPeer) => void
  /** A peer sent a goodbye (TTL 0) or was not heard from within its TTL. */
  'peer-lost': (deviceId: DeviceId) => void
  /** Bad input (a malformed record) or a socket problem. Discovery keeps running. */
  error: (error: OrbitError) => void
}

/**
 * The discovery port. `start`/`stop` are idempotent; `stop` sends a goodbye where the medium has one.
 *
 * @example
 * const off = discovery.on('peer', (peer) => store.upsert(toDeviceInfo(peer, false)))
 * await discovery.start()
 * // ...
 * off(); await discovery.stop()
 */
export interface Discovery {
  start(): Promise<void>
  stop(): Promise<void>
  /** Subscribes; returns the unsubscribe function. */
  on<E extends keyof DiscoveryEvents>(event: E, listener: DiscoveryEvents[E]): () => void
  /** The peers currently known (not expired, no goodbye). */
  peers(): DiscoveredPeer[]
  /** Asks the network again now (e.g. when the user opens the Sync screen). */
  refresh(): void
}

/** The `DeviceInfo` of the sync vocabulary for a discovered peer. */
export function toDeviceInfo(peer: DiscoveredPeer, paired: boolean): DeviceInfo {
  return {
    deviceId: peer.deviceId,
    deviceName: peer.deviceName,
    lastSeen: peer.lastSeen,
    addresses: [...peer.addresses],
    port: peer.port,
    protocolVersion: peer.protocolVersion,
    paired,
  }
}

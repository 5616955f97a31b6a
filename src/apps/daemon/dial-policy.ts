/**
 * The daemon's dial policy: whom to connect to, and when. Discovery (mDNS on every usable
 * interface, or the pinned one: discovery.ts) feeds the sync store's peers; a discovered member is
 * dialled at once (its TXT id is a hint: the
 * handshake proves it), remembered addresses are dialled at start, and a device that becomes a
 * member later (paired through another member) is dialled when the root document says so. A
 * periodic tick refreshes what is connected, expires what was not seen, and purges old invites.
 */
import type { DeviceId } from '../../core/ids.js'
import { silentLogger, type Logger } from '../../core/log.js'
import type { DiscoveredPeer, Discovery } from '../../core/discovery/index.js'
import type { OrbitNode } from '../node/orbit-node.js'
import { parseHostPort, readKnownPeers } from '../node/known-peers.js'
import { peerEndpoints, startDaemonDiscovery, type DiscoveryOptions, type MdnsStatus } from './discovery.js'

export interface DialPolicyOptions extends DiscoveryOptions {
  /** Drop discovered peers not seen for this long. Default 5 minutes. */
  peerExpiryMs?: number
  logger?: Logger
  now?: () => number
}

export class DialPolicy {
  /** Discovery as trusted (a member's quarantined endpoints left out); undefined when off. */
  discovery: Discovery | undefined
  readonly #node: OrbitNode
  readonly #o: DialPolicyOptions
  readonly #log: Logger
  readonly #now: () => number
  readonly #off: Array<() => void> = []
  #timer: ReturnType<typeof setInterval> | undefined

  constructor(node: OrbitNode, options: DialPolicyOptions) {
    this.#node = node
    this.#o = options
    this.#log = (options.logger ?? silentLogger).forComponent('orbit:daemon:dial')
    this.#now = options.now ?? Date.now
  }

  /** Starts discovery, dials remembered members and starts the tick. */
  async start(): Promise<void> {
    // A device that became a member (paired through another member) is dialled now.
    this.#off.push(this.#node.device.workspace.onRootChanged(() => this.dialDiscoveredMembers()))
    await this.#startDiscovery()
    this.dialKnown()
    this.#timer = setInterval(() => this.tick(), 15_000)
    this.#timer.unref?.()
  }

  async #startDiscovery(): Promise<void> {
    const started = await startDaemonDiscovery(this.#node, this.#o, {
      discovered: (peer) => this.discovered(peer),
      networkChanged: (why) => this.networkChanged(why),
    })
    this.#off.push(() => started.unsubscribe())
    this.#mdnsStatus = () => started.status()
    this.discovery = started.discovery
  }

  #mdnsStatus: () => MdnsStatus = () => ({ off: 'not started' })

  /** Where discovery runs now (it follows interface changes), or why it is off. */
  mdnsStatus(): MdnsStatus {
    return this.#mdnsStatus()
  }

  /**
   * A member was announced (Contract D seam; the store is updated already). Dials each endpoint
   * with the expected device id: the handshake proves the TXT's claim or refuses it.
   */
  discovered(peer: DiscoveredPeer): void {
    for (const { address, port } of peerEndpoints(peer)) void this.#node.lan.tryDial(address, port, peer.deviceId)
  }

  /** An interface or address came or went (Contract D seam): dial what we know again. */
  networkChanged(why: string): void {
    this.#log.info('network changed: dialling known members', { why })
    this.dialKnown()
    this.dialDiscoveredMembers()
  }

  dialKnown(): void {
    const { device, policy, lan } = this.#node
    for (const [deviceId, addresses] of Object.entries(readKnownPeers(device.config))) {
      if (!policy.isMember(deviceId)) continue
      for (const address of addresses) {
        try {
          const { host, port } = parseHostPort(address)
          void lan.tryDial(host, port, deviceId as DeviceId)
        } catch {
          // a damaged entry: skip it
        }
      }
    }
  }

  /** Discovered devices that are members but not connected (e.g. refused before their membership synced here). */
  dialDiscoveredMembers(): void {
    const { device, policy, lan } = this.#node
    const me = device.identity.deviceId
    for (const peer of this.discovery?.peers() ?? []) {
      if (peer.deviceId === me || lan.isConnected(peer.deviceId) || !policy.isMember(peer.deviceId)) continue
      for (const { address, port } of peerEndpoints(peer)) void lan.tryDial(address, port, peer.deviceId)
    }
  }

  tick(): void {
    this.dialDiscoveredMembers()
    const state = this.#node.store.getState()
    for (const deviceId of this.#node.lan.connected()) {
      const peer = state.discoveredPeers[deviceId]
      if (peer !== undefined) state.upsertPeer({ ...peer, lastSeen: this.#now() })
    }
    state.expirePeers(this.#o.peerExpiryMs ?? 5 * 60_000)
    void this.#node.pairing.purgeExpired().catch(() => undefined)
    // Keeps doc_heads current for what synced in the background, so the next start loads nothing it need not.
    void this.#node.device.flush().catch((error: unknown) => this.#log.warn('periodic flush failed', { error: String(error) }))
  }

  /** Says goodbye on mDNS first, so peers stop dialling an address that is about to go away. */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    for (const off of this.#off.splice(0)) off()
    await this.discovery?.stop().catch((error: unknown) => this.#log.warn('mDNS stop failed', { error: String(error) }))
    this.#node.store.getState().setDiscovering(false)
  }
}

/**
 * The daemon's dial policy: whom to connect to, and when. The node's orchestrator owns redial
 * (src/core/engine/orchestrator.ts): its background loop keeps a live link to every member, with
 * capped exponential backoff and full jitter. This policy starts and stops that loop and pokes it:
 * a discovered member (`discovered`: its TXT id is a hint, the handshake proves it), an interface
 * or address change (`networkChanged`), a device that became a member (paired through another
 * member: the root document says so) are dialled at once. Discovery (mDNS on every usable interface, or the pinned one:
 * discovery.ts) feeds the sync store's peers. A periodic tick does the chores: it refreshes what is connected, expires what was not
 * seen, purges old invites and flushes.
 */
import { silentLogger, type Logger } from '../../core/log.js'
import type { DiscoveredPeer, Discovery } from '../../core/discovery/index.js'
import type { OrbitNode } from '../node/orbit-node.js'
import { peerEndpoints, startDaemonDiscovery, type DaemonDiscovery, type DiscoveryOptions, type MdnsStatus } from './discovery.js'

export interface DialPolicyOptions extends DiscoveryOptions {
  /** Drop discovered peers not seen for this long. Default 5 minutes. */
  peerExpiryMs?: number
  /** How often the chores run (expiry, invite purge, flush). Default 15 s. Redial is the orchestrator's, not this tick's. */
  tickMs?: number
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

  /** Starts discovery, the orchestrator's redial loop (it dials every member now) and the chores' tick. */
  async start(): Promise<void> {
    // A device that became a member (paired through another member) is dialled now.
    this.#off.push(this.#node.device.workspace.onRootChanged(() => this.#node.orchestrator.poke('all', 'membership changed')))
    await this.#startDiscovery()
    this.#node.orchestrator.start()
    this.#timer = setInterval(() => this.tick(), this.#o.tickMs ?? 15_000)
    this.#timer.unref?.()
  }

  /**
   * A member was announced (mDNS; the store already holds its addresses, which the LAN tier dials
   * with the announced id expected): dial it now, its backoff reset. The peer is the trusted view
   * (discovery.ts): quarantined and backed-off addresses are left out, and an announcement with
   * none left does not get here — a forger repeating its claim for an offline member pokes nothing.
   */
  discovered(peer: DiscoveredPeer): void {
    this.#node.orchestrator.poke(peer.deviceId, 'announced')
    this.#verifyEndpoints(peer)
  }

  /** Per member, the `address:port` endpoints a handshake proved (or that are being tried now). */
  readonly #verified = new Map<string, Set<string>>()

  /**
   * While a member is linked the orchestrator dials nothing (hysteresis), so an address announced
   * for it meanwhile — a second interface, or a forger's — is tried once here, with the member's
   * id expected: the handshake proves it, or refutes it and discovery quarantines the address, or
   * proves nothing and discovery backs it off (discovery.ts; it is not in the next announcement's
   * view before its wait is over). The link layer keeps one link per device, so a proven extra link is drained.
   */
  #verifyEndpoints(peer: DiscoveredPeer): void {
    const { lan } = this.#node
    if (!lan.isConnected(peer.deviceId)) return
    let seen = this.#verified.get(peer.deviceId)
    if (seen === undefined) this.#verified.set(peer.deviceId, (seen = new Set()))
    const linkHost = lan.connectedVia(peer.deviceId)?.replace(/:\d+$/, '')
    for (const { address, port } of peerEndpoints(peer)) {
      const key = `${address}:${port}`
      if (address === linkHost || seen.has(key) || seen.size >= 16 || this.#daemonDiscovery?.isBackedOff(peer.deviceId, address) === true) continue
      seen.add(key)
      void lan.tryDial(address, port, peer.deviceId).then((got) => {
        if (got === peer.deviceId) return
        // Not proven: tried again at a later announcement, once its backoff allows (the transport's
        // connection-error usually recorded the failure already; this covers a dial that ended without one).
        seen.delete(key)
        this.#daemonDiscovery?.dialFailed(peer.deviceId, address)
      })
    }
  }

  /** An interface or address came or went (a laptop changed networks): dial every member without a live link now. */
  networkChanged(why: string): void {
    this.#node.orchestrator.poke('all', why)
  }

  async #startDiscovery(): Promise<void> {
    const started = await startDaemonDiscovery(this.#node, this.#o, {
      discovered: (peer) => this.discovered(peer),
      networkChanged: (why) => this.networkChanged(why),
    })
    this.#off.push(() => started.unsubscribe())
    this.#daemonDiscovery = started
    this.#mdnsStatus = () => started.status()
    this.discovery = started.discovery
  }

  #daemonDiscovery: DaemonDiscovery | undefined
  #mdnsStatus: () => MdnsStatus = () => ({ off: 'not started' })

  /** Where discovery runs now (it follows interface changes), or why it is off. */
  mdnsStatus(): MdnsStatus {
    return this.#mdnsStatus()
  }

  tick(): void {
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
    await this.#node.orchestrator.stop()
    for (const off of this.#off.splice(0)) off()
    await this.discovery?.stop().catch((error: unknown) => this.#log.warn('mDNS stop failed', { error: String(error) }))
    this.#node.store.getState().setDiscovering(false)
  }
}

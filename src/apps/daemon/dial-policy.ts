/**
 * The daemon's dial policy: whom to connect to, and when. The node's orchestrator owns redial
 * (src/core/engine/orchestrator.ts): its background loop keeps a live link to every member, with
 * capped exponential backoff and full jitter. This policy starts and stops that loop and pokes it:
 * a discovered member (`discovered`: its TXT id is a hint, the handshake proves it), an interface
 * or address change (`networkChanged`), a device that became a member (paired through another
 * member: the root document says so) are dialled at once. Discovery (mDNS) feeds the sync store's
 * peers. A periodic tick does the chores: it refreshes what is connected, expires what was not
 * seen, purges old invites and flushes.
 */
import { silentLogger, type Logger } from '../../core/log.js'
import { toDeviceInfo, type DiscoveredPeer, type Discovery } from '../../core/discovery/index.js'
import type { OrbitNode } from '../node/orbit-node.js'

export interface DialPolicyOptions {
  /** Advertise and browse mDNS. Default true (needs `interfaceAddress` or a specific listen host). */
  mdns?: boolean
  interfaceAddress?: string
  mdnsPort?: number
  /** Drop discovered peers not seen for this long. Default 5 minutes. */
  peerExpiryMs?: number
  /** How often the chores run (expiry, invite purge, flush). Default 15 s. Redial is the orchestrator's, not this tick's. */
  tickMs?: number
  logger?: Logger
  now?: () => number
}

export class DialPolicy {
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
   * with the announced id expected): dial it now, its backoff reset.
   */
  discovered(peer: DiscoveredPeer): void {
    this.#node.orchestrator.poke(peer.deviceId, 'announced')
  }

  /** An interface or address came or went (a laptop changed networks): dial every member without a live link now. */
  networkChanged(why: string): void {
    this.#node.orchestrator.poke('all', why)
  }

  async #startDiscovery(): Promise<void> {
    if (this.#o.mdns === false) return
    const listen = this.#node.listenAddress
    const host = this.#o.interfaceAddress ?? (listen !== undefined && listen.host !== '0.0.0.0' ? listen.host : undefined)
    if (host === undefined || listen === undefined) {
      this.#log.warn('mDNS is off: give --interface IP to advertise and browse on one interface')
      return
    }
    const { createMdnsDiscovery } = await import('../../adapters/discovery-mdns/index.js')
    const { device, store, policy, lan } = this.#node
    const me = device.identity.deviceId
    const discovery = createMdnsDiscovery({
      interfaceAddress: host,
      advertise: { deviceId: me, name: device.deviceName, port: listen.port },
      logger: this.#o.logger ?? silentLogger,
      ...(this.#o.mdnsPort === undefined ? {} : { mdnsPort: this.#o.mdnsPort }),
    })
    this.discovery = discovery
    this.#off.push(
      discovery.on('peer', (peer) => {
        if (peer.deviceId === me) return
        const status = policy.status(peer.deviceId)
        store.getState().upsertPeer({ ...toDeviceInfo(peer, status === 'member'), revoked: status === 'revoked' })
        // The TXT id is a hint: dialling with the expected device id makes the handshake prove it.
        if (status === 'member') this.discovered(peer)
      }),
      discovery.on('peer-lost', (deviceId) => {
        if (!lan.isConnected(deviceId)) store.getState().removePeer(deviceId)
      }),
      discovery.on('error', (error) => this.#log.debug('discovery input dropped', { name: error.name, code: error.code })),
    )
    await discovery.start()
    store.getState().setDiscovering(true)
  }

  /** The chores (no dialling: the orchestrator's loop redials). */
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

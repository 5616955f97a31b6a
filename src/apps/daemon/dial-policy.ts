/**
 * The daemon's dial policy: whom to connect to, and when. Discovery (mDNS on one interface)
 * feeds the sync store's peers; a discovered member is dialled at once (its TXT id is a hint: the
 * handshake proves it), remembered addresses are dialled at start, and a device that becomes a
 * member later (paired through another member) is dialled when the root document says so. A
 * periodic tick refreshes what is connected, expires what was not seen, and purges old invites.
 */
import type { DeviceId } from '../../core/ids.js'
import { silentLogger, type Logger } from '../../core/log.js'
import { toDeviceInfo, type Discovery } from '../../core/discovery/index.js'
import type { OrbitNode } from '../node/orbit-node.js'
import { parseHostPort, readKnownPeers } from '../node/known-peers.js'

export interface DialPolicyOptions {
  /** Advertise and browse mDNS. Default true (needs `interfaceAddress` or a specific listen host). */
  mdns?: boolean
  interfaceAddress?: string
  mdnsPort?: number
  /** Drop discovered peers not seen for this long. Default 5 minutes. */
  peerExpiryMs?: number
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
        if (status === 'member') for (const address of peer.addresses) void lan.tryDial(address, peer.port, peer.deviceId)
      }),
      discovery.on('peer-lost', (deviceId) => {
        if (!lan.isConnected(deviceId)) store.getState().removePeer(deviceId)
      }),
      discovery.on('error', (error) => this.#log.debug('discovery input dropped', { name: error.name, code: error.code })),
    )
    await discovery.start()
    store.getState().setDiscovering(true)
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
      for (const address of peer.addresses) void lan.tryDial(address, peer.port, peer.deviceId)
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

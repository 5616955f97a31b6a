/**
 * The daemon's discovery (docs/protocol/lan.md, "Discovery"): mDNS on the interfaces a user
 * expects, or the one `--interface` pins, or none (`--no-mdns`), feeding the sync store's peers and
 * the dial policy — and what a forged announcement for a member may and may not do.
 *
 * Which interfaces:
 * - `--no-mdns` (`mdns: false`): none.
 * - `--interface IP|NAME`: that one (it must exist at start; it is followed if it changes).
 * - a specific listen host (`--listen 10.0.0.2:7878`): the interface holding it — the only one a
 *   peer could reach us on. A loopback listen host (`--listen 127.0.0.1:0`, as tests do) means
 *   discovery OFF: nothing off this machine can dial a loopback listener, so there is nothing to
 *   advertise, and no test that listens on loopback ever multicasts.
 * - otherwise (`0.0.0.0`, the default): every usable interface, followed as they change
 *   (src/adapters/discovery-mdns/interfaces.ts and multi.ts).
 *
 * A TXT record's device id is a hint. For a member's announcement:
 * - the name kept and shown is the workspace's (trusted), never the TXT's;
 * - every endpoint (address, port) is dialled with the expected device id, so the handshake
 *   refuses a different key; an address whose handshake proved a different key (or none: it did
 *   not speak the protocol) is quarantined for `quarantineMs` — left out of the store's addresses
 *   and of what the dial policy sees, so nothing redials it — and a typed warning is logged
 *   (WireError `FORGED_ANNOUNCEMENT`). An address the device is later reached at or connects from
 *   is trusted again at once.
 */
import { OrbitError, ValidationError, WireError } from '../../core/errors.js'
import type { DeviceId } from '../../core/ids.js'
import { silentLogger, type Logger } from '../../core/log.js'
import { toDeviceInfo, type DiscoveredPeer, type Discovery } from '../../core/discovery/index.js'
import type { OrbitNode } from '../node/orbit-node.js'
import { parseHostPort } from '../node/known-peers.js'

/** The discovery fields of the daemon's options (DaemonOptions, DialPolicyOptions). */
export interface DiscoveryOptions {
  /** Advertise and browse mDNS. Default true; false is `--no-mdns`. */
  mdns?: boolean
  /** `--interface IP|NAME`: only this interface. */
  interface?: string
  /** The same as `interface`, an IPv4 address (the option's older name). */
  interfaceAddress?: string
  /** mDNS UDP port (tests). Default 5353. */
  mdnsPort?: number
  /** How often interfaces are polled for changes. Default 3000 ms (DEFAULT_POLL_INTERVAL_MS). */
  pollIntervalMs?: number
  /** How long an address that proved another key is not dialled. Default 10 minutes. */
  quarantineMs?: number
  logger?: Logger
  now?: () => number
}

/** What `daemon.status().mdns` says: where discovery runs (or waits, with `reason`), or why it is off. */
export type MdnsStatus = { interfaces: Array<{ name: string; address: string }>; pinned?: string; reason?: string } | { off: string }

/** The two calls discovery makes into the dial policy (docs/architecture.md, "The daemon"). */
export interface DiscoveryHooks {
  /** A member was announced (the store is already updated); endpoints under quarantine are left out. */
  discovered(peer: DiscoveredPeer): void
  /** An interface or address came or went. */
  networkChanged(why: string): void
}

/** A running daemon discovery; `discovery` is the trusted view (quarantined endpoints left out). */
export interface DaemonDiscovery {
  readonly discovery: Discovery | undefined
  status(): MdnsStatus
  /** Stops listening to discovery and the transport (synchronous; `discovery.stop()` says goodbye). */
  unsubscribe(): void
  /** Both: unsubscribes and stops mDNS (goodbye). */
  stop(): Promise<void>
}

/** Handshake failures that prove the address is not the claimed device (a timeout proves nothing). */
const REFUTING = new Set(['UNEXPECTED_PEER', 'BAD_MESSAGE', 'BAD_IDENTITY', 'PROTOCOL', 'TRUNCATED', 'TOO_LONG'])

/** Quarantined addresses kept per device. */
const MAX_QUARANTINED = 64

const WILDCARD = new Set(['0.0.0.0', '::', ''])
const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || /^127\./.test(host)

/** The endpoints of a peer (the mDNS adapter's own, else every address at `port`). */
export function peerEndpoints(peer: DiscoveredPeer): Array<{ address: string; port: number }> {
  const own = (peer as { endpoints?: Array<{ address: string; port: number }> }).endpoints
  return own !== undefined ? own.map((e) => ({ ...e })) : peer.addresses.map((address) => ({ address, port: peer.port }))
}

/** What is known about the addresses claimed for members: proven by a handshake, or refuted. */
class Trust {
  readonly #proven = new Map<DeviceId, Set<string>>()
  readonly #bad = new Map<DeviceId, Map<string, number>>()
  constructor(
    readonly now: () => number,
    readonly quarantineMs: number,
  ) {}

  isBad(deviceId: DeviceId, address: string): boolean {
    const until = this.#bad.get(deviceId)?.get(address)
    if (until === undefined) return false
    if (until > this.now()) return true
    this.#bad.get(deviceId)?.delete(address)
    return false
  }

  isProven(deviceId: DeviceId, address: string): boolean {
    return this.#proven.get(deviceId)?.has(address) === true
  }

  prove(deviceId: DeviceId, address: string): void {
    let set = this.#proven.get(deviceId)
    if (set === undefined) this.#proven.set(deviceId, (set = new Set()))
    set.add(address)
    this.#bad.get(deviceId)?.delete(address)
  }

  /** Quarantines; false when it already was. */
  refute(deviceId: DeviceId, address: string): boolean {
    const fresh = !this.isBad(deviceId, address)
    let map = this.#bad.get(deviceId)
    if (map === undefined) this.#bad.set(deviceId, (map = new Map()))
    map.delete(address)
    map.set(address, this.now() + this.quarantineMs)
    // Bounded: a flood of forging addresses evicts the oldest quarantine, never grows memory.
    if (map.size > MAX_QUARANTINED) map.delete(map.keys().next().value!)
    this.#proven.get(deviceId)?.delete(address)
    return fresh
  }
}

/** Where discovery should run, from the options and the listen address (see the module comment). */
export function discoveryPin(o: DiscoveryOptions, listen: { host: string; port: number } | undefined): { pin?: string } | { off: string } {
  if (o.mdns === false) return { off: '--no-mdns' }
  if (listen === undefined) return { off: 'not listening' }
  const pin = o.interface ?? o.interfaceAddress
  if (pin !== undefined) return { pin }
  if (WILDCARD.has(listen.host)) return {}
  if (isLoopback(listen.host)) return { off: `listening on loopback ${listen.host} only; --listen 0.0.0.0:${listen.port} to be found on the LAN` }
  return { pin: listen.host }
}

/**
 * Starts discovery for a daemon's node. Resolves with `discovery: undefined` (and the reason in
 * `status()`) when it is off.
 * @throws ValidationError `interface` when `--interface` names no IPv4 interface of this machine.
 */
export async function startDaemonDiscovery(node: OrbitNode, o: DiscoveryOptions, hooks: DiscoveryHooks): Promise<DaemonDiscovery> {
  const log = (o.logger ?? silentLogger).forComponent('orbit:daemon:discovery')
  const where = discoveryPin(o, node.listenAddress)
  if ('off' in where) {
    if (where.off !== '--no-mdns') log.info(`mDNS is off: ${where.off}`)
    return { discovery: undefined, status: () => ({ off: where.off }), unsubscribe: () => undefined, stop: () => Promise.resolve() }
  }
  const listen = node.listenAddress!
  const { createMultiMdnsDiscovery, resolvePin } = await import('../../adapters/discovery-mdns/index.js')
  if (where.pin !== undefined) {
    const { networkInterfaces } = await import('node:os')
    const all = networkInterfaces()
    if (resolvePin(where.pin, all) === undefined) {
      const have = Object.entries(all).flatMap(([name, list]) => (list ?? []).filter((e) => e.family === 'IPv4').map((e) => `${name} ${e.address}`))
      throw new ValidationError(`--interface ${where.pin}: not an IPv4 address or interface name of this machine (it has: ${have.join(', ') || 'none'})`, { field: 'interface' })
    }
  }
  const { device, store, policy, lan } = node
  const me = device.identity.deviceId
  const trust = new Trust(o.now ?? Date.now, o.quarantineMs ?? 10 * 60_000)
  const multi = createMultiMdnsDiscovery({
    advertise: { deviceId: me, name: device.deviceName, port: listen.port },
    ...(where.pin === undefined ? {} : { pin: where.pin }),
    ...(o.mdnsPort === undefined ? {} : { mdnsPort: o.mdnsPort }),
    ...(o.pollIntervalMs === undefined ? {} : { pollIntervalMs: o.pollIntervalMs }),
    logger: o.logger ?? silentLogger,
  })

  /** A member's peer as trusted: the workspace's name, quarantined endpoints left out, proven first. */
  const trusted = (peer: DiscoveredPeer): DiscoveredPeer | undefined => {
    const endpoints = peerEndpoints(peer).filter((e) => !trust.isBad(peer.deviceId, e.address))
    if (endpoints.length === 0) return undefined
    endpoints.sort((a, b) => Number(trust.isProven(peer.deviceId, b.address)) - Number(trust.isProven(peer.deviceId, a.address)))
    const via = lan.connectedVia(peer.deviceId)
    let port = endpoints[0]!.port
    if (via !== undefined) {
      try {
        const at = parseHostPort(via)
        if (endpoints.some((e) => e.address === at.host && e.port === at.port)) port = at.port
      } catch {
        // a source address without a port: keep the first endpoint's
      }
    }
    return {
      ...peer,
      deviceName: device.workspace.getDevice(peer.deviceId)?.name ?? peer.deviceName,
      addresses: endpoints.map((e) => e.address),
      port,
      endpoints,
    } as DiscoveredPeer
  }

  const record = (peer: DiscoveredPeer): DiscoveredPeer | undefined => {
    const status = policy.status(peer.deviceId)
    if (status !== 'member') {
      store.getState().upsertPeer({ ...toDeviceInfo(peer, false), revoked: status === 'revoked' })
      return undefined
    }
    const view = trusted(peer)
    // Every endpoint refuted: the claims were forged; a live link (from elsewhere) keeps its entry.
    if (view === undefined) {
      if (!lan.isConnected(peer.deviceId)) store.getState().removePeer(peer.deviceId)
    } else store.getState().upsertPeer({ ...toDeviceInfo(view, true), revoked: false })
    return view
  }

  const off: Array<() => void> = [
    multi.on('peer', (peer) => {
      if (peer.deviceId === me) return
      const view = record(peer)
      if (view !== undefined) hooks.discovered(view)
    }),
    multi.on('peer-lost', (deviceId) => {
      if (!lan.isConnected(deviceId)) store.getState().removePeer(deviceId)
    }),
    multi.on('error', (error) => log.debug('discovery input dropped', { name: error.name, code: error.code })),
    multi.onNetworkChange(({ why }) => hooks.networkChanged(why)),
    lan.tcp.on2('device-connected', ({ deviceId, remoteAddress }) => {
      const address = remoteAddress?.replace(/^::ffff:/, '')
      if (address !== undefined) trust.prove(deviceId, address)
      const host = lan.connectedVia(deviceId)
      if (host !== undefined) {
        try {
          trust.prove(deviceId, parseHostPort(host).host)
        } catch {
          // not host:port
        }
      }
    }),
    lan.tcp.on2('connection-error', ({ error, remoteAddress }) => {
      if (!(error instanceof OrbitError) || error.name !== 'HandshakeError' || !REFUTING.has(error.code ?? '') || remoteAddress === undefined) return
      const address = remoteAddress.replace(/^::ffff:/, '')
      for (const peer of multi.peers()) {
        if (peer.deviceId === me || !policy.isMember(peer.deviceId) || !peer.addresses.includes(address)) continue
        // An address the device itself was reached at stays trusted (a restart mid-handshake is not a forgery).
        if (trust.isProven(peer.deviceId, address)) continue
        if (!trust.refute(peer.deviceId, address)) continue
        const warning = new WireError(`mDNS announcement for ${peer.deviceId} from ${address} refuted by the handshake (${error.code}): not dialling it for a while`, {
          code: 'FORGED_ANNOUNCEMENT',
          cause: error,
        })
        log.warn(warning.message, { name: warning.name, code: warning.code, deviceId: peer.deviceId, address, handshake: error.code })
        record(peer)
      }
    }),
  ]

  const view: Discovery = {
    start: () => multi.start(),
    stop: () => multi.stop(),
    on: (event, listener) => multi.on(event, listener),
    refresh: () => multi.refresh(),
    // What the dial policy redials from: members as trusted (quarantined endpoints out), others as claimed.
    peers: () => multi.peers().flatMap((p) => (policy.isMember(p.deviceId) ? (trusted(p) ?? []) : [p])),
  }
  try {
    await multi.start()
  } catch (error) {
    for (const f of off) f()
    throw error
  }
  store.getState().setDiscovering(true)
  return {
    discovery: view,
    status: () => ({ ...multi.where(), ...(where.pin === undefined ? {} : { pinned: where.pin }) }),
    unsubscribe: () => {
      for (const f of off.splice(0)) f()
    },
    async stop() {
      for (const f of off.splice(0)) f()
      await multi.stop().catch((error: unknown) => log.warn('mDNS stop failed', { error: String(error) }))
      store.getState().setDiscovering(false)
    },
  }
}

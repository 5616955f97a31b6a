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
 * - an announced address whose handshake proved nothing (refused, no answer, a hang-up) — whoever
 *   dialled it: the orchestrator's loop, a poke, the dial policy's check of a linked member — is
 *   backed off: 5 s, doubling up to 10 minutes, per device and address whatever the port. While
 *   backed off it is left out too, so neither the loop nor a poke dials it; an announcement whose
 *   every address is left out pokes nothing. Its next announcement after the wait is tried again.
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
  /** A dial of a member's announced address proved nothing (refused, no answer, another device): back it off. */
  dialFailed(deviceId: DeviceId, address: string): void
  /** Whether a member's announced address is backed off now. */
  isBackedOff(deviceId: DeviceId, address: string): boolean
  /** Stops listening to discovery and the transport (synchronous; `discovery.stop()` says goodbye). */
  unsubscribe(): void
  /** Both: unsubscribes and stops mDNS (goodbye). */
  stop(): Promise<void>
}

/** Handshake failures that prove the address is not the claimed device (a timeout proves nothing). */
const REFUTING = new Set(['UNEXPECTED_PEER', 'BAD_MESSAGE', 'BAD_IDENTITY', 'PROTOCOL', 'TRUNCATED', 'TOO_LONG'])

/** Quarantined addresses kept per device. */
const MAX_QUARANTINED = 64

/** The first wait before an announced address that proved nothing is dialled again. */
export const FIRST_DIAL_BACKOFF_MS = 5000
/** The longest such wait. */
export const MAX_DIAL_BACKOFF_MS = 10 * 60_000
/** Backed-off `deviceId@address` entries kept in all (the oldest is dropped beyond). */
export const MAX_DIAL_BACKOFFS = 1024

const WILDCARD = new Set(['0.0.0.0', '::', ''])
const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || /^127\./.test(host)

/** The endpoints of a peer (the mDNS adapter's own, else every address at `port`). */
export function peerEndpoints(peer: DiscoveredPeer): Array<{ address: string; port: number }> {
  const own = (peer as { endpoints?: Array<{ address: string; port: number }> }).endpoints
  return own !== undefined ? own.map((e) => ({ ...e })) : peer.addresses.map((address) => ({ address, port: peer.port }))
}

/**
 * What is known about the addresses claimed for members: proven by a handshake, refuted
 * (quarantined), or tried without proof (backed off). Bounded: 64 quarantined per device, 1024
 * backed-off `deviceId@address` in all.
 */
export class Trust {
  readonly #proven = new Map<DeviceId, Set<string>>()
  readonly #bad = new Map<DeviceId, Map<string, number>>()
  readonly #backoff = new Map<string, { until: number; waitMs: number }>()
  constructor(
    readonly now: () => number,
    readonly quarantineMs: number,
  ) {}

  /** Whether a dial of this announced address proved nothing less than its backoff ago. */
  isBackedOff(deviceId: DeviceId, address: string): boolean {
    const wait = this.#backoff.get(`${deviceId}@${address}`)
    return wait !== undefined && wait.until > this.now()
  }

  /**
   * A dial of this address proved nothing. After the wait (or the first time) the next wait
   * doubles, from 5 s up to 10 minutes; a failure during the wait (a dial that was not
   * announcement-driven: the loop's) changes nothing, so only tries the backoff let through count.
   */
  failed(deviceId: DeviceId, address: string): void {
    const key = `${deviceId}@${address}`
    const wait = this.#backoff.get(key)
    if (wait !== undefined && wait.until > this.now()) return
    const waitMs = wait === undefined ? FIRST_DIAL_BACKOFF_MS : Math.min(MAX_DIAL_BACKOFF_MS, wait.waitMs * 2)
    this.#backoff.delete(key)
    this.#backoff.set(key, { until: this.now() + waitMs, waitMs })
    // Bounded: a flood of forged addresses evicts the oldest backoff, never grows memory.
    if (this.#backoff.size > MAX_DIAL_BACKOFFS) this.#backoff.delete(this.#backoff.keys().next().value!)
  }

  /** Backed-off entries held (at most {@link MAX_DIAL_BACKOFFS}). */
  get backoffs(): number {
    return this.#backoff.size
  }

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
    this.#backoff.delete(`${deviceId}@${address}`)
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
    return {
      discovery: undefined,
      status: () => ({ off: where.off }),
      dialFailed: () => undefined,
      isBackedOff: () => false,
      unsubscribe: () => undefined,
      stop: () => Promise.resolve(),
    }
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

  /** A member's peer as trusted: the workspace's name, quarantined and backed-off endpoints left out, proven first. */
  const trusted = (peer: DiscoveredPeer): DiscoveredPeer | undefined => {
    const endpoints = peerEndpoints(peer).filter((e) => !trust.isBad(peer.deviceId, e.address) && !trust.isBackedOff(peer.deviceId, e.address))
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
    // Every endpoint refuted or backed off: nothing to dial; a live link (from elsewhere) keeps its entry.
    if (view === undefined) {
      if (!lan.isConnected(peer.deviceId)) store.getState().removePeer(peer.deviceId)
    } else store.getState().upsertPeer({ ...toDeviceInfo(view, true), revoked: false })
    return view
  }

  /** The address a member's live link runs over (dialled or connected from), if linked. */
  const linkHost = (deviceId: DeviceId): string | undefined => {
    const via = lan.connectedVia(deviceId)
    if (via === undefined || !lan.isConnected(deviceId)) return undefined
    try {
      return parseHostPort(via).host
    } catch {
      return via.replace(/^::ffff:/, '')
    }
  }
  /** A dial of an announced address proved nothing: backed off, and left out of the peer's addresses meanwhile. */
  const dialFailed = (deviceId: DeviceId, address: string): void => {
    if (trust.isBad(deviceId, address) || trust.isBackedOff(deviceId, address) || linkHost(deviceId) === address) return
    trust.failed(deviceId, address)
    for (const peer of multi.peers()) if (peer.deviceId === deviceId) record(peer)
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
      const wasBackedOff = (a: string): boolean => trust.isBackedOff(deviceId, a)
      let again = address !== undefined && wasBackedOff(address)
      if (address !== undefined) trust.prove(deviceId, address)
      const host = lan.connectedVia(deviceId)
      if (host !== undefined) {
        try {
          const at = parseHostPort(host).host
          again ||= wasBackedOff(at)
          trust.prove(deviceId, at)
        } catch {
          // not host:port
        }
      }
      // An address left out while backed off is listed again at once (not at its next announcement).
      if (again) for (const peer of multi.peers()) if (peer.deviceId === deviceId) record(peer)
    }),
    lan.tcp.on2('connection-error', ({ error, remoteAddress, deviceId }) => {
      if (remoteAddress === undefined || !(error instanceof OrbitError)) return
      const address = remoteAddress.replace(/^::ffff:/, '')
      if (error.name !== 'HandshakeError' || !REFUTING.has(error.code ?? '')) {
        // Proved nothing (refused, no answer, a hang-up, a timeout): every member claiming this
        // address backs it off. A failure of an authenticated link (deviceId set) is not about the address.
        if (deviceId !== undefined) return
        for (const peer of multi.peers()) {
          if (peer.deviceId === me || !policy.isMember(peer.deviceId) || !peer.addresses.includes(address)) continue
          dialFailed(peer.deviceId, address)
        }
        return
      }
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
    dialFailed,
    isBackedOff: (deviceId, address) => trust.isBackedOff(deviceId, address),
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

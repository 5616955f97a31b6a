/**
 * DNS-SD over multicast DNS for `_crmorbit._tcp.local`, on exactly one IPv4 interface.
 *
 * Advertises (answers PTR/SRV/TXT/A queries, announces on start, says goodbye with TTL 0 on stop)
 * and browses (queries on start and every `queryIntervalMs`, expires peers after their TTL).
 * What it reports is a hint (README.md, "Security"): a peer is keyed by the device id its TXT claims, and
 * every address that claim came from is kept with its own port (`endpoints`), so a forged answer
 * can add an address but never erase the real one, nor change the port or name reported for the
 * first address still alive. The handshake decides who is who (the daemon dials every endpoint
 * with the expected device id: src/apps/daemon/discovery.ts).
 *
 * Several interfaces: src/adapters/discovery-mdns/multi.ts runs one of these per interface.
 */
import { networkInterfaces } from 'node:os'
import makeMdns from 'multicast-dns'
import type { Answer, Question } from 'dns-packet'
import type { RemoteInfo } from 'node:dgram'
import { OrbitError, ValidationError, WireError } from '../../core/errors.js'
import type { DeviceId } from '../../core/ids.js'
import type { Logger } from '../../core/log.js'
import { silentLogger } from '../../core/log.js'
import {
  LAN_PROTOCOL_VERSION,
  Listeners,
  SERVICE_TYPE,
  encodeTxtRecord,
  parseTxtRecord,
  type DiscoveredPeer,
  type Discovery,
  type DiscoveryEvents,
} from '../../core/discovery/index.js'

/** Timers, injectable so tests and embedders control when queries and sweeps run. */
export interface IntervalTimers {
  setInterval(fn: () => void, ms: number): unknown
  clearInterval(handle: unknown): void
}

export interface MdnsDiscoveryOptions {
  /** IPv4 address of the one interface to use (`orbit serve --interface IP`). Required: never "all". */
  interfaceAddress: string
  /** What to advertise; omit to browse only. */
  advertise?: { deviceId: DeviceId; name: string; port: number; protocolVersion?: number }
  /** Record TTL in seconds, and how long a silent peer is kept. Default 120 (RFC 6762 §10 host records). */
  ttlSeconds?: number
  /** How often to query again. Default 30 000 ms. */
  queryIntervalMs?: number
  /** UDP port; 5353 except in tests that want to avoid a host responder. */
  mdnsPort?: number
  logger?: Logger
  now?: () => number
  timers?: IntervalTimers
}

/** One address a device was claimed at, with the port that claim named. */
export interface Endpoint {
  address: string
  port: number
}

/** A discovered peer with the port of each address (a forged claim may name another port). */
export type MdnsPeer = DiscoveredPeer & { endpoints: Endpoint[] }

/** The endpoints of a peer: its own when it has them (this adapter's), else every address at `port`. */
export function endpointsOf(peer: DiscoveredPeer): Endpoint[] {
  const own = (peer as Partial<MdnsPeer>).endpoints
  return own !== undefined ? own.map((e) => ({ ...e })) : peer.addresses.map((address) => ({ address, port: peer.port }))
}

interface PeerState {
  peer: MdnsPeer
  /** address → when its claim expires (ms), in the order first claimed. */
  addressExpiry: Map<string, number>
  /** address → the port its latest claim named. */
  addressPort: Map<string, number>
  expiresAt: number
}

/** The peer as reported: addresses in claim order; port, name and version those of the first address's claim. */
function view(state: PeerState): MdnsPeer {
  const addresses = [...state.addressExpiry.keys()]
  const endpoints = addresses.map((address) => ({ address, port: state.addressPort.get(address) ?? state.peer.port }))
  return { ...state.peer, addresses, endpoints, port: endpoints[0]?.port ?? state.peer.port }
}

const defaultTimers: IntervalTimers = {
  setInterval: (fn, ms) => {
    const handle = setInterval(fn, ms)
    handle.unref()
    return handle
  },
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
}

/**
 * Subnet membership test for `address` against the interface's address/netmask. Throws
 * ValidationError when `interfaceAddress` is not an IPv4 address of this machine.
 */
function subnetFilter(interfaceAddress: string): (address: string) => boolean {
  const toInt = (ip: string): number => ip.split('.').reduce((acc, part) => ((acc << 8) | Number(part)) >>> 0, 0)
  for (const list of Object.values(networkInterfaces())) {
    for (const entry of list ?? []) {
      if (entry.family === 'IPv4' && entry.address === interfaceAddress) {
        const mask = toInt(entry.netmask)
        const net = toInt(interfaceAddress) & mask
        return (address) => /^\d+\.\d+\.\d+\.\d+$/.test(address) && ((toInt(address) & mask) >>> 0) === net >>> 0
      }
    }
  }
  throw new ValidationError(`--interface ${interfaceAddress}: not an IPv4 address of this machine`, { field: 'interface' })
}

/**
 * Creates an mDNS discovery bound to one interface.
 *
 * @example
 * const discovery = createMdnsDiscovery({
 *   interfaceAddress: '10.77.3.10',
 *   advertise: { deviceId: identity.deviceId, name: 'Laptop', port: 7420 },
 *   logger,
 * })
 * discovery.on('peer', (peer) => console.log(peer.deviceId, peer.addresses, peer.port))
 * await discovery.start()
 */
export function createMdnsDiscovery(options: MdnsDiscoveryOptions): Omit<Discovery, 'peers' | 'stop'> & { peers(): MdnsPeer[]; stop(o?: { goodbye?: boolean }): Promise<void> } {
  const log = (options.logger ?? silentLogger).forComponent('orbit:discovery-mdns')
  const now = options.now ?? Date.now
  const timers = options.timers ?? defaultTimers
  const ttl = options.ttlSeconds ?? 120
  const queryIntervalMs = options.queryIntervalMs ?? 30_000
  const listeners = new Listeners<DiscoveryEvents>()
  const peers = new Map<DeviceId, PeerState>()
  const ad = options.advertise
  const instance = ad === undefined ? undefined : `${ad.deviceId}.${SERVICE_TYPE}`
  const host = ad === undefined ? undefined : `${ad.deviceId}.local`

  let mdns: makeMdns.MulticastDNS | undefined
  let interval: unknown
  let starting: Promise<void> | undefined
  let inSubnet: (address: string) => boolean = () => false

  const report = (error: OrbitError): void => {
    log.warn(error.message, { name: error.name, code: error.code })
    listeners.emit('error', [error])
  }

  const records = (recordTtl: number): Answer[] => {
    if (ad === undefined || instance === undefined || host === undefined) return []
    return [
      { name: SERVICE_TYPE, type: 'PTR', ttl: recordTtl, data: instance },
      { name: instance, type: 'SRV', ttl: recordTtl, data: { port: ad.port, target: host, priority: 0, weight: 0 } },
      {
        name: instance,
        type: 'TXT',
        ttl: recordTtl,
        data: encodeTxtRecord({ deviceId: ad.deviceId, name: ad.name, protocolVersion: ad.protocolVersion ?? LAN_PROTOCOL_VERSION }).map((b) => Buffer.from(b)),
      },
      { name: host, type: 'A', ttl: recordTtl, data: options.interfaceAddress },
    ]
  }

  const send = (fn: (cb: (error: Error | null) => void) => void): Promise<void> =>
    new Promise((resolve) =>
      fn((error) => {
        if (error) report(new WireError('mDNS send failed', { code: 'MDNS_SEND', cause: error }))
        resolve()
      }),
    )

  const announce = (recordTtl: number): Promise<void> => {
    const answers = records(recordTtl)
    const m = mdns
    if (answers.length === 0 || m === undefined) return Promise.resolve()
    return send((cb) => m.respond({ answers }, cb))
  }

  const query = (): Promise<void> => {
    const m = mdns
    if (m === undefined) return Promise.resolve()
    return send((cb) => m.query({ questions: [{ name: SERVICE_TYPE, type: 'PTR' }] }, cb))
  }

  const onQuery = (packet: { questions?: Question[] }, rinfo: RemoteInfo): void => {
    if (ad === undefined || !inSubnet(rinfo.address)) return
    const wanted = (packet.questions ?? []).some((question) => {
      // dns-packet decodes type 255 as the string 'ANY', which its typings omit.
      const q = question as { name: string; type: string }
      return (
        (q.name === SERVICE_TYPE && (q.type === 'PTR' || q.type === 'ANY')) ||
        (q.name === instance && (q.type === 'SRV' || q.type === 'TXT' || q.type === 'ANY')) ||
        (q.name === host && (q.type === 'A' || q.type === 'ANY'))
      )
    })
    if (wanted) void announce(ttl)
  }

  const lose = (deviceId: DeviceId): void => {
    if (peers.delete(deviceId)) {
      log.debug('peer lost', { deviceId })
      listeners.emit('peer-lost', [deviceId], (e) => log.error('peer-lost listener threw', { error: String(e) }))
    }
  }

  const onResponse = (packet: { answers?: Answer[]; additionals?: Answer[] }, rinfo: RemoteInfo): void => {
    if (!inSubnet(rinfo.address)) return
    const all = [...(packet.answers ?? []), ...(packet.additionals ?? [])]
    for (const ptr of all) {
      if (ptr.type !== 'PTR' || ptr.name !== SERVICE_TYPE || typeof ptr.data !== 'string') continue
      const name = ptr.data
      if (name === instance) continue // our own announcement, looped back
      const srv = all.find((a) => a.type === 'SRV' && a.name === name)
      const txt = all.find((a) => a.type === 'TXT' && a.name === name)
      if (ptr.ttl === 0) {
        // A goodbye names the instance; only the TXT says which device, so trust only a full one.
        if (txt?.type === 'TXT') {
          try {
            const claimed = parseTxtRecord(Array.isArray(txt.data) ? txt.data : [txt.data])
            dropAddress(claimed.deviceId, rinfo.address)
          } catch {
            // a malformed goodbye changes nothing
          }
        }
        continue
      }
      if (srv?.type !== 'SRV' || txt?.type !== 'TXT') {
        const m = mdns
        if (m !== undefined) void send((cb) => m.query({ questions: [{ name, type: 'SRV' }, { name, type: 'TXT' }] }, cb))
        continue
      }
      let claimed
      try {
        claimed = parseTxtRecord(Array.isArray(txt.data) ? txt.data : [txt.data])
      } catch (error) {
        report(error instanceof OrbitError ? error : new WireError('TXT record unreadable', { code: 'BAD_TXT', cause: error }))
        continue
      }
      if (ad !== undefined && claimed.deviceId === ad.deviceId) continue
      const port = srv.data.port
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        report(new WireError('SRV record: bad port', { code: 'BAD_SRV' }))
        continue
      }
      const aRecords = all.filter((a) => a.type === 'A' && a.name === srv.data.target).map((a) => String((a as { data: unknown }).data))
      // Only addresses on our subnet: an A record pointing elsewhere would send us off-link.
      const addresses = [...new Set([...aRecords.filter(inSubnet), rinfo.address])]
      const recordTtl = Math.min(ptr.ttl ?? ttl, srv.ttl ?? ttl, ttl)
      upsert({ ...claimed, port, instance: name, addresses, source: rinfo.address, recordTtl })
    }
  }

  const upsert = (seen: {
    deviceId: DeviceId
    name: string
    protocolVersion: number
    port: number
    instance: string
    addresses: string[]
    /** Where the packet came from: the claim that may update name and version. */
    source: string
    recordTtl: number
  }): void => {
    const t = now()
    const expiry = t + seen.recordTtl * 1000
    const state = peers.get(seen.deviceId)
    if (state === undefined) {
      const fresh: PeerState = {
        peer: {
          deviceId: seen.deviceId,
          deviceName: seen.name,
          protocolVersion: seen.protocolVersion,
          addresses: [],
          endpoints: [],
          port: seen.port,
          instance: seen.instance,
          lastSeen: t,
        },
        addressExpiry: new Map(seen.addresses.map((a) => [a, expiry])),
        addressPort: new Map(seen.addresses.map((a) => [a, seen.port])),
        expiresAt: expiry,
      }
      fresh.peer = view(fresh)
      peers.set(seen.deviceId, fresh)
      log.debug('peer found', { deviceId: seen.deviceId, addresses: fresh.peer.addresses })
      emitPeer(fresh.peer)
      return
    }
    const before = JSON.stringify([state.peer.endpoints, state.peer.deviceName, state.peer.protocolVersion])
    // Name and version follow only the claim from the first address still alive: another
    // address claiming this id (perhaps forged) adds an endpoint, and changes nothing else.
    const primary = [...state.addressExpiry.keys()][0]
    for (const a of seen.addresses) {
      state.addressExpiry.set(a, expiry)
      // An A record naming someone else's address may add it, never re-port it: only the
      // packet's own source speaks for its port.
      if (a === seen.source || !state.addressPort.has(a)) state.addressPort.set(a, seen.port)
    }
    state.expiresAt = Math.max(state.expiresAt, expiry)
    const fromPrimary = primary === undefined || primary === seen.source
    state.peer = view({
      ...state,
      peer: { ...state.peer, ...(fromPrimary ? { deviceName: seen.name, protocolVersion: seen.protocolVersion } : {}), lastSeen: t },
    })
    const after = JSON.stringify([state.peer.endpoints, state.peer.deviceName, state.peer.protocolVersion])
    if (before !== after) emitPeer(state.peer)
  }

  const copy = (peer: MdnsPeer): MdnsPeer => ({ ...peer, addresses: [...peer.addresses], endpoints: peer.endpoints.map((e) => ({ ...e })) })

  const emitPeer = (peer: MdnsPeer): void => {
    listeners.emit('peer', [copy(peer)], (e) => log.error('peer listener threw', { error: String(e) }))
  }

  const dropAddress = (deviceId: DeviceId, address: string): void => {
    const state = peers.get(deviceId)
    if (state === undefined) return
    if (!state.addressExpiry.delete(address)) return
    state.addressPort.delete(address)
    if (state.addressExpiry.size === 0) lose(deviceId)
    else {
      state.peer = view(state)
      emitPeer(state.peer)
    }
  }

  const sweep = (): void => {
    const t = now()
    for (const [deviceId, state] of [...peers]) {
      let changed = false
      for (const [address, expiry] of [...state.addressExpiry]) {
        if (expiry <= t) {
          state.addressExpiry.delete(address)
          state.addressPort.delete(address)
          changed = true
        }
      }
      if (state.addressExpiry.size === 0 || state.expiresAt <= t) lose(deviceId)
      else if (changed) {
        state.peer = view(state)
        emitPeer(state.peer)
      }
    }
  }

  const tick = (): void => {
    sweep()
    void query()
    // Re-announcing within the TTL keeps browsers that do not query from expiring us.
    void announce(ttl)
  }

  return {
    on: (event, listener) => listeners.on(event, listener),
    peers: () => [...peers.values()].map((s) => copy(s.peer)),
    refresh: () => {
      if (mdns !== undefined) tick()
    },
    start() {
      starting ??= (async () => {
        inSubnet = subnetFilter(options.interfaceAddress)
        const m = makeMdns({
          interface: options.interfaceAddress,
          // Bound to the wildcard: a socket bound to a unicast address never sees multicast on
          // Linux. The membership and the outgoing interface stay on `interfaceAddress` alone,
          // and packets from other subnets are ignored above.
          bind: '0.0.0.0',
          port: options.mdnsPort ?? 5353,
          multicast: true,
          loopback: true,
          ttl: 255,
          reuseAddr: true,
        })
        m.on('warning', (error: Error) => log.debug('mdns warning', { error: error.message }))
        m.on('query', onQuery)
        m.on('response', onResponse)
        try {
          await new Promise<void>((resolve, reject) => {
            m.once('ready', () => resolve())
            m.once('error', (error: Error) => reject(new WireError('mDNS socket failed', { code: 'MDNS_SOCKET', cause: error })))
          })
        } catch (error) {
          m.destroy()
          throw error
        }
        m.on('error', (error: Error) => report(new WireError('mDNS socket failed', { code: 'MDNS_SOCKET', cause: error })))
        mdns = m
        interval = timers.setInterval(tick, queryIntervalMs)
        await Promise.all([query(), announce(ttl)])
        log.info('mDNS started', { interface: options.interfaceAddress, advertising: ad?.deviceId })
      })()
      // A failed start can be retried (e.g. once the interface is up).
      starting.catch(() => (starting = undefined))
      return starting
    },
    async stop(o?: { goodbye?: boolean }) {
      if (starting === undefined) return
      await starting.catch(() => undefined)
      starting = undefined
      const m = mdns
      mdns = undefined
      if (interval !== undefined) timers.clearInterval(interval)
      interval = undefined
      if (m === undefined) return
      mdns = m
      // Goodbye (RFC 6762 §10.1) — unless the interface's address is gone, where sending only fails.
      if (o?.goodbye !== false) await announce(0)
      mdns = undefined
      await new Promise<void>((resolve) => m.destroy(() => resolve()))
      peers.clear()
      log.info('mDNS stopped')
    },
  }
}

/**
 * mDNS on every usable interface, as one {@link Discovery} (docs/protocol/lan.md, "Discovery").
 *
 * One single-interface responder/browser ({@link createMdnsDiscovery}) per chosen interface
 * (interfaces.ts says which), each advertising that interface's own address. The set follows the
 * machine: `os.networkInterfaces()` is polled every {@link DEFAULT_POLL_INTERVAL_MS} ms (Node has
 * no portable change notification; a poll is one getifaddrs call), and an interface or address
 * that appears gets its instance started, one that goes away gets its instance stopped — so a
 * laptop that moves from one Wi-Fi to another keeps discovering without a restart. Each change
 * after start is reported to `onNetworkChange` listeners.
 *
 * A device seen on several interfaces is one peer: its endpoints are the union, in interface
 * order. `peer-lost` comes only when no interface sees it any more.
 */
import { networkInterfaces } from 'node:os'
import { OrbitError, WireError } from '../../core/errors.js'
import type { DeviceId } from '../../core/ids.js'
import type { Logger } from '../../core/log.js'
import { silentLogger } from '../../core/log.js'
import { Listeners, type Discovery, type DiscoveryEvents } from '../../core/discovery/index.js'
import { createMdnsDiscovery, type IntervalTimers, type MdnsPeer } from './mdns-discovery.js'
import { readInterfaceFlags, resolvePin, selectInterfaces, type ChosenInterface, type InterfaceFlags, type InterfaceList } from './interfaces.js'

/** How often the interface list is polled, by default: a move between networks is noticed within this. */
export const DEFAULT_POLL_INTERVAL_MS = 3000

/** One single-interface discovery, as the multi-interface one drives it. */
export type InterfaceDiscovery = Omit<Discovery, 'peers' | 'stop'> & {
  peers(): MdnsPeer[]
  /** `goodbye: false` when the interface's address is already gone (sending would only fail). */
  stop(o?: { goodbye?: boolean }): Promise<void>
}

export interface MultiMdnsDiscoveryOptions {
  /** What to advertise (the address is each interface's own); omit to browse only. */
  advertise?: { deviceId: DeviceId; name: string; port: number; protocolVersion?: number }
  /** `--interface IP|NAME`: this one interface only, whether or not the default filter would pick it. */
  pin?: string
  /** Interface poll interval. Default {@link DEFAULT_POLL_INTERVAL_MS}. */
  pollIntervalMs?: number
  /** Per-interface record TTL and query interval (see MdnsDiscoveryOptions). */
  ttlSeconds?: number
  queryIntervalMs?: number
  mdnsPort?: number
  /** The interface listing (default `os.networkInterfaces`) and flags (default sysfs): fixtures in tests. */
  listInterfaces?: () => InterfaceList
  flagsOf?: (name: string) => InterfaceFlags
  /** Makes the discovery of one interface (default {@link createMdnsDiscovery}). */
  createInstance?: (iface: ChosenInterface) => InterfaceDiscovery
  logger?: Logger
  /** Timers for the poll (and, by default, the instances' query ticks). */
  timers?: IntervalTimers
}

/** Interfaces that came or went in one poll, and a sentence saying so. */
export interface NetworkChange {
  added: ChosenInterface[]
  removed: ChosenInterface[]
  /** e.g. `eth1 10.0.0.2 up; wlan0 192.168.1.5 gone` */
  why: string
}

/** Where discovery runs now, or why nowhere. */
export interface DiscoveryInterfaces {
  interfaces: Array<{ name: string; address: string }>
  /** Set when `interfaces` is empty: what the user can do about it. */
  reason?: string
}

export interface MultiMdnsDiscovery extends Omit<InterfaceDiscovery, 'stop'> {
  /** Stops every instance, each saying goodbye. */
  stop(): Promise<void>
  /** The interfaces with a running instance (or why none). */
  where(): DiscoveryInterfaces
  /** Called after every poll that started or stopped an instance. */
  onNetworkChange(listener: (change: NetworkChange) => void): () => void
  /** Polls the interfaces now (also on the interval). Resolves when the instances are started/stopped. */
  poll(): Promise<void>
}

const defaultTimers: IntervalTimers = {
  setInterval: (fn, ms) => {
    const handle = setInterval(fn, ms)
    handle.unref()
    return handle
  },
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
}

interface Running {
  iface: ChosenInterface
  discovery: InterfaceDiscovery
  off: Array<() => void>
}

const keyOf = (i: ChosenInterface): string => `${i.name}/${i.address}/${i.netmask}`
const describe = (i: ChosenInterface): string => `${i.name} ${i.address}`

/**
 * Creates the multi-interface discovery. Nothing is sent before `start()`.
 *
 * @example
 * const discovery = createMultiMdnsDiscovery({ advertise: { deviceId, name: 'Laptop', port: 7878 } })
 * discovery.on('peer', (peer) => dial(peer))
 * discovery.onNetworkChange(({ why }) => log.info(why))
 * await discovery.start()
 * discovery.where() // { interfaces: [{ name: 'wlan0', address: '192.168.1.20' }] }
 */
export function createMultiMdnsDiscovery(options: MultiMdnsDiscoveryOptions = {}): MultiMdnsDiscovery {
  const log = (options.logger ?? silentLogger).forComponent('orbit:discovery-mdns')
  const timers = options.timers ?? defaultTimers
  const list = options.listInterfaces ?? networkInterfaces
  const flagsOf = options.flagsOf ?? readInterfaceFlags
  const make =
    options.createInstance ??
    ((iface: ChosenInterface) =>
      createMdnsDiscovery({
        interfaceAddress: iface.address,
        ...(options.advertise === undefined ? {} : { advertise: options.advertise }),
        ...(options.ttlSeconds === undefined ? {} : { ttlSeconds: options.ttlSeconds }),
        ...(options.queryIntervalMs === undefined ? {} : { queryIntervalMs: options.queryIntervalMs }),
        ...(options.mdnsPort === undefined ? {} : { mdnsPort: options.mdnsPort }),
        ...(options.logger === undefined ? {} : { logger: options.logger }),
        ...(options.timers === undefined ? {} : { timers: options.timers }),
      }))
  const listeners = new Listeners<DiscoveryEvents>()
  const changes = new Listeners<{ change: (change: NetworkChange) => void }>()
  const running = new Map<string, Running>()
  /** Interfaces whose start failed, so the same failure is logged once, not every poll. */
  const failed = new Set<string>()
  let started = false
  let timer: unknown
  let polling: Promise<void> = Promise.resolve()
  let reason: string | undefined = 'not started'

  const instances = (): Running[] => [...running.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, r]) => r)

  /** One device as all interfaces together see it, or undefined when none does. */
  const merged = (deviceId: DeviceId): MdnsPeer | undefined => {
    let out: MdnsPeer | undefined
    for (const r of instances()) {
      const p = r.discovery.peers().find((x) => x.deviceId === deviceId)
      if (p === undefined) continue
      if (out === undefined) out = { ...p, addresses: [...p.addresses], endpoints: p.endpoints.map((e) => ({ ...e })) }
      else {
        for (const e of p.endpoints) if (!out.endpoints.some((x) => x.address === e.address)) out.endpoints.push({ ...e })
        out.addresses = out.endpoints.map((e) => e.address)
        out.lastSeen = Math.max(out.lastSeen, p.lastSeen)
      }
    }
    return out
  }

  const settle = (deviceId: DeviceId): void => {
    const peer = merged(deviceId)
    const onError = (e: unknown): void => log.error('discovery listener threw', { error: String(e) })
    if (peer === undefined) listeners.emit('peer-lost', [deviceId], onError)
    else listeners.emit('peer', [peer], onError)
  }

  const report = (error: OrbitError): void => listeners.emit('error', [error])

  const launch = async (iface: ChosenInterface): Promise<boolean> => {
    const key = keyOf(iface)
    const discovery = make(iface)
    const r: Running = { iface, discovery, off: [] }
    r.off.push(
      discovery.on('peer', (peer) => {
        if (running.get(key) === r) settle(peer.deviceId)
      }),
      discovery.on('peer-lost', (deviceId) => {
        if (running.get(key) === r) settle(deviceId)
      }),
      discovery.on('error', (error) => report(error)),
    )
    // Registered before start: the first answers may arrive while start() resolves.
    running.set(key, r)
    try {
      await discovery.start()
      failed.delete(key)
      return true
    } catch (error) {
      running.delete(key)
      for (const off of r.off) off()
      if (!failed.has(key)) {
        failed.add(key)
        const e = error instanceof OrbitError ? error : new WireError(String(error), { code: 'MDNS_SOCKET', cause: error })
        log.warn(`mDNS could not start on ${describe(iface)}: ${e.message}`, { name: e.name, code: e.code, interface: iface.name })
        report(e)
      }
      return false
    }
  }

  const retire = async (r: Running, goodbye: boolean): Promise<void> => {
    const ids = r.discovery.peers().map((p) => p.deviceId)
    running.delete(keyOf(r.iface))
    for (const off of r.off) off()
    // The goodbye may fail (the interface is already gone): that is not news.
    await r.discovery.stop({ goodbye }).catch((error: unknown) => log.debug('mDNS stop failed', { interface: r.iface.name, error: String(error) }))
    for (const id of ids) settle(id)
  }

  const wanted = (): { interfaces: ChosenInterface[]; reason?: string } => {
    const all = list()
    if (options.pin !== undefined) {
      const one = resolvePin(options.pin, all)
      return one === undefined ? { interfaces: [], reason: `--interface ${options.pin}: no such IPv4 interface (now)` } : { interfaces: [one] }
    }
    const selection = selectInterfaces(all, flagsOf)
    if (selection.chosen.length > 0) return { interfaces: selection.chosen }
    const seen = selection.rejected.filter((r) => r.reason !== 'ipv6' && r.reason !== 'internal')
    return {
      interfaces: [],
      reason:
        seen.length === 0
          ? 'no usable interface (no network)'
          : `no usable interface (${seen.map((r) => `${r.name} ${r.address}: ${r.reason}`).join(', ')}); pin one with --interface NAME`,
    }
  }

  /** The first poll (start) starts the instances and reports no change: nothing changed yet. */
  let first = true
  const pollOnce = async (): Promise<void> => {
    if (!started) return
    const initial = first
    first = false
    let want: ReturnType<typeof wanted>
    try {
      want = wanted()
    } catch (error) {
      log.warn('listing interfaces failed', { error: String(error) })
      return
    }
    const keys = new Set(want.interfaces.map(keyOf))
    const removed = instances().filter((r) => !keys.has(keyOf(r.iface)))
    for (const r of removed) await retire(r, false)
    const added: ChosenInterface[] = []
    for (const iface of want.interfaces) {
      if (!started) break
      if (running.has(keyOf(iface))) continue
      if (await launch(iface)) added.push(iface)
    }
    reason = running.size > 0 ? undefined : (want.reason ?? `mDNS could not start on ${want.interfaces.map(describe).join(', ')}`)
    if (initial || (added.length === 0 && removed.length === 0)) return
    const why = [...added.map((i) => `${describe(i)} up`), ...removed.map((r) => `${describe(r.iface)} gone`)].join('; ')
    log.info(`network change: ${why}`, { added: added.map((i) => i.name), removed: removed.map((r) => r.iface.name) })
    changes.emit('change', [{ added, removed: removed.map((r) => r.iface), why }], (e) => log.error('network-change listener threw', { error: String(e) }))
  }

  const poll = (): Promise<void> => (polling = polling.then(pollOnce, pollOnce))

  return {
    on: (event, listener) => listeners.on(event, listener),
    onNetworkChange: (listener) => changes.on('change', listener),
    peers() {
      const ids = new Set(instances().flatMap((r) => r.discovery.peers().map((p) => p.deviceId)))
      return [...ids].flatMap((id) => merged(id) ?? [])
    },
    refresh() {
      for (const r of instances()) r.discovery.refresh()
    },
    where: () => ({
      interfaces: instances().map((r) => ({ name: r.iface.name, address: r.iface.address })),
      ...(running.size === 0 && reason !== undefined ? { reason } : {}),
    }),
    poll,
    async start() {
      if (started) return polling
      started = true
      timer = timers.setInterval(() => void poll(), options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS)
      await poll()
    },
    async stop() {
      if (!started) return
      started = false
      first = true
      if (timer !== undefined) timers.clearInterval(timer)
      timer = undefined
      await polling.catch(() => undefined)
      await Promise.all(instances().map((r) => retire(r, true)))
      reason = 'stopped'
    },
  }
}

/**
 * The mesh relay (docs/protocol/mesh.md): route gossip and relay forwarding of `signal` envelopes
 * over the live links of one or more link hosts ({@link SignalPort}s: the LAN's TCP adapter, kept
 * WebRTC links).
 *
 * - **Routes.** Each device tells each linked member which *other* members it is linked to now
 *   (`routes`), when a link comes up and whenever that set changes. What a neighbour last said is
 *   kept until its link goes, so `routeTo(C)` is synchronous: a linked member that lists C.
 * - **Forwarding.** A `relay` from A for C is forwarded only when A and C are both current members,
 *   C is linked here now, the envelope is unexpired (and not further out than {@link MAX_RELAY_TTL_MS}),
 *   and A set no `from` (one hop: a relayed envelope is never relayed again). The copy sent on
 *   carries `from = A`, the device A's link authenticated — never what A claimed.
 * - **Rate.** Every link gets a token bucket ({@link RELAY_RATE}): beyond it signals are dropped.
 *
 * The relay cannot read or forge what it carries: bodies are sealed for the recipient and signed
 * by the sender (src/core/engine/mesh-signal.ts checks that, at the endpoints). Everything dropped
 * here is reported as a typed `WireError` (`MESH_*`) in the log; nothing is written.
 */
import { WireError } from '../errors.js'
import type { DeviceId } from '../ids.js'
import { silentLogger, type Logger } from '../log.js'
import { MAX_ROUTES, type Signal } from './envelope.js'
import type { SignalPort } from './link-adapter.js'

/** Per-link signal budget: a burst of `burst` envelopes, refilled at `perSecond`. */
export const RELAY_RATE = { burst: 32, perSecond: 8 } as const
/** A relay envelope may not expire later than this from now (bounds every seen-id set). */
export const MAX_RELAY_TTL_MS = 120_000
/** Dropped signals logged as warnings per neighbour; later ones at debug level. */
const MAX_DROP_WARNINGS = 20

/** A relay envelope for this device, and how it came. */
export interface RelayDelivery {
  /** The origin: `from` as a relay stamped it, or the neighbour itself when it sent it directly. */
  from: DeviceId
  /** The neighbour whose link delivered it (the relay, or `from` itself). */
  via: DeviceId
  signal: Extract<Signal, { type: 'relay' }>
}

export interface SignalRelayOptions {
  self: DeviceId
  /** Current membership (re-asked for every envelope). */
  isMember(deviceId: DeviceId): boolean
  /** Relay envelopes addressed to this device. */
  deliver(delivery: RelayDelivery): void
  rate?: { burst: number; perSecond: number }
  now?: () => number
  logger?: Logger
}

interface Bucket {
  tokens: number
  at: number
  drops: number
}

export class SignalRelay {
  readonly #o: SignalRelayOptions
  readonly #log: Logger
  readonly #now: () => number
  readonly #ports = new Map<SignalPort, Array<() => void>>()
  /** What each neighbour last said it is linked to. */
  readonly #routes = new Map<DeviceId, Set<DeviceId>>()
  /** What we last told each neighbour (to send only changes). */
  readonly #told = new Map<DeviceId, string>()
  readonly #buckets = new Map<DeviceId, Bucket>()
  readonly #listeners = new Set<() => void>()
  /** Counters, for tests and status. */
  readonly counts = { forwarded: 0, delivered: 0, dropped: 0, routesSent: 0 }
  #closed = false

  constructor(options: SignalRelayOptions) {
    this.#o = options
    this.#log = (options.logger ?? silentLogger).forComponent('orbit:mesh:relay')
    this.#now = options.now ?? Date.now
  }

  /** Relays over `port`'s links too; returns the function that stops. */
  addPort(port: SignalPort): () => void {
    const offs = [port.onSignal((from, signal) => this.#receive(port, from, signal)), port.onPeersChanged(() => this.#peersChanged())]
    this.#ports.set(port, offs)
    this.#peersChanged()
    return () => {
      for (const off of this.#ports.get(port) ?? []) off()
      this.#ports.delete(port)
      this.#peersChanged()
    }
  }

  /** Members linked here now (over any port). */
  linked(): DeviceId[] {
    const out = new Set<DeviceId>()
    for (const port of this.#ports.keys()) for (const id of port.signalPeers()) if (this.#o.isMember(id)) out.add(id)
    return [...out]
  }

  /** A linked member that says it is linked to `deviceId`, or undefined. Synchronous. */
  routeTo(deviceId: DeviceId): DeviceId | undefined {
    if (!this.#o.isMember(deviceId)) return undefined
    const linked = this.linked()
    for (const via of linked) if (via !== deviceId && this.#routes.get(via)?.has(deviceId) === true) return via
    return undefined
  }

  /** What each linked neighbour reported (for status and tests). */
  routes(): Record<string, DeviceId[]> {
    return Object.fromEntries([...this.#routes].map(([k, v]) => [k, [...v]]))
  }

  /** Called whenever what {@link routeTo} may answer changed (a route came or went). */
  onRoutesChanged(listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /**
   * Sends a relay envelope toward `to`: directly when linked, else through `via` (when given and
   * linked, e.g. the relay an offer came through) or any neighbour that routes to it.
   * @throws WireError `MESH_NO_ROUTE` when no linked member reaches `to`.
   */
  send(signal: Extract<Signal, { type: 'relay' }>, options: { via?: DeviceId } = {}): DeviceId {
    const to = signal.to as DeviceId
    const out: Signal = { type: 'relay', to, id: signal.id, expiresAt: signal.expiresAt, body: signal.body }
    const tryVia = (via: DeviceId | undefined): boolean => via !== undefined && this.#sendTo(via, out)
    if (tryVia(to)) return to
    if (options.via !== undefined && options.via !== to && this.#routes.get(options.via)?.has(to) !== false && tryVia(options.via)) return options.via
    const via = this.routeTo(to)
    if (tryVia(via)) return via!
    throw new WireError(`no linked member relays to ${to}`, { code: 'MESH_NO_ROUTE' })
  }

  close(): void {
    this.#closed = true
    for (const offs of this.#ports.values()) for (const off of offs) off()
    this.#ports.clear()
    this.#routes.clear()
    this.#listeners.clear()
  }

  // ---- internals -----------------------------------------------------------------------------

  #sendTo(deviceId: DeviceId, signal: Signal): boolean {
    for (const port of this.#ports.keys()) if (port.signalPeers().includes(deviceId) && port.sendSignal(deviceId, signal)) return true
    return false
  }

  #receive(_port: SignalPort, neighbour: DeviceId, signal: Signal): void {
    if (this.#closed) return
    if (!this.#take(neighbour)) {
      return this.#drop(neighbour, new WireError(`${neighbour} exceeds ${RELAY_RATE.perSecond} signals/s (burst ${RELAY_RATE.burst}); dropped`, { code: 'MESH_RATE_LIMITED' }))
    }
    if (!this.#o.isMember(neighbour)) return this.#drop(neighbour, new WireError(`signal from ${neighbour}, not a member; dropped`, { code: 'MESH_NOT_MEMBER' }))
    if (signal.type === 'routes') return this.#onRoutes(neighbour, signal.members)
    const now = this.#now()
    if (signal.expiresAt <= now) return this.#drop(neighbour, new WireError('relay envelope expired; dropped', { code: 'MESH_EXPIRED' }))
    if (signal.expiresAt > now + MAX_RELAY_TTL_MS) return this.#drop(neighbour, new WireError(`relay envelope expires more than ${MAX_RELAY_TTL_MS} ms ahead; dropped`, { code: 'MESH_EXPIRED' }))
    if (signal.to === this.#o.self) {
      const from = (signal.from ?? neighbour) as DeviceId
      this.counts.delivered++
      try {
        this.#o.deliver({ from, via: neighbour, signal })
      } catch (error) {
        this.#log.warn('relay delivery threw', { error: String(error) })
      }
      return
    }
    if (signal.from !== undefined) return this.#drop(neighbour, new WireError('a relayed envelope is not relayed again (one hop); dropped', { code: 'MESH_HOPS' }))
    const to = signal.to as DeviceId
    if (!this.#o.isMember(to)) return this.#drop(neighbour, new WireError(`relay for ${to}, not a member; dropped`, { code: 'MESH_NOT_MEMBER' }))
    if (!this.#sendTo(to, { ...signal, from: neighbour })) return this.#drop(neighbour, new WireError(`relay for ${to}, not linked here; dropped`, { code: 'MESH_NO_ROUTE' }))
    this.counts.forwarded++
  }

  #onRoutes(neighbour: DeviceId, members: string[]): void {
    const next = new Set(members.slice(0, MAX_ROUTES) as DeviceId[])
    next.delete(this.#o.self)
    const before = this.#routes.get(neighbour)
    this.#routes.set(neighbour, next)
    if (before === undefined || before.size !== next.size || [...next].some((m) => !before.has(m))) this.#changed()
  }

  #peersChanged(): void {
    if (this.#closed) return
    const linked = this.linked()
    // A neighbour whose link went takes its routes (and its budget) with it.
    for (const map of [this.#routes, this.#told, this.#buckets]) for (const n of [...map.keys()]) if (!linked.includes(n)) map.delete(n)
    for (const n of linked) {
      const members = linked.filter((m) => m !== n).sort().slice(0, MAX_ROUTES)
      const key = members.join(',')
      if (this.#told.get(n) === key) continue
      if (this.#sendTo(n, { type: 'routes', members })) {
        this.#told.set(n, key)
        this.counts.routesSent++
      }
    }
    // A link that came or went changes what is reachable (directly or through it).
    this.#changed()
  }

  #changed(): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener()
      } catch (error) {
        this.#log.warn('routes listener threw', { error: String(error) })
      }
    }
  }

  #take(neighbour: DeviceId): boolean {
    const rate = this.#o.rate ?? RELAY_RATE
    const now = this.#now()
    const b = this.#buckets.get(neighbour) ?? { tokens: rate.burst, at: now, drops: 0 }
    b.tokens = Math.min(rate.burst, b.tokens + ((now - b.at) / 1000) * rate.perSecond)
    b.at = now
    this.#buckets.set(neighbour, b)
    if (b.tokens < 1) return false
    b.tokens -= 1
    return true
  }

  #drop(neighbour: DeviceId, error: WireError): void {
    this.counts.dropped++
    const b = this.#buckets.get(neighbour)
    const fields = { name: error.name, code: error.code, message: error.message, deviceId: neighbour }
    if (b === undefined || b.drops++ < MAX_DROP_WARNINGS) this.#log.warn('signal dropped', fields)
    else this.#log.debug('signal dropped', fields)
  }
}

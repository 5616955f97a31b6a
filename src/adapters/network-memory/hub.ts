import type { Message, PeerId } from '@automerge/automerge-repo'
import { MemoryNetworkAdapter } from './adapter.js'

/**
 * How a link delivers: `auto` delivers queued messages in order on a microtask (a reliable, ordered
 * stream such as TCP); `manual` keeps them queued until the test delivers, reorders or duplicates them.
 */
export type DeliveryMode = 'auto' | 'manual'

/** Counters of one link since it was created (both directions). */
export interface LinkStats {
  delivered: number
  duplicated: number
  reordered: number
  /** Messages that were queued when the link went down (or an end went offline), thrown away. */
  dropped: number
}

/** One direction of a link: `from` sends, `to` receives, messages wait in `queue`. */
export class Channel {
  /** Messages sent and not yet delivered, oldest first. Read-only for callers. */
  readonly queue: Message[] = []
  #flushScheduled = false

  constructor(
    readonly link: MemoryLink,
    readonly from: MemoryNetworkAdapter,
    readonly to: MemoryNetworkAdapter,
  ) {}

  /**
   * Takes the message at `index` (0 = oldest) off the queue and delivers it. `index > 0` delivers
   * out of order. Returns false when there is no such message.
   */
  deliver(index = 0): boolean {
    const message = this.queue[index]
    if (message === undefined) return false
    this.queue.splice(index, 1)
    if (index > 0) this.link.stats.reordered++
    this.link.stats.delivered++
    this.to._receive(copyOf(message))
    return true
  }

  /** Delivers a copy of the message at `index` and leaves the original queued (it arrives again later). */
  duplicate(index = 0): boolean {
    const message = this.queue[index]
    if (message === undefined) return false
    this.link.stats.duplicated++
    this.to._receive(copyOf(message))
    return true
  }

  /** Delivers everything queued, in order, including messages queued while delivering. Returns the count. */
  drain(): number {
    let n = 0
    while (this.deliver(0)) n++
    return n
  }

  /** @internal */
  _enqueue(message: Message): void {
    this.queue.push(message)
    if (this.link.mode === 'auto') this._scheduleFlush()
  }

  /** @internal */
  _scheduleFlush(): void {
    if (this.#flushScheduled || this.queue.length === 0) return
    this.#flushScheduled = true
    // Microtasks, not setTimeout: timer-based delivery makes round-trip-heavy tests slow and flaky
    // (automerge-repo's DummyNetworkAdapter notes the same), and it would fight fake timers.
    queueMicrotask(() => {
      this.#flushScheduled = false
      while (this.link.mode === 'auto' && this.queue.length > 0 && this.link._spendAuto()) this.deliver(0)
    })
  }

  /** @internal */
  _drop(): void {
    this.link.stats.dropped += this.queue.length
    this.queue.length = 0
  }
}

/**
 * A bidirectional link between two adapters of a {@link MemoryHub}. It is *live* when it is up and
 * both ends are online (`connect`ed); becoming live announces each end to the other
 * (`peer-candidate`), stopping being live drops whatever was queued and emits `peer-disconnected`
 * on both ends — as a TCP connection that breaks and is re-established.
 */
export class MemoryLink {
  readonly stats: LinkStats = { delivered: 0, duplicated: 0, reordered: 0, dropped: 0 }
  readonly #ab: Channel
  readonly #ba: Channel
  #up: boolean
  #mode: DeliveryMode
  #session: Session | undefined
  #sessions = 0

  readonly #spend: () => boolean

  /** @internal use {@link MemoryHub.link}. */
  constructor(
    readonly a: MemoryNetworkAdapter,
    readonly b: MemoryNetworkAdapter,
    options: { up?: boolean; mode?: DeliveryMode; spend?: () => boolean } = {},
  ) {
    this.#spend = options.spend ?? (() => true)
    this.#ab = new Channel(this, a, b)
    this.#ba = new Channel(this, b, a)
    this.#up = options.up ?? true
    this.#mode = options.mode ?? 'auto'
  }

  get up(): boolean {
    return this.#up
  }

  /** Up, and both ends online: messages flow and each end knows the other as a peer. */
  get live(): boolean {
    return this.#session !== undefined
  }

  /** Increases each time the link becomes live (each "connection"). */
  get sessions(): number {
    return this.#sessions
  }

  get mode(): DeliveryMode {
    return this.#mode
  }

  /** Switches delivery mode; switching to `auto` schedules delivery of what is queued. */
  setMode(mode: DeliveryMode): void {
    this.#mode = mode
    if (mode === 'auto') {
      this.#ab._scheduleFlush()
      this.#ba._scheduleFlush()
    }
  }

  /** Both directions, `a → b` first. */
  get channels(): readonly [Channel, Channel] {
    return [this.#ab, this.#ba]
  }

  /** The direction in which `from` sends. */
  channelFrom(from: MemoryNetworkAdapter): Channel {
    if (from === this.a) return this.#ab
    if (from === this.b) return this.#ba
    throw new RangeError(`adapter ${from.name} is not an end of this link`)
  }

  /** The adapter at the other end from `end`. */
  other(end: MemoryNetworkAdapter): MemoryNetworkAdapter {
    return end === this.a ? this.b : this.a
  }

  /** Messages queued in both directions. */
  get pending(): number {
    return this.#ab.queue.length + this.#ba.queue.length
  }

  /** Breaks the link: queued messages are lost, both ends see `peer-disconnected`. Idempotent. */
  cut(): void {
    this.#up = false
    this._evaluate()
  }

  /** Re-establishes the link: both ends see `peer-candidate` again (if online). Idempotent. */
  restore(): void {
    this.#up = true
    this._evaluate()
  }

  /** Delivers everything queued in both directions, in order, until both queues are empty. */
  drain(): number {
    let n = 0
    while (this.pending > 0) n += this.#ab.drain() + this.#ba.drain()
    return n
  }

  /** @internal re-derives liveness after any change of the link or of its ends. */
  _evaluate(): void {
    const live = this.#up && this.a.online && this.b.online
    if (live && this.#session === undefined) {
      const session: Session = { peerA: this.a.peerId as PeerId, peerB: this.b.peerId as PeerId, aKnows: false, bKnows: false }
      this.#session = session
      this.#sessions++
      // Announced on a microtask, like a connection that completes later: callers of `connect`
      // subscribe to `peer-candidate` after it returns (automerge-repo's acceptance suite does).
      queueMicrotask(() => {
        if (this.#session !== session) return
        session.aKnows = true
        this.a._peerUp(this.b)
      })
      queueMicrotask(() => {
        if (this.#session !== session) return
        session.bKnows = true
        this.b._peerUp(this.a)
      })
    } else if (!live && this.#session !== undefined) {
      const session = this.#session
      this.#session = undefined
      this.#ab._drop()
      this.#ba._drop()
      // Only an end that heard of the peer hears it go; queued after any earlier announcement.
      if (session.aKnows) queueMicrotask(() => this.a._peerDown(session.peerB))
      if (session.bKnows) queueMicrotask(() => this.b._peerDown(session.peerA))
    }
  }

  /** @internal takes one automatic delivery from the hub's budget; false when it is spent. */
  _spendAuto(): boolean {
    return this.#spend()
  }

  /** @internal whether `from` may send now: the link is live and `from` has been told of its peer. */
  _canSend(from: MemoryNetworkAdapter): boolean {
    const s = this.#session
    if (s === undefined) return false
    return from === this.a ? s.aKnows : s.bKnows
  }
}

interface Session {
  peerA: PeerId
  peerB: PeerId
  aKnows: boolean
  bKnows: boolean
}

/** Options of {@link MemoryHub}. */
export interface MemoryHubOptions {
  /** Default delivery mode of new links (default `auto`). */
  mode?: DeliveryMode
  /** Link every new adapter to every existing one (a switch), default true. */
  autoLink?: boolean
  /**
   * How many messages `auto` links may deliver in total before they stop (leaving the rest queued);
   * see {@link MemoryHub.autoBudget}. Default: unlimited.
   */
  autoBudget?: number
}

/**
 * An in-memory network for automerge-repo whose every delivery the test controls.
 *
 * Adapters are ports; links join two ports; each direction of a link queues messages. In `auto`
 * mode a link delivers in order on microtasks; in `manual` mode nothing moves until the test calls
 * `channel.deliver(i)` (reordering when `i > 0`), `channel.duplicate(i)`, `link.drain()` or
 * `hub.drain()`. `link.cut()` / `link.restore()` break and re-make a link.
 *
 * @example
 * const hub = new MemoryHub({ mode: 'manual' })
 * const a = new Repo({ network: [hub.createAdapter('a')], peerId: 'a' as PeerId })
 * const b = new Repo({ network: [hub.createAdapter('b')], peerId: 'b' as PeerId })
 * // ... make changes, then:
 * hub.drain()
 */
export class MemoryHub {
  readonly #adapters: MemoryNetworkAdapter[] = []
  readonly #links: MemoryLink[] = []
  readonly #mode: DeliveryMode
  readonly #autoLink: boolean
  /**
   * Automatic deliveries left. Auto delivery runs on microtasks, so two peers that answer each
   * other forever (a sync livelock) would starve the event loop and hang the test instead of
   * failing it: with a budget, delivery stops and the messages stay queued for the test to see.
   * Assign to refill it.
   */
  autoBudget: number

  constructor(options: MemoryHubOptions = {}) {
    this.#mode = options.mode ?? 'auto'
    this.#autoLink = options.autoLink ?? true
    this.autoBudget = options.autoBudget ?? Number.POSITIVE_INFINITY
  }

  get adapters(): readonly MemoryNetworkAdapter[] {
    return this.#adapters
  }

  get links(): readonly MemoryLink[] {
    return this.#links
  }

  /** A new port on this hub (linked to every existing port when `autoLink`). */
  createAdapter(name = `adapter-${this.#adapters.length}`): MemoryNetworkAdapter {
    const adapter = new MemoryNetworkAdapter(this, name)
    if (this.#autoLink) for (const other of this.#adapters) this.link(adapter, other)
    this.#adapters.push(adapter)
    return adapter
  }

  /** Links two ports (returns the existing link if there is one). */
  link(a: MemoryNetworkAdapter, b: MemoryNetworkAdapter, options: { up?: boolean; mode?: DeliveryMode } = {}): MemoryLink {
    if (a === b) throw new RangeError('cannot link an adapter to itself')
    const existing = this.linkBetween(a, b)
    if (existing !== undefined) return existing
    const spend = () => {
      if (this.autoBudget <= 0) return false
      this.autoBudget--
      return true
    }
    const link = new MemoryLink(a, b, { mode: this.#mode, ...options, spend })
    this.#links.push(link)
    link._evaluate()
    return link
  }

  linkBetween(a: MemoryNetworkAdapter, b: MemoryNetworkAdapter): MemoryLink | undefined {
    return this.#links.find(l => (l.a === a && l.b === b) || (l.a === b && l.b === a))
  }

  /** Every direction of every link that has messages waiting. */
  busyChannels(): Channel[] {
    const out: Channel[] = []
    for (const link of this.#links) for (const ch of link.channels) if (ch.queue.length > 0) out.push(ch)
    return out
  }

  /** Messages queued over the whole hub. */
  get pending(): number {
    let n = 0
    for (const link of this.#links) n += link.pending
    return n
  }

  /** Delivers everything queued on every link, in order per direction, until nothing is queued. */
  drain(): number {
    let n = 0
    while (this.pending > 0) for (const link of this.#links) n += link.drain()
    return n
  }

  /** @internal */
  _route(from: MemoryNetworkAdapter, message: Message): void {
    for (const link of this.#links) {
      if ((link.a !== from && link.b !== from) || !link._canSend(from)) continue
      if (link.other(from).peerId !== message.targetId) continue
      link.channelFrom(from)._enqueue(message)
      return
    }
    // No live link to the target: the message is lost, as on a real network.
  }

  /** @internal */
  _adapterOnline(adapter: MemoryNetworkAdapter): void {
    for (const link of this.#links) if (link.a === adapter || link.b === adapter) link._evaluate()
  }

  /** @internal */
  _adapterOffline(adapter: MemoryNetworkAdapter): void {
    this._adapterOnline(adapter)
  }
}

function copyOf(message: Message): Message {
  // A fresh buffer per delivery, as a real wire gives: the receiver may keep or mutate it.
  return message.data === undefined ? { ...message } : { ...message, data: message.data.slice() }
}

/**
 * An automerge-repo `NetworkAdapter` that hosts links (link.ts), written once for every live tier:
 * a transport adds each authenticated byte pipe with {@link LinkNetworkAdapter.addLink} and
 * keeps only what is its own (sockets, framing, heartbeats, redials). Per link this does:
 *
 * - the hello exchange, carrying the Repo's peer id and metadata and the optional document
 *   summary (read from `summary()` when the hello is sent; the remote's is emitted as
 *   `peer-summary` *before* the Repo hears `peer-candidate`);
 * - peer-id binding: the remote's Repo peer id must be its authenticated device id (default
 *   `acceptPeerId`), and a peer id once bound to a device is never accepted from another one —
 *   `HandshakeError { code: 'PEER_ID_MISMATCH' }`, link closed;
 * - one active link per peer: when two links to one device are up (both sides dialled at once),
 *   both sides keep the one dialled by the lower device id; the other is read for
 *   `duplicateDrainMs` and closed, so the Repo sees one uninterrupted peer;
 * - demultiplexing to the Repo (`peer-candidate` / `message` / `peer-disconnected`), and goodbye;
 * - automerge-repo's first-sync race, closed for Orbit's links only (src/core/sync/first-sync-guard.ts).
 *
 * docs/protocol/link.md has the wire format and the rules.
 */
import { NetworkAdapter, type Message, type PeerId, type PeerMetadata } from '@automerge/automerge-repo'
import { HandshakeError, OrbitError, WireError } from '../errors.js'
import type { DeviceId } from '../ids.js'
import { silentLogger, type Logger } from '../log.js'
import { Listeners } from '../discovery/listeners.js'
import { FirstSyncGuard } from '../sync/first-sync-guard.js'
import type { DocSummary, Hello, Signal } from './envelope.js'
import { Link, type LinkHandler, type LinkOptions } from './link.js'
import type { BytePipe } from './pipe.js'
import type { BlobMessage, BlobPort } from '../blobs/protocol.js'
import { LinkCooldown } from './cooldown.js'

/** Timers, injectable so drains and reconnects run on a test's schedule. */
export interface LinkTimers {
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

/** What `peer-summary` reports: the remote's hello summary, before the Repo hears of the peer. */
export interface PeerSummaryInfo {
  deviceId: DeviceId
  peerId: PeerId
  summary: DocSummary | undefined
}

/** Events of every link host (a transport adds its own through the type parameter). */
export interface LinkAdapterEvents {
  /**
   * The remote's hello arrived on a link about to carry the Repo: emitted before `peer-candidate`
   * (and again, without a new `peer-candidate`, when a preferred duplicate link takes over).
   */
  'peer-summary': (info: PeerSummaryInfo) => void
  /** A link dropped an envelope (`closing: false`, the link stays) or closed (`closing: true`) with a typed error. */
  'link-error': (info: { error: OrbitError; deviceId: DeviceId; closing: boolean }) => void
  /** A `signal` envelope arrived (docs/protocol/mesh.md); `deviceId` is the link-authenticated sender. */
  signal: (info: { deviceId: DeviceId; signal: Signal }) => void
  /** The set of devices {@link LinkNetworkAdapter.signalPeers} returns may have changed. */
  'signal-peers': () => void
  /** A `blob` envelope arrived (docs/protocol/blobs.md); `deviceId` is the link-authenticated sender. */
  blob: (info: { deviceId: DeviceId; message: BlobMessage }) => void
  /** The set of devices {@link LinkNetworkAdapter.blobPeers} returns may have changed. */
  'blob-peers': () => void
}

/**
 * What a mesh relay needs of a link host: the devices it can send `signal` envelopes to now,
 * sending one, and hearing them (src/core/link/signal-relay.ts).
 */
export interface SignalPort {
  signalPeers(): DeviceId[]
  sendSignal(deviceId: DeviceId, signal: Signal): boolean
  onSignal(listener: (deviceId: DeviceId, signal: Signal) => void): () => void
  onPeersChanged(listener: () => void): () => void
}

export interface LinkAdapterOptions extends LinkOptions {
  /** This device: the duplicate rule compares it with the remote's. Without it the older link is kept. */
  localDeviceId?: DeviceId
  /** What this device holds, sent in every hello (docs/protocol/link.md). Read when a link's hello is sent. */
  summary?: () => DocSummary | undefined
  /** Whether the remote may present `peerId` over a link authenticated as `deviceId`. Default: only when equal. */
  acceptPeerId?: (peerId: PeerId, deviceId: DeviceId) => boolean
  /** How long a duplicate link is still read before it is closed. Default 2000. */
  duplicateDrainMs?: number
  timers?: LinkTimers
  logger?: Logger
  /** Logger component name. Default `orbit:link`. */
  component?: string
  /**
   * After a link is closed for `LINK_FLOOD`, new links from that device are refused for this long,
   * doubling with each repeat (docs/protocol/link.md, "Limits"). Default 10 000.
   */
  floodCooldownMs?: number
  /** The longest such cooldown. Default 600 000. */
  maxFloodCooldownMs?: number
}

const defaultTimers: LinkTimers = {
  setTimeout: (fn, ms) => {
    const handle = setTimeout(fn, ms) as unknown as { unref?: () => void }
    handle.unref?.()
    return handle
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
}

/** Who opened a link (the dialler, the WebRTC offerer): the duplicate rule depends on it. */
export type DialledBy = 'local' | 'remote'

/** The shared link host; `C` is the transport's per-link data, `E` its events. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type EventMap<E> = { [K in keyof E]: (...args: any[]) => void }

export abstract class LinkNetworkAdapter<C = unknown, E extends LinkAdapterEvents & EventMap<E> = LinkAdapterEvents> extends NetworkAdapter {
  protected readonly linkLog: Logger
  readonly #linkOptions: LinkAdapterOptions
  readonly #acceptPeerId: (peerId: PeerId, deviceId: DeviceId) => boolean
  readonly #linkTimers: LinkTimers
  readonly #events = new Listeners<E>()
  readonly #links = new Set<Link<C>>()
  readonly #dialledBy = new Map<Link<C>, DialledBy>()
  /** The link carrying each announced peer. */
  readonly #active = new Map<PeerId, Link<C>>()
  /** Which device holds each peer id: once bound, never another device's. */
  readonly #peerOwner = new Map<PeerId, DeviceId>()
  #repoConnected = false
  readonly #handler: LinkHandler<C>
  /** Closes automerge-repo's first-sync race on these links (src/core/sync/first-sync-guard.ts). */
  readonly #firstSync = new FirstSyncGuard()
  /** Devices whose links are refused for a while after a flood. */
  readonly #cooldown: LinkCooldown

  constructor(options: LinkAdapterOptions) {
    super()
    this.#linkOptions = options
    this.linkLog = (options.logger ?? silentLogger).forComponent(options.component ?? 'orbit:link')
    this.#acceptPeerId = options.acceptPeerId ?? ((peerId, deviceId) => (peerId as string) === deviceId)
    this.#linkTimers = options.timers ?? defaultTimers
    this.#cooldown = new LinkCooldown({
      ...(options.floodCooldownMs === undefined ? {} : { baseMs: options.floodCooldownMs }),
      ...(options.maxFloodCooldownMs === undefined ? {} : { maxMs: options.maxFloodCooldownMs }),
      ...(options.now === undefined ? {} : { now: options.now }),
    })
    this.#handler = {
      hello: (link, hello) => this.#onHello(link, hello),
      sync: (link, message) => this.#onSync(link, message),
      signal: (link, signal) => this.emit2('signal', [{ deviceId: link.remoteDeviceId, signal }] as never),
      blob: (link, message) => this.emit2('blob', [{ deviceId: link.remoteDeviceId, message }] as never),
      leave: (link) => this.#onLeave(link),
      error: (link, error, closing) => {
        if (closing && error.code === 'LINK_FLOOD') this.#coolDown(link)
        this.emit2('link-error', [{ error, deviceId: link.remoteDeviceId, closing }] as never)
        this.onLinkError(link, error, closing)
      },
      closed: (link, error) => this.#onClosed(link, error),
    }
  }

  // ---- events --------------------------------------------------------------------------------

  /** Subscribes to link (and transport) events; returns the unsubscribe function. */
  on2<K extends keyof E>(event: K, listener: E[K]): () => void {
    return this.#events.on(event, listener)
  }

  /** The link's `peer-summary` event, as a plain subscription. */
  onSummary(listener: (info: PeerSummaryInfo) => void): () => void {
    return this.on2('peer-summary', listener as E['peer-summary'])
  }

  protected emit2<K extends keyof E>(event: K, args: Parameters<E[K]>): void {
    this.#events.emit(event, args, (error) => this.linkLog.error('event listener threw', { event: String(event), error: String(error) }))
  }

  // ---- signal (mesh) ------------------------------------------------------------------------

  /** Devices with a link that carries `signal` envelopes now (both hellos in, both implement it). */
  signalPeers(): DeviceId[] {
    const out = new Set<DeviceId>()
    for (const link of this.#links) if (this.#signalReady(link)) out.add(link.remoteDeviceId)
    return [...out]
  }

  /** Sends a `signal` on the link carrying `deviceId` (else any live one to it); false when none can. */
  sendSignal(deviceId: DeviceId, signal: Signal): boolean {
    const active = [...this.#active.values()].find((l) => l.remoteDeviceId === deviceId)
    if (active !== undefined && this.#signalReady(active)) return active.sendSignal(signal)
    for (const link of this.#links) if (link.remoteDeviceId === deviceId && this.#signalReady(link)) return link.sendSignal(signal)
    return false
  }

  /** This host as a relay's {@link SignalPort}. */
  signalPort(): SignalPort {
    return {
      signalPeers: () => this.signalPeers(),
      sendSignal: (deviceId, signal) => this.sendSignal(deviceId, signal),
      onSignal: (listener) => this.on2('signal', ((info: { deviceId: DeviceId; signal: Signal }) => listener(info.deviceId, info.signal)) as E['signal']),
      onPeersChanged: (listener) => this.on2('signal-peers', listener as E['signal-peers']),
    }
  }

  #signalReady(link: Link<C>): boolean {
    return !link.closed && !link.retired && link.helloSent && link.speaksSignal
  }

  // ---- blob (images) ------------------------------------------------------------------------

  /** Devices with a link that carries `blob` envelopes now (both hellos in, both implement it). */
  blobPeers(): DeviceId[] {
    const out = new Set<DeviceId>()
    for (const link of this.#links) if (this.#blobReady(link)) out.add(link.remoteDeviceId)
    return [...out]
  }

  /** Sends a `blob` message on the link carrying `deviceId` (else any live one to it); false when none can. */
  sendBlob(deviceId: DeviceId, message: BlobMessage): boolean {
    const active = [...this.#active.values()].find((l) => l.remoteDeviceId === deviceId)
    if (active !== undefined && this.#blobReady(active)) return active.sendBlob(message)
    for (const link of this.#links) if (link.remoteDeviceId === deviceId && this.#blobReady(link)) return link.sendBlob(message)
    return false
  }

  /** This host as the blob exchange's {@link BlobPort}. */
  blobPort(): BlobPort {
    return {
      blobPeers: () => this.blobPeers(),
      sendBlob: (deviceId, message) => this.sendBlob(deviceId, message),
      onBlob: (listener) => this.on2('blob', ((info: { deviceId: DeviceId; message: BlobMessage }) => listener(info.deviceId, info.message)) as E['blob']),
      onPeersChanged: (listener) => this.on2('blob-peers', listener as E['blob-peers']),
    }
  }

  #blobReady(link: Link<C>): boolean {
    return !link.closed && !link.retired && link.helloSent && link.speaksBlob
  }

  #peersChanged(): void {
    this.emit2('signal-peers', [] as never)
    this.emit2('blob-peers', [] as never)
  }

  // ---- automerge-repo NetworkAdapter ---------------------------------------------------------

  /** The Repo gives us its peer id: every link sends its hello (and is announced once the remote's is in). */
  connect(peerId: PeerId, peerMetadata?: PeerMetadata): void {
    this.peerId = peerId
    this.peerMetadata = peerMetadata ?? {}
    this.#repoConnected = true
    for (const link of [...this.#links]) this.#greet(link)
  }

  send(message: Message): void {
    if (!this.#repoConnected) return
    const link = this.#active.get(message.targetId)
    if (link === undefined || !link.established) {
      this.linkLog.debug('no link for target', { targetId: message.targetId })
      return
    }
    if (!this.#firstSync.outgoing(message)) {
      this.linkLog.debug('empty reply to an announcement of a requested document held back', { targetId: message.targetId })
      return
    }
    if (link.sendSync(message)) this.onSyncSent(link, message)
  }

  // ---- for transports ------------------------------------------------------------------------

  /** Whether the Repo called `connect` and not `disconnect` since. */
  protected get repoConnected(): boolean {
    return this.#repoConnected
  }

  /** Hosts a new authenticated pipe. Its hello goes out now if the Repo is connected, else at `connect`. */
  protected addLink(pipe: BytePipe, context: C, dialledBy: DialledBy): Link<C> {
    const link = new Link<C>(pipe, context, this.#handler, this.#linkOptions, this.linkLog)
    this.#links.add(link)
    this.#dialledBy.set(link, dialledBy)
    // Subscribed only now: a pipe that is already closed reports it to a registered link.
    link.start()
    const wait = this.#cooldown.remaining(link.remoteDeviceId)
    if (wait > 0) {
      this.#refuseCooling(link, wait)
      return link
    }
    this.#greet(link)
    return link
  }

  /** Devices whose new links are refused now (after a flood), with the milliseconds left. */
  coolingDown(deviceId: DeviceId): number {
    return this.#cooldown.remaining(deviceId)
  }

  /** The Repo detached but the pipes stay (WebRTC): each remote is told `leave` and forgotten. */
  protected leaveLinks(): void {
    this.#repoConnected = false
    for (const link of [...this.#links]) {
      this.#unannounce(link, undefined)
      link.leave()
    }
    // The links stay but carry no blob envelopes until the next hellos.
    this.emit2('blob-peers', [] as never)
  }

  /** The Repo detached and the links go (TCP): each remote is told goodbye. */
  protected closeLinks(reason: string): void {
    this.#repoConnected = false
    for (const link of [...this.#links]) link.close(new WireError(reason, { code: 'CLOSED' }), reason)
  }

  protected links(): Link<C>[] {
    return [...this.#links]
  }

  /** The link currently carrying `peerId`. */
  protected activeLink(peerId: PeerId): Link<C> | undefined {
    return this.#active.get(peerId)
  }

  /** Remote devices whose link carries the Repo, and their peer ids. */
  connectedDevices(): Array<{ deviceId: DeviceId; peerId: PeerId }> {
    return [...this.#active.entries()].map(([peerId, link]) => ({ deviceId: link.remoteDeviceId, peerId }))
  }

  // ---- hooks (no-ops here) -------------------------------------------------------------------

  /** Both hellos are in (also for a duplicate that will be retired). */
  protected onLinkEstablished(_link: Link<C>): void {}
  /** The Repo heard `peer-candidate` for this link's peer. */
  protected onPeerJoined(_link: Link<C>): void {}
  /** The Repo heard `peer-disconnected` for this link's peer. */
  protected onPeerLeft(_link: Link<C>, _peerId: PeerId, _error: Error | undefined): void {}
  protected onLinkClosed(_link: Link<C>, _error: Error | undefined): void {}
  protected onLinkError(_link: Link<C>, _error: OrbitError, _closing: boolean): void {}
  protected onSyncReceived(_link: Link<C>, _message: Message): void {}
  protected onSyncSent(_link: Link<C>, _message: Message): void {}

  // ---- internals -----------------------------------------------------------------------------

  /** A link closed for flooding: its device's new links are refused for a while (logged once per strike). */
  #coolDown(link: Link<C>): void {
    const { ms, strikes } = this.#cooldown.strike(link.remoteDeviceId)
    this.linkLog.warn('member closed for flooding: its new links are refused for a while', { deviceId: link.remoteDeviceId, cooldownMs: ms, strikes })
  }

  /**
   * A link from a device cooling down: told goodbye `cooldown` with the time left, then closed,
   * before any hello. Reported as `link-error` (`LINK_COOLDOWN`) but logged at debug level only: a
   * flooder reconnecting in a loop must not flood the log instead.
   */
  #refuseCooling(link: Link<C>, wait: number): void {
    const error = new WireError(`device ${link.remoteDeviceId} flooded: its links are refused for ${Math.ceil(wait / 1000)} s more`, { code: 'LINK_COOLDOWN' })
    this.linkLog.debug('link refused: cooling down after a flood', { deviceId: link.remoteDeviceId, retryAfterMs: wait })
    link.sendControl({ type: 'goodbye', reason: 'cooldown', retryAfterMs: wait })
    this.emit2('link-error', [{ error, deviceId: link.remoteDeviceId, closing: true }] as never)
    link.close(error)
  }

  #greet(link: Link<C>, again = false): void {
    if (!this.#repoConnected || this.peerId === undefined || (link.helloSent && !again) || link.closed) return
    let summary: DocSummary | undefined
    try {
      summary = this.#linkOptions.summary?.()
    } catch (error) {
      this.linkLog.warn('summary() threw; hello sent without it', { error: String(error) })
    }
    link.sendHello(this.peerId, this.peerMetadata ?? {}, summary)
    this.#maybeEstablish(link)
  }

  #onHello(link: Link<C>, hello: Hello): void {
    const device = link.remoteDeviceId
    if (!this.#acceptPeerId(hello.peerId, device)) {
      throw new HandshakeError('the peer id in the hello is not the authenticated device id', { code: 'PEER_ID_MISMATCH' })
    }
    const owner = this.#peerOwner.get(hello.peerId)
    if (owner !== undefined && owner !== device) throw new HandshakeError('the peer id in the hello belongs to another device', { code: 'PEER_ID_MISMATCH' })
    this.#peerOwner.set(hello.peerId, device)
    // After a `leave` the remote forgot our hello: answer its new one (a no-op when ours is out,
    // unless the remote says it ignored ours).
    this.#greet(link, hello.needHello === true)
    this.#maybeEstablish(link)
  }

  #maybeEstablish(link: Link<C>): void {
    const remote = link.remote
    if (link.established || !link.helloSent || remote === undefined || link.closed || !this.#repoConnected) return
    link.established = true
    this.onLinkEstablished(link)
    this.#peersChanged()
    const peerId = remote.peerId
    const existing = this.#active.get(peerId)
    if (existing !== undefined && existing !== link) {
      const keep = this.#preferred(existing, link)
      const drop = keep === link ? existing : link
      // Both sides pick the same link but may have announced the other one first and sent on it:
      // stop sending on the loser now, read it a little longer so nothing in flight is lost.
      drop.retired = true
      this.#linkTimers.setTimeout(() => drop.close(new WireError('duplicate link', { code: 'DUPLICATE' }), 'duplicate'), this.#linkOptions.duplicateDrainMs ?? 2000)
      if (keep === existing) return
      this.#active.set(peerId, link)
      this.#emitSummary(link, remote)
      this.linkLog.info('peer link replaced by the preferred duplicate', { peerId })
      return
    }
    this.#active.set(peerId, link)
    this.#emitSummary(link, remote)
    this.linkLog.info('peer joined', { peerId, deviceId: link.remoteDeviceId })
    this.emit('peer-candidate', { peerId, peerMetadata: remote.peerMetadata })
    this.onPeerJoined(link)
    // Again now that the transport announced the device (what other tiers ask, e.g. `isConnected`).
    this.#peersChanged()
  }

  #emitSummary(link: Link<C>, remote: Hello): void {
    this.emit2('peer-summary', [{ deviceId: link.remoteDeviceId, peerId: remote.peerId, summary: remote.summary }] as never)
  }

  /** The deciding rule for two live links to one device: keep the one the lower device id dialled. */
  #preferred(a: Link<C>, b: Link<C>): Link<C> {
    const me = this.#linkOptions.localDeviceId
    if (me === undefined) return a
    const dialler = (l: Link<C>): string => (this.#dialledBy.get(l) === 'local' ? me : l.remoteDeviceId)
    const da = dialler(a)
    const db = dialler(b)
    if (da !== db) return da < db ? a : b
    return a // same dialler twice (a redial racing a slow close): keep the existing one
  }

  #onSync(link: Link<C>, message: Message): void {
    // A retired duplicate still delivers what was in flight on it: same authenticated peer.
    if (!link.established || !this.#repoConnected) {
      this.linkLog.debug('sync envelope before the link carries the Repo; dropped', { type: message.type })
      return
    }
    this.onSyncReceived(link, message)
    this.emit('message', message)
  }

  #onLeave(link: Link<C>): void {
    this.#unannounce(link, undefined)
    // The link forgets the remote's hello right after this handler: blobPeers() changes then.
    queueMicrotask(() => this.emit2('blob-peers', [] as never))
  }

  #unannounce(link: Link<C>, error: Error | undefined): void {
    const wasEstablished = link.established
    link.established = false
    const peerId = [...this.#active.entries()].find(([, l]) => l === link)?.[0]
    if (peerId === undefined) return
    this.#active.delete(peerId)
    if (!wasEstablished) return
    this.linkLog.info('peer left', { peerId, reason: error?.message })
    this.#firstSync.peerLeft(peerId)
    this.emit('peer-disconnected', { peerId })
    this.onPeerLeft(link, peerId, error)
  }

  #onClosed(link: Link<C>, error: Error | undefined): void {
    this.#links.delete(link)
    this.#unannounce(link, error)
    this.#dialledBy.delete(link)
    this.onLinkClosed(link, error)
    this.#peersChanged()
  }
}


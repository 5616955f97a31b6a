/**
 * An automerge-repo `NetworkAdapter` over `node:net`, every connection inside the secure channel,
 * the link layer (src/core/link, docs/protocol/link.md) on top.
 *
 * Per connection: TCP → frames (frames.ts) → handshake (channel) → by authorization:
 * - `refuse`: the handshake throws; the socket is destroyed. The peer got nothing.
 * - `pairing`: the session goes to `onPairingSession` and never sees the link.
 * - `member`: the session's plaintexts become a byte pipe for a link (hello, sync envelopes,
 *   goodbye), hosted by core's {@link LinkNetworkAdapter}.
 *
 * What stays here is TCP's own: framing, the handshake, keep-alives and the idle timeout, dialling
 * with backoff, the cap on pending inbound handshakes, and the backpressure of the inbound budget
 * all links share (core/link/inbound-budget.ts: a link that must wait is not read).
 *
 * The peer id a remote presents is bound to the device the handshake proved: by default it must
 * *be* that device id (`peerIdPolicy: 'device-id'`); the `'bound'` policy (for automerge-repo's
 * acceptance suite, whose peers are called "alice" and "bob") lets a device choose a peer id but
 * never one another device already holds.
 */
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net'
import type { Message, PeerId, PeerMetadata } from '@automerge/automerge-repo'
import { AbortedError, HandshakeError, OrbitError, ValidationError, WireError } from '../../core/errors.js'
import type { DeviceId } from '../../core/ids.js'
import type { Logger } from '../../core/log.js'
import { silentLogger } from '../../core/log.js'
import { LinkNetworkAdapter } from '../../core/link/link-adapter.js'
import type { Link } from '../../core/link/link.js'
import type { BytePipe } from '../../core/link/pipe.js'
import type { SecureSession } from './channel-contract.js'
import type {
  DeviceTraffic,
  DialOptions,
  TcpAdapterEvents,
  TcpNetworkAdapterOptions,
  TimeoutTimers,
} from './types.js'
import { MAX_FRAME_BYTES, MAX_MESSAGE_BYTES, performHandshake } from '../../core/crypto/channel.js'
import { TAG_BYTES } from '../../core/crypto/noise.js'
import { InboundBudget, type InboundBudgetStats } from '../../core/link/inbound-budget.js'
import { nodeChaChaPoly } from '../crypto-node/index.js'
import { FramedSocket } from './framed-socket.js'
import { DEFAULT_MAX_FRAME_BYTES } from './frames.js'

/** TCP's state for one member connection (the link's context). */
interface Conn {
  framed: FramedSocket
  session: SecureSession
  role: 'initiator' | 'responder'
  /** Closed on purpose (our disconnect, undial, drop): no redial. */
  noRedial: boolean
  /** Both hellos were exchanged on it once. */
  established: boolean
  target: DialTarget | undefined
  lastReceivedAt: number
  lastSentAt: number
  heartbeat: unknown
  /** Adds the socket's bytes since the last call to its device's counters. */
  tally: () => void
  link: Link<Conn> | undefined
}

interface DialTarget {
  key: string
  host: string
  port: number
  options: DialOptions
  attempt: number
  timer: unknown
  conn: Conn | undefined
  /** A TCP connect or handshake is under way. */
  pending: boolean
  stopped: boolean
  /** The device last reached here: redial when its link (ours or its own) drops. */
  lastDeviceId: DeviceId | undefined
  /** Pending `dial()` promises: settled by the next attempt's outcome. */
  waiters: Set<{ resolve: (id: DeviceId) => void; reject: (error: Error) => void }>
}

/**
 * Fewer bytes than any initiator's first handshake message (a 5-byte frame header, the channel's
 * frame type, the 32-byte Noise ephemeral key and more): a pending connection that has sent less
 * has not started its handshake, and is evicted before one that has (docs/protocol/lan.md).
 */
const FIRST_MESSAGE_BYTES = 5 + 1 + 32
/** Failures of unauthenticated connections logged as warnings per minute and code (the rest: debug). */
const MAX_UNAUTHENTICATED_WARNINGS = 20
const DEFAULT_BACKOFF = [250, 500, 1000, 2000, 5000, 10_000, 30_000]
/** Message bytes one channel frame carries at most (its tag and flags byte aside). */
const FRAME_PAYLOAD_BYTES = MAX_FRAME_BYTES - TAG_BYTES - 1

const defaultTimers: TimeoutTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
}

/**
 * @example
 * const adapter = new TcpNetworkAdapter({
 *   identity, listen: { host: '0.0.0.0', port: 7420 },
 *   authorize: (remote) => (members.has(remote.deviceId) ? 'member' : 'refuse'),
 *   summary: () => heads.summary(),
 * })
 * adapter.on2('peer-summary', ({ deviceId, summary }) => loadWhatDiffers(deviceId, summary))
 * const repo = new Repo({ network: [adapter], storage, peerId: identity.deviceId as PeerId })
 * await adapter.dial('10.0.0.7', 7420, { expectedDeviceId })
 */
export class TcpNetworkAdapter extends LinkNetworkAdapter<Conn, TcpAdapterEvents> {
  readonly #o: TcpNetworkAdapterOptions
  readonly #log: Logger
  readonly #timers: TimeoutTimers
  readonly #backoff: number[]
  readonly #maxFrame: number
  readonly #maxMessage: number
  readonly #budget: InboundBudget
  readonly #policy: 'device-id' | 'bound'
  readonly #targets = new Map<string, DialTarget>()
  readonly #traffic = new Map<DeviceId, DeviceTraffic>()
  /** Public keys of the devices we hold sessions with, for the per-envelope `authorize` re-check. */
  readonly #keys = new Map<DeviceId, Uint8Array>()
  #server: Server | undefined
  /** Inbound connections still in their handshake, oldest first, with their release functions. */
  readonly #pendingInbound = new Map<Socket, () => void>()
  readonly #pendingByAddress = new Map<string, number>()
  #listening: Promise<void> | undefined
  #boundPort: number | undefined
  /** `disconnect` was called: no listening, no dialling, until `connect`. */
  #halted = false
  #ready = false
  #readyResolve: (() => void) | undefined
  readonly #readyPromise = new Promise<void>((resolve) => (this.#readyResolve = resolve))

  constructor(options: TcpNetworkAdapterOptions) {
    const policy = options.peerIdPolicy ?? 'device-id'
    const timers = options.timers ?? defaultTimers
    // The re-check needs `this`, which exists only after super().
    const self: { adapter?: TcpNetworkAdapter } = {}
    super({
      localDeviceId: options.identity.deviceId,
      ...(options.summary ? { summary: options.summary } : {}),
      // 'bound': any peer id the device likes, as long as no other device holds it (checked in core).
      ...(policy === 'bound' ? { acceptPeerId: () => true } : {}),
      authorize: options.recheck ?? ((deviceId) => self.adapter!.#recheck(deviceId)),
      ...(options.linkVersions ? { versions: options.linkVersions } : {}),
      ...(options.linkLimits ? { limits: options.linkLimits } : {}),
      duplicateDrainMs: options.duplicateDrainMs ?? 2000,
      timers,
      logger: options.logger ?? silentLogger,
      component: 'orbit:transport-tcp:link',
    })
    self.adapter = this
    this.#o = options
    this.#log = (options.logger ?? silentLogger).forComponent('orbit:transport-tcp')
    this.#timers = timers
    this.#backoff = options.backoff && options.backoff.length > 0 ? options.backoff : DEFAULT_BACKOFF
    this.#maxFrame = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
    this.#maxMessage = options.maxMessageBytes ?? MAX_MESSAGE_BYTES
    // One budget for every link of this adapter (docs/protocol/link.md, "Limits").
    this.#budget = new InboundBudget({
      ...(options.inboundBudgetBytes === undefined ? {} : { budgetBytes: options.inboundBudgetBytes }),
      ...(options.inboundReserveFrames === undefined ? {} : { reserveFrames: options.inboundReserveFrames }),
      ...(options.slotHoldMs === undefined ? {} : { slotHoldMs: options.slotHoldMs }),
      messageBytes: this.#maxMessage,
      frameBytes: FRAME_PAYLOAD_BYTES,
      timers,
    })
    this.#policy = policy
  }

  // ---- automerge-repo NetworkAdapter ---------------------------------------------------------

  isReady(): boolean {
    return this.#ready
  }

  whenReady(): Promise<void> {
    return this.#readyPromise
  }

  /** Called by the Repo with its peer id: hellos go out, listening starts, remembered targets are (re)dialled. */
  override connect(peerId: PeerId, peerMetadata?: PeerMetadata): void {
    if (this.#policy === 'device-id' && peerId !== (this.#o.identity.deviceId as string)) {
      throw new ValidationError('with peerIdPolicy "device-id" the Repo peerId must be the device id', { field: 'peerId' })
    }
    this.#halted = false
    super.connect(peerId, peerMetadata)
    for (const target of this.#targets.values()) {
      if (!target.stopped && !target.pending && target.conn === undefined && target.timer === undefined) this.#attempt(target)
    }
    this.#startListening()
      .catch((error: unknown) => this.#log.error('listen failed', { error: String(error) }))
      .finally(() => {
        this.#ready = true
        this.#readyResolve?.()
      })
  }

  /** Closes every connection (each peer is told goodbye) and the listener. `connect()` again brings both back. */
  disconnect(): void {
    this.#halted = true
    for (const target of this.#targets.values()) {
      if (target.timer !== undefined) this.#timers.clearTimeout(target.timer)
      target.timer = undefined
    }
    for (const link of this.links()) link.context.noRedial = true
    this.closeLinks('adapter disconnected')
    const server = this.#server
    this.#server = undefined
    this.#listening = undefined
    server?.close()
  }

  // ---- Orbit API ----------------------------------------------------------------------------

  /** Where the listener is bound (after the Repo called `connect`), else undefined. */
  address(): { host: string; port: number } | undefined {
    const addr = this.#server?.address()
    if (addr === null || addr === undefined || typeof addr === 'string') return undefined
    return { host: addr.address, port: addr.port }
  }

  /**
   * Starts the listener now (the Repo's `connect` also starts it) and resolves with its address,
   * or undefined when `listen` was not given. Handshakes run at once (inbound and dialled);
   * a session joins the Repo when `connect` has given us our peer id.
   */
  async listen(): Promise<{ host: string; port: number } | undefined> {
    await this.#startListening()
    return this.address()
  }

  /**
   * Connects to `host:port`. Resolves with the remote device id once its session is up (joined,
   * or handed to pairing); rejects with HandshakeError when the device there is not the expected
   * one or refuses us, with WireError on network errors. With `reconnect` (default) the link is
   * kept: redialled with backoff after drops and network errors — but never after a refused
   * handshake. Dialling the same host:port again returns the existing link's device.
   */
  dial(host: string, port: number, options: DialOptions = {}): Promise<DeviceId> {
    const key = `${host}:${port}`
    let target = this.#targets.get(key)
    if (target !== undefined && !target.stopped) {
      if (target.conn?.link?.established) return Promise.resolve(target.conn.session.remoteDeviceId)
    } else {
      target = { key, host, port, options, attempt: 0, timer: undefined, conn: undefined, pending: false, stopped: false, lastDeviceId: undefined, waiters: new Set() }
      this.#targets.set(key, target)
    }
    const t = target
    return new Promise<DeviceId>((resolve, reject) => {
      const waiter = {
        resolve: (id: DeviceId) => {
          options.signal?.removeEventListener('abort', onAbort)
          resolve(id)
        },
        reject: (error: Error) => {
          options.signal?.removeEventListener('abort', onAbort)
          reject(error)
        },
      }
      const onAbort = (): void => {
        t.waiters.delete(waiter)
        this.undial(host, port)
        reject(new AbortedError('dial aborted', { code: 'ABORTED', cause: options.signal?.reason }))
      }
      if (options.signal?.aborted) return onAbort()
      options.signal?.addEventListener('abort', onAbort, { once: true })
      t.waiters.add(waiter)
      if (!t.pending && t.conn === undefined && t.timer === undefined) this.#attempt(t)
    })
  }

  /** Stops keeping `host:port` connected and closes its connection. */
  undial(host: string, port: number): void {
    const target = this.#targets.get(`${host}:${port}`)
    if (target === undefined) return
    target.stopped = true
    this.#targets.delete(target.key)
    if (target.timer !== undefined) this.#timers.clearTimeout(target.timer)
    const conn = target.conn
    if (conn !== undefined) {
      conn.noRedial = true
      if (conn.link) conn.link.close(new WireError('undialled', { code: 'CLOSED' }), 'undialled')
      else conn.framed.close(new WireError('undialled', { code: 'CLOSED' }))
    }
  }

  /** Open member connections (joined or not), duplicates still draining included. */
  openConnections(): number {
    return this.links().length
  }

  /** The inbound budget's numbers: bytes held in reassembly and decode now and at peak, links waiting. */
  inboundBudget(): InboundBudgetStats {
    return this.#budget.stats()
  }

  /** Traffic counters per remote device (bytes are on the wire: frames, headers, ciphertext), current as of this call. */
  traffic(deviceId: DeviceId): DeviceTraffic {
    for (const link of this.links()) if (link.remoteDeviceId === deviceId) link.context.tally()
    return { ...this.#count(deviceId) }
  }

  /** Drops every connection to `deviceId` now (e.g. after it was revoked); it is told nothing. */
  dropDevice(deviceId: DeviceId): void {
    for (const link of this.links()) {
      if (link.remoteDeviceId !== deviceId) continue
      const target = link.context.target
      if (target) {
        // Stop redialling it, then close without a goodbye.
        target.stopped = true
        this.#targets.delete(target.key)
        if (target.timer !== undefined) this.#timers.clearTimeout(target.timer)
      }
      link.context.noRedial = true
      link.close(new HandshakeError('device dropped', { code: 'REVOKED' }))
    }
  }

  // ---- internals ----------------------------------------------------------------------------

  #count(deviceId: DeviceId): DeviceTraffic {
    let t = this.#traffic.get(deviceId)
    if (t === undefined) this.#traffic.set(deviceId, (t = { bytesSent: 0, bytesReceived: 0, messagesSent: 0, messagesReceived: 0 }))
    return t
  }

  /**
   * Bounds what unauthenticated connections can cost (a handshake costs X25519 and Ed25519 work,
   * and a stalled one holds a slot until its timeout). At most `maxPendingHandshakes` are pending
   * at once, and at most `maxPendingHandshakesPerAddress` from one address (beyond it: refused,
   * `BUSY`). When every slot is taken, the oldest pending handshake is dropped to make room
   * (`HANDSHAKE_EVICTED`): stalled connections cannot lock an honest device out, because an
   * honest handshake completes in one round trip and a stalled one only ever gets older.
   * Returns the slot's release function, or undefined when the socket was refused.
   */
  #admitHandshake(socket: Socket): (() => void) | undefined {
    const address = socket.remoteAddress ?? 'unknown'
    const fromThere = this.#pendingByAddress.get(address) ?? 0
    if (fromThere >= (this.#o.maxPendingHandshakesPerAddress ?? 8)) {
      this.#reportError(new WireError(`too many pending handshakes from ${address}`, { code: 'BUSY' }), address)
      socket.destroy()
      return undefined
    }
    if (this.#pendingInbound.size >= (this.#o.maxPendingHandshakes ?? 64)) {
      // The oldest that has not even sent a whole first handshake message goes first (half-open,
      // drip-fed); only when every slot has made progress, the oldest of all.
      let victim: [Socket, () => void] | undefined
      for (const entry of this.#pendingInbound) {
        if (entry[0].bytesRead < FIRST_MESSAGE_BYTES) {
          victim = entry
          break
        }
      }
      const [oldest, releaseOldest] = victim ?? (this.#pendingInbound.entries().next().value as [Socket, () => void])
      releaseOldest()
      this.#reportError(new WireError('the oldest pending handshake was dropped to make room for a new connection', { code: 'HANDSHAKE_EVICTED' }), oldest.remoteAddress)
      oldest.destroy()
    }
    let held = true
    const release = (): void => {
      if (!held) return
      held = false
      this.#pendingInbound.delete(socket)
      const left = (this.#pendingByAddress.get(address) ?? 1) - 1
      if (left <= 0) this.#pendingByAddress.delete(address)
      else this.#pendingByAddress.set(address, left)
    }
    this.#pendingInbound.set(socket, release)
    this.#pendingByAddress.set(address, fromThere + 1)
    return release
  }

  #startListening(): Promise<void> {
    const listen = this.#o.listen
    if (listen === undefined) return Promise.resolve()
    this.#listening ??= new Promise<void>((resolve, reject) => {
      const server = createServer((socket) => {
        if (this.#halted) return socket.destroy()
        const release = this.#admitHandshake(socket)
        if (release === undefined) return
        socket.once('close', release)
        void this.#runConnection(socket, 'responder', undefined, release)
      })
      this.#server = server
      server.once('error', reject)
      // Reuse the port picked the first time, so peers can redial after disconnect()/connect().
      server.listen(this.#boundPort ?? listen.port, listen.host, () => {
        server.removeListener('error', reject)
        server.on('error', (error) => this.#log.error('server error', { error: error.message }))
        const addr = server.address()
        if (addr !== null && typeof addr !== 'string') this.#boundPort = addr.port
        this.#log.info('listening', { host: listen.host, port: this.#boundPort })
        resolve()
      })
    })
    return this.#listening
  }

  #attempt(target: DialTarget): void {
    target.timer = undefined
    if (target.stopped || this.#halted || target.pending) return
    target.pending = true
    const socket = netConnect({ host: target.host, port: target.port })
    void this.#runConnection(socket, 'initiator', target)
  }

  #settle(target: DialTarget, outcome: { deviceId: DeviceId } | { error: Error }): void {
    const waiters = [...target.waiters]
    target.waiters.clear()
    for (const w of waiters) {
      if ('deviceId' in outcome) w.resolve(outcome.deviceId)
      else w.reject(outcome.error)
    }
  }

  #scheduleRedial(target: DialTarget, atLeastMs = 0): void {
    target.pending = false
    if (target.stopped || this.#halted || target.options.reconnect === false || target.timer !== undefined) return
    const delay = Math.max(atLeastMs, this.#backoff[Math.min(target.attempt, this.#backoff.length - 1)]!)
    target.attempt++
    target.timer = this.#timers.setTimeout(() => this.#attempt(target), delay)
  }

  #reportError(error: unknown, remoteAddress: string | undefined, deviceId?: DeviceId): void {
    const e = error instanceof OrbitError ? error : new WireError(String(error), { code: 'CONNECTION', cause: error })
    const fields = { name: e.name, code: e.code, message: e.message, remoteAddress, deviceId }
    if (deviceId !== undefined || this.#unauthenticatedWarning(e.code ?? e.name)) this.#log.warn('connection failed', fields)
    else this.#log.debug('connection failed', fields)
    this.emit2('connection-error', [{ error: e, remoteAddress, ...(deviceId ? { deviceId } : {}) }])
  }

  readonly #warned = new Map<string, { since: number; count: number; quiet: number }>()

  /**
   * Whether an unauthenticated connection's failure is logged as a warning: at most
   * {@link MAX_UNAUTHENTICATED_WARNINGS} a minute per error code, the rest at debug level and
   * counted in that code's next warning — a flood of half-open sockets must not flood the log too,
   * nor hide a rarer error behind the flood's.
   */
  #unauthenticatedWarning(code: string): boolean {
    let w = this.#warned.get(code)
    if (w === undefined) this.#warned.set(code, (w = { since: this.#now(), count: 0, quiet: 0 }))
    const t = this.#now()
    if (t - w.since >= 60_000) {
      if (w.quiet > 0) this.#log.warn(`${w.quiet} more unauthenticated connection failures (${code}) in the last minute (logged at debug level)`, { code, count: w.quiet })
      Object.assign(w, { since: t, count: 0, quiet: 0 })
    }
    if (w.count < MAX_UNAUTHENTICATED_WARNINGS) {
      w.count++
      return true
    }
    w.quiet++
    return false
  }

  /** The per-envelope re-check: the handshake's `authorize` must still say 'member'. */
  #recheck(deviceId: DeviceId): boolean | Promise<boolean> {
    const publicKey = this.#keys.get(deviceId)
    if (publicKey === undefined) return false
    const verdict = this.#o.authorize({ deviceId, publicKey })
    return typeof verdict === 'string' ? verdict === 'member' : verdict.then((v) => v === 'member')
  }

  async #runConnection(
    socket: Socket,
    role: 'initiator' | 'responder',
    target: DialTarget | undefined,
    handshakeDone?: () => void,
  ): Promise<void> {
    const framed = new FramedSocket(socket, this.#maxFrame)
    const remoteAddress = (): string | undefined => socket.remoteAddress ?? target?.host
    if (role === 'initiator') {
      const connected = await new Promise<Error | undefined>((resolve) => {
        const limit = this.#o.connectTimeoutMs ?? 5000
        const timer = this.#timers.setTimeout(() => resolve(new WireError(`no TCP connection within ${limit} ms`, { code: 'CONNECT_TIMEOUT' })), limit)
        socket.once('connect', () => {
          this.#timers.clearTimeout(timer)
          resolve(undefined)
        })
        framed.onClose((error) => resolve(error ?? new WireError('closed', { code: 'CLOSED' })))
      })
      if (connected !== undefined) {
        framed.close()
        this.#reportError(connected, target?.host)
        if (target !== undefined) {
          this.#settle(target, { error: connected })
          this.#scheduleRedial(target)
        }
        return
      }
    }
    let session: SecureSession
    try {
      session = await (this.#o.handshake ?? performHandshake)(framed.io, {
        identity: this.#o.identity,
        role,
        authorize: (remote) => this.#o.authorize(remote),
        ...(target?.options.expectedDeviceId ? { expectedRemote: target.options.expectedDeviceId } : {}),
        ...(this.#o.deviceName ? { deviceName: this.#o.deviceName } : {}),
        aead: this.#o.aead ?? nodeChaChaPoly,
        maxMessageBytes: this.#maxMessage,
        timeoutMs: this.#o.handshakeTimeoutMs ?? 10_000,
      })
    } catch (caught) {
      // The handshake only sees "the pipe failed" (IO); the framing's reason (FRAME_TOO_LARGE,
      // FRAME_VERSION, FLOOD: docs/protocol/lan.md) is the typed error worth reporting.
      const framing = framed.closedReason
      const error = caught instanceof OrbitError && caught.code === 'IO' && framing instanceof WireError && framing.code !== 'CLOSED' && framing.code !== 'SOCKET' ? framing : caught
      handshakeDone?.()
      framed.close(error instanceof Error ? error : undefined)
      this.#reportError(error, remoteAddress())
      if (target !== undefined) {
        this.#settle(target, { error: error instanceof Error ? error : new WireError(String(error), { code: 'CONNECTION' }) })
        // A refused or mismatched handshake will not get better by retrying the same address.
        if (error instanceof OrbitError && error.name === 'HandshakeError') {
          target.stopped = true
          this.#targets.delete(target.key)
        } else this.#scheduleRedial(target)
      }
      return
    }
    handshakeDone?.()
    if (target !== undefined) target.pending = false
    if (this.#halted) return framed.close()
    this.emit2('session', [{ deviceId: session.remoteDeviceId, authorization: session.authorization, role }])

    if (session.authorization === 'pairing') {
      if (target !== undefined) {
        target.stopped = true
        this.#targets.delete(target.key)
        this.#settle(target, { deviceId: session.remoteDeviceId })
      }
      const handler = this.#o.onPairingSession
      if (handler === undefined) {
        framed.close()
        this.#reportError(new HandshakeError('pairing session but no pairing handler', { code: 'NO_PAIRING' }), remoteAddress(), session.remoteDeviceId)
        return
      }
      handler({ session, io: framed.io, remoteAddress: remoteAddress(), close: () => framed.close() })
      return
    }

    this.#keys.set(session.remoteDeviceId, session.remotePublicKey)
    // From the socket's first byte: the handshake is on the wire too, and both ends then agree.
    const traffic = this.#count(session.remoteDeviceId)
    let lastSent = 0
    let lastReceived = 0
    const conn: Conn = {
      framed,
      session,
      role,
      noRedial: false,
      established: false,
      target,
      lastReceivedAt: this.#now(),
      lastSentAt: this.#now(),
      heartbeat: undefined,
      tally: () => {
        traffic.bytesSent += framed.bytesSent - lastSent
        traffic.bytesReceived += framed.bytesReceived - lastReceived
        lastSent = framed.bytesSent
        lastReceived = framed.bytesReceived
      },
      link: undefined,
    }
    if (target !== undefined) target.conn = conn
    let deliver: ((bytes: Uint8Array) => void) | undefined
    const pipe: BytePipe = {
      remoteDeviceId: session.remoteDeviceId,
      send: (bytes) => this.#sendPlain(conn, bytes),
      onBytes: (handler) => {
        deliver = handler
        return () => (deliver = undefined)
      },
      onClose: (handler) =>
        framed.onClose((error) => {
          conn.tally()
          handler(error)
        }),
      // The link closes with a goodbye or notice written just before: let it reach the peer.
      close: (error) => framed.close(error, { flush: true }),
      get closed() {
        return framed.closedReason !== undefined
      },
    }
    this.#armHeartbeat(conn)
    conn.link = this.addLink(pipe, conn, role === 'initiator' ? 'local' : 'remote')
    // This link's share of the inbound budget: it stops reading (the peer's bytes wait in its
    // socket) when the budget says wait, and reads on when it may.
    const share = this.#budget.holder(
      () => {
        conn.lastReceivedAt = this.#now()
        framed.resume()
      },
      (error) => {
        this.#reportError(error, remoteAddress(), session.remoteDeviceId)
        if (conn.link) conn.link.close(error)
        else framed.close(error)
      },
    )
    framed.onClose(() => share.close())
    // Only now: frames queued during the handshake may already hold the peer's hello.
    framed.onFrame = (frame) => {
      if (!share.admit()) return false
      conn.lastReceivedAt = this.#now()
      conn.tally()
      let plain: Uint8Array | undefined
      try {
        plain = session.decrypt(frame)
      } catch (error) {
        // The session is dead after a bad frame (tampering, replay): nothing more is read.
        this.#reportError(error, remoteAddress(), session.remoteDeviceId)
        framed.close(error instanceof Error ? error : undefined)
        return
      }
      const bytes = Math.max(0, frame.length - TAG_BYTES - 1)
      if (plain === undefined) {
        if (!share.received(bytes, false)) framed.pause()
        return
      }
      share.received(bytes, true)
      try {
        // An empty message is a keep-alive (an envelope is never empty): TCP's, not the link's.
        if (plain.length > 0) deliver?.(plain)
      } finally {
        share.done()
      }
    }
  }

  #now(): number {
    return (this.#o.now ?? Date.now)()
  }

  /**
   * Keep-alive: TCP alone notices a silently dead link (Wi-Fi gone, iptables DROP) only after
   * minutes of retransmissions. An empty message every `heartbeatMs` lets the other side drop us
   * after `idleTimeoutMs` of silence, and our redial takes over.
   */
  #armHeartbeat(conn: Conn): void {
    const every = this.#o.heartbeatMs ?? 5000
    const idle = this.#o.idleTimeoutMs ?? 20_000
    const armedAt = this.#now()
    conn.heartbeat = this.#timers.setTimeout(() => {
      conn.heartbeat = undefined
      if (conn.framed.closedReason) return
      const t = this.#now()
      // A late timer means our event loop was busy (a big merge): unread data may be waiting, so
      // silence measured now proves nothing. Check again next round.
      const late = t - armedAt > every * 1.5
      // A link stopped by the inbound budget reads nothing on purpose: its silence proves nothing either.
      if (!late && !conn.framed.paused && t - conn.lastReceivedAt >= idle) {
        const error = new WireError(`nothing received for ${idle} ms`, { code: 'IDLE_TIMEOUT' })
        this.#reportError(error, conn.framed.socket.remoteAddress, conn.session.remoteDeviceId)
        conn.framed.close(error)
        return
      }
      if (t - conn.lastSentAt >= every) this.#sendPlain(conn, new Uint8Array(0))
      this.#armHeartbeat(conn)
    }, every)
  }

  #sendPlain(conn: Conn, plain: Uint8Array): void {
    if (conn.framed.closedReason) return
    conn.lastSentAt = this.#now()
    conn.framed.sendAll(conn.session.encrypt(plain))
  }

  // ---- link hooks ----------------------------------------------------------------------------

  protected override onLinkEstablished(link: Link<Conn>): void {
    link.context.established = true
    const target = link.context.target
    if (target === undefined) return
    target.attempt = 0
    target.lastDeviceId = link.remoteDeviceId
    this.#settle(target, { deviceId: link.remoteDeviceId })
  }

  protected override onPeerJoined(link: Link<Conn>): void {
    const peerId = link.remote!.peerId
    this.emit2('device-connected', [{ deviceId: link.remoteDeviceId, peerId, remoteAddress: link.context.framed.socket.remoteAddress }])
  }

  protected override onPeerLeft(link: Link<Conn>, peerId: PeerId): void {
    const conn = link.context
    this.emit2('device-disconnected', [{ deviceId: link.remoteDeviceId, peerId }])
    // A target retired as a duplicate of this link must take over now that it is gone.
    for (const t of this.#targets.values()) {
      if (t !== conn.target && t.lastDeviceId === link.remoteDeviceId && t.conn === undefined && !t.pending) this.#scheduleRedial(t)
    }
  }

  protected override onLinkError(link: Link<Conn>, error: OrbitError, closing: boolean): void {
    // Dropped envelopes are logged by the link; a link closed for bad input is a connection error.
    if (closing) this.#reportError(error, link.context.framed.socket.remoteAddress, link.remoteDeviceId)
  }

  protected override onLinkClosed(link: Link<Conn>, error: Error | undefined): void {
    const conn = link.context
    // A link that closed before both hellos (no common version, a refused peer id) is this
    // attempt's outcome: `dial()` fails with its reason instead of waiting.
    if (conn.target !== undefined && !conn.established) {
      this.#settle(conn.target, { error: error ?? new WireError('the link closed before the hello exchange', { code: 'CLOSED' }) })
    }
    if (conn.heartbeat !== undefined) this.#timers.clearTimeout(conn.heartbeat)
    conn.heartbeat = undefined
    const target = conn.target
    if (target !== undefined && target.conn === conn) target.conn = undefined
    if (!this.links().some((l) => l.remoteDeviceId === link.remoteDeviceId)) this.#keys.delete(link.remoteDeviceId)
    // A peer that refuses us for a while (goodbye `cooldown`), or one we refuse, is not redialled before then.
    if (target !== undefined && !conn.noRedial && !link.retired) this.#scheduleRedial(target, link.retryAfterMs ?? this.coolingDown(link.remoteDeviceId))
  }

  protected override onSyncReceived(link: Link<Conn>): void {
    this.#count(link.remoteDeviceId).messagesReceived++
  }

  protected override onSyncSent(link: Link<Conn>, _message: Message): void {
    this.#count(link.remoteDeviceId).messagesSent++
  }
}

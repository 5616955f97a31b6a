/**
 * An automerge-repo `NetworkAdapter` over `node:net`, every connection inside the secure channel.
 *
 * Per connection: TCP → frames (frames.ts) → handshake (channel) → by authorization:
 * - `refuse`: the handshake throws; the socket is destroyed. The peer got nothing.
 * - `pairing`: the session goes to `onPairingSession` and never sees repo messages.
 * - `member`: each side sends `join` (peer id + metadata), then automerge-repo messages (CBOR).
 *
 * The peer id a remote joins with is bound to the device the handshake proved: by default it must
 * *be* that device id (`peerIdPolicy: 'device-id'`); the `'bound'` policy (for automerge-repo's
 * acceptance suite, whose peers are called "alice" and "bob") lets a device choose a peer id but
 * never one another device already holds. Every message's `senderId` must be the connection's peer.
 */
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net'
import { NetworkAdapter, type Message, type PeerId, type PeerMetadata } from '@automerge/automerge-repo'
import { AbortedError, HandshakeError, OrbitError, ValidationError, WireError } from '../../core/errors.js'
import type { DeviceId } from '../../core/ids.js'
import type { Logger } from '../../core/log.js'
import { silentLogger } from '../../core/log.js'
import { Listeners } from '../../core/discovery/listeners.js'
import type { SecureSession } from './channel-contract.js'
import type {
  DeviceTraffic,
  DialOptions,
  TcpAdapterEvents,
  TcpNetworkAdapterOptions,
  TimeoutTimers,
} from './types.js'
import { performHandshake } from '../../core/crypto/channel.js'
import { FramedSocket } from './framed-socket.js'
import { DEFAULT_MAX_FRAME_BYTES } from './frames.js'
import { REPO_PROTOCOL_VERSION, decodeJoin, decodeRepoMessage, encodeMessage } from './messages.js'

interface Conn {
  framed: FramedSocket
  session: SecureSession
  role: 'initiator' | 'responder'
  joinSent: boolean
  remotePeerId: PeerId | undefined
  remoteMetadata: PeerMetadata | undefined
  established: boolean
  /** Closed on purpose (duplicate, our disconnect): no peer-disconnected, no redial. */
  retired: boolean
  target: DialTarget | undefined
  lastReceivedAt: number
  lastSentAt: number
  heartbeat: unknown
  /** Adds the socket's bytes since the last call to its device's counters. */
  tally: () => void
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

const DEFAULT_BACKOFF = [250, 500, 1000, 2000, 5000, 10_000, 30_000]

const defaultTimers: TimeoutTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
}

/**
 * @example
 * const adapter = new TcpNetworkAdapter({
 *   identity, listen: { host: '0.0.0.0', port: 7420 },
 *   authorize: (remote) => (members.has(remote.deviceId) ? 'member' : 'refuse'),
 * })
 * const repo = new Repo({ network: [adapter], storage, peerId: identity.deviceId as PeerId })
 * await adapter.dial('10.0.0.7', 7420, { expectedDeviceId })
 */
export class TcpNetworkAdapter extends NetworkAdapter {
  readonly #o: TcpNetworkAdapterOptions
  readonly #log: Logger
  readonly #timers: TimeoutTimers
  readonly #backoff: number[]
  readonly #maxFrame: number
  readonly #policy: 'device-id' | 'bound'
  readonly #events = new Listeners<TcpAdapterEvents>()
  readonly #conns = new Set<Conn>()
  /** The connection carrying each joined peer. */
  readonly #active = new Map<PeerId, Conn>()
  /** Which device holds each peer id (the 'bound' policy). */
  readonly #peerOwner = new Map<PeerId, DeviceId>()
  readonly #targets = new Map<string, DialTarget>()
  readonly #traffic = new Map<DeviceId, DeviceTraffic>()
  #server: Server | undefined
  #pendingInbound = 0
  #listening: Promise<void> | undefined
  #boundPort: number | undefined
  /** The Repo called `connect` (we know our peer id) and not `disconnect` since. */
  #connected = false
  /** `disconnect` was called: no listening, no dialling, until `connect`. */
  #halted = false
  #ready = false
  #readyResolve: (() => void) | undefined
  readonly #readyPromise = new Promise<void>((resolve) => (this.#readyResolve = resolve))

  constructor(options: TcpNetworkAdapterOptions) {
    super()
    this.#o = options
    this.#log = (options.logger ?? silentLogger).forComponent('orbit:transport-tcp')
    this.#timers = options.timers ?? defaultTimers
    this.#backoff = options.backoff && options.backoff.length > 0 ? options.backoff : DEFAULT_BACKOFF
    this.#maxFrame = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
    this.#policy = options.peerIdPolicy ?? 'device-id'
  }

  // ---- automerge-repo NetworkAdapter ---------------------------------------------------------

  isReady(): boolean {
    return this.#ready
  }

  whenReady(): Promise<void> {
    return this.#readyPromise
  }

  /** Called by the Repo with its peer id: starts listening and (re)dials remembered targets. */
  connect(peerId: PeerId, peerMetadata?: PeerMetadata): void {
    if (this.#policy === 'device-id' && peerId !== (this.#o.identity.deviceId as string)) {
      throw new ValidationError('with peerIdPolicy "device-id" the Repo peerId must be the device id', { field: 'peerId' })
    }
    this.peerId = peerId
    this.peerMetadata = peerMetadata ?? {}
    this.#connected = true
    this.#halted = false
    for (const conn of this.#conns) this.#sendJoin(conn)
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

  send(message: Message): void {
    if (!this.#connected) return
    const conn = this.#active.get(message.targetId)
    if (conn === undefined || !conn.established) {
      this.#log.debug('no connection for target', { targetId: message.targetId })
      return
    }
    this.#sendPlain(conn, encodeMessage(message))
    this.#count(conn.session.remoteDeviceId).messagesSent++
  }

  /** Closes every connection and the listener. `connect()` again brings both back. */
  disconnect(): void {
    this.#connected = false
    this.#halted = true
    for (const target of this.#targets.values()) {
      if (target.timer !== undefined) this.#timers.clearTimeout(target.timer)
      target.timer = undefined
    }
    for (const conn of [...this.#conns]) this.#dropConn(conn, new WireError('adapter disconnected', { code: 'CLOSED' }), { emit: true, retire: true })
    const server = this.#server
    this.#server = undefined
    this.#listening = undefined
    server?.close()
  }

  // ---- Orbit API ----------------------------------------------------------------------------

  /** Subscribes to transport events; returns the unsubscribe function. */
  on2<E extends keyof TcpAdapterEvents>(event: E, listener: TcpAdapterEvents[E]): () => void {
    return this.#events.on(event, listener)
  }

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
      if (target.conn?.established) return Promise.resolve(target.conn.session.remoteDeviceId)
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
    if (target.conn !== undefined) this.#dropConn(target.conn, new WireError('undialled', { code: 'CLOSED' }), { emit: true, retire: true })
  }

  /** Remote devices with a joined session, and their repo peer ids. */
  connectedDevices(): Array<{ deviceId: DeviceId; peerId: PeerId }> {
    return [...this.#active.entries()].map(([peerId, c]) => ({ deviceId: c.session.remoteDeviceId, peerId }))
  }

  /** Open member connections (joined or not), duplicates still draining included. */
  openConnections(): number {
    return this.#conns.size
  }

  /** Traffic counters per remote device (bytes are on the wire: frames, headers, ciphertext), current as of this call. */
  traffic(deviceId: DeviceId): DeviceTraffic {
    for (const conn of this.#conns) if (conn.session.remoteDeviceId === deviceId) conn.tally()
    return { ...this.#count(deviceId) }
  }

  /** Drops every connection to `deviceId` now (e.g. after it was revoked). */
  dropDevice(deviceId: DeviceId): void {
    for (const conn of [...this.#conns]) {
      if (conn.session.remoteDeviceId === deviceId) {
        if (conn.target) this.undial(conn.target.host, conn.target.port)
        else this.#dropConn(conn, new HandshakeError('device dropped', { code: 'REVOKED' }), { emit: true, retire: true })
      }
    }
  }

  // ---- internals ----------------------------------------------------------------------------

  #count(deviceId: DeviceId): DeviceTraffic {
    let t = this.#traffic.get(deviceId)
    if (t === undefined) this.#traffic.set(deviceId, (t = { bytesSent: 0, bytesReceived: 0, messagesSent: 0, messagesReceived: 0 }))
    return t
  }

  #startListening(): Promise<void> {
    const listen = this.#o.listen
    if (listen === undefined) return Promise.resolve()
    this.#listening ??= new Promise<void>((resolve, reject) => {
      const server = createServer((socket) => {
        if (this.#halted) return socket.destroy()
        // Handshakes cost CPU (X25519, Ed25519): cap how many strangers can make us do them at once.
        if (this.#pendingInbound >= (this.#o.maxPendingHandshakes ?? 64)) {
          this.#reportError(new WireError('too many pending handshakes', { code: 'BUSY' }), socket.remoteAddress)
          return socket.destroy()
        }
        this.#pendingInbound++
        let counted = true
        const release = (): void => {
          if (counted) this.#pendingInbound--
          counted = false
        }
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

  #scheduleRedial(target: DialTarget): void {
    target.pending = false
    if (target.stopped || this.#halted || target.options.reconnect === false || target.timer !== undefined) return
    const delay = this.#backoff[Math.min(target.attempt, this.#backoff.length - 1)]!
    target.attempt++
    target.timer = this.#timers.setTimeout(() => this.#attempt(target), delay)
  }

  #reportError(error: unknown, remoteAddress: string | undefined, deviceId?: DeviceId): void {
    const e = error instanceof OrbitError ? error : new WireError(String(error), { code: 'CONNECTION', cause: error })
    this.#log.warn('connection failed', { name: e.name, code: e.code, message: e.message, remoteAddress, deviceId })
    this.#events.emit('connection-error', [{ error: e, remoteAddress, ...(deviceId ? { deviceId } : {}) }])
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
        ...(this.#o.aead ? { aead: this.#o.aead } : {}),
        timeoutMs: this.#o.handshakeTimeoutMs ?? 10_000,
      })
    } catch (error) {
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
    this.#events.emit('session', [{ deviceId: session.remoteDeviceId, authorization: session.authorization, role }])

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

    // From the socket's first byte: the handshake is on the wire too, and both ends then agree.
    const traffic = this.#count(session.remoteDeviceId)
    let lastSent = 0
    let lastReceived = 0
    const conn: Conn = {
      framed,
      session,
      role,
      joinSent: false,
      remotePeerId: undefined,
      remoteMetadata: undefined,
      established: false,
      retired: false,
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
    }
    if (target !== undefined) target.conn = conn
    this.#conns.add(conn)
    framed.onClose((error) => {
      conn.tally()
      this.#onConnClosed(conn, error)
    })
    framed.onFrame = (frame) => {
      conn.lastReceivedAt = this.#now()
      conn.tally()
      try {
        const plain = session.decrypt(frame)
        if (plain !== undefined) this.#onPlaintext(conn, plain)
      } catch (error) {
        this.#reportError(error, remoteAddress(), session.remoteDeviceId)
        this.#dropConn(conn, error instanceof Error ? error : undefined, { emit: true, retire: false })
      }
    }
    this.#armHeartbeat(conn)
    this.#sendJoin(conn)
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
      if (!late && t - conn.lastReceivedAt >= idle) {
        const error = new WireError(`nothing received for ${idle} ms`, { code: 'IDLE_TIMEOUT' })
        this.#reportError(error, conn.framed.socket.remoteAddress, conn.session.remoteDeviceId)
        this.#dropConn(conn, error, { emit: true, retire: false })
        return
      }
      if (t - conn.lastSentAt >= every) this.#sendPlain(conn, new Uint8Array(0))
      this.#armHeartbeat(conn)
    }, every)
  }

  #sendPlain(conn: Conn, plain: Uint8Array): void {
    conn.lastSentAt = this.#now()
    for (const frame of conn.session.encrypt(plain)) conn.framed.send(frame)
  }

  #sendJoin(conn: Conn): void {
    if (conn.joinSent || !this.#connected || this.peerId === undefined) return
    conn.joinSent = true
    this.#sendPlain(
      conn,
      encodeMessage({
        type: 'join',
        senderId: this.peerId,
        peerMetadata: this.peerMetadata ?? {},
        supportedProtocolVersions: [REPO_PROTOCOL_VERSION],
      }),
    )
    this.#maybeEstablish(conn)
  }

  #onPlaintext(conn: Conn, plain: Uint8Array): void {
    if (plain.length === 0) return // keep-alive (CBOR is never empty)
    if (conn.remotePeerId === undefined) {
      const join = decodeJoin(plain)
      if (!join.supportedProtocolVersions.includes(REPO_PROTOCOL_VERSION)) {
        throw new WireError(`no common protocol version (peer: ${join.supportedProtocolVersions.join(',')})`, { code: 'VERSION' })
      }
      const device = conn.session.remoteDeviceId
      if (this.#policy === 'device-id' && (join.senderId as string) !== device) {
        throw new HandshakeError('peer id is not the authenticated device id', { code: 'PEER_ID_MISMATCH' })
      }
      const owner = this.#peerOwner.get(join.senderId)
      if (owner !== undefined && owner !== device) {
        throw new HandshakeError('peer id belongs to another device', { code: 'PEER_ID_MISMATCH' })
      }
      this.#peerOwner.set(join.senderId, device)
      conn.remotePeerId = join.senderId
      conn.remoteMetadata = join.peerMetadata
      this.#maybeEstablish(conn)
      return
    }
    if (!conn.established || this.peerId === undefined) throw new WireError('message before join', { code: 'BAD_MESSAGE' })
    const message = decodeRepoMessage(plain, { senderId: conn.remotePeerId, targetId: this.peerId })
    // A retired duplicate still delivers what was in flight on it: same authenticated peer.
    this.#count(conn.session.remoteDeviceId).messagesReceived++
    this.emit('message', message)
  }

  /** The deciding rule for two live connections to one device: keep the one the lower id dialled. */
  #preferred(a: Conn, b: Conn): Conn {
    const me = this.#o.identity.deviceId as string
    const dialler = (c: Conn): string => (c.role === 'initiator' ? me : c.session.remoteDeviceId)
    const da = dialler(a)
    const db = dialler(b)
    if (da !== db) return da < db ? a : b
    return a // same dialler twice (a redial racing a slow close): keep the existing one
  }

  #maybeEstablish(conn: Conn): void {
    if (conn.established || !conn.joinSent || conn.remotePeerId === undefined || conn.framed.closedReason) return
    const peerId = conn.remotePeerId
    const existing = this.#active.get(peerId)
    conn.established = true
    if (conn.target) {
      conn.target.attempt = 0
      conn.target.lastDeviceId = conn.session.remoteDeviceId
      this.#settle(conn.target, { deviceId: conn.session.remoteDeviceId })
    }
    if (existing !== undefined && existing !== conn) {
      const keep = this.#preferred(existing, conn)
      const drop = keep === conn ? existing : conn
      // Both sides pick the same link, but may have announced the other one first and sent on
      // it: stop sending on the loser now, keep reading it for a moment so nothing in flight is
      // lost, then close it. The Repo sees one uninterrupted peer.
      drop.retired = true
      const drainMs = this.#o.duplicateDrainMs ?? 2000
      this.#timers.setTimeout(() => this.#dropConn(drop, new WireError('duplicate connection', { code: 'DUPLICATE' }), { emit: false, retire: true }), drainMs)
      if (keep === existing) return
      this.#active.set(peerId, conn)
      this.#log.info('peer link replaced by the preferred duplicate', { peerId })
      return
    }
    this.#active.set(peerId, conn)
    this.#log.info('peer joined', { peerId, deviceId: conn.session.remoteDeviceId })
    this.emit('peer-candidate', { peerId, peerMetadata: conn.remoteMetadata ?? {} })
    this.#events.emit('device-connected', [
      { deviceId: conn.session.remoteDeviceId, peerId, remoteAddress: conn.framed.socket.remoteAddress },
    ])
  }

  #dropConn(conn: Conn, error: Error | undefined, how: { emit: boolean; retire: boolean }): void {
    if (how.retire) conn.retired = true
    if (!how.emit) conn.established = false
    conn.framed.close(error)
  }

  #onConnClosed(conn: Conn, error: Error | undefined): void {
    if (conn.heartbeat !== undefined) this.#timers.clearTimeout(conn.heartbeat)
    conn.heartbeat = undefined
    this.#conns.delete(conn)
    const target = conn.target
    if (target !== undefined && target.conn === conn) target.conn = undefined
    const peerId = conn.remotePeerId
    if (peerId !== undefined && this.#active.get(peerId) === conn) {
      this.#active.delete(peerId)
      if (conn.established) {
        this.#log.info('peer left', { peerId, reason: error?.message })
        this.emit('peer-disconnected', { peerId })
        this.#events.emit('device-disconnected', [{ deviceId: conn.session.remoteDeviceId, peerId }])
      }
      // A target retired as a duplicate of this link must take over now that it is gone.
      for (const t of this.#targets.values()) {
        if (t !== target && t.lastDeviceId === conn.session.remoteDeviceId && t.conn === undefined && !t.pending) this.#scheduleRedial(t)
      }
    }
    if (target !== undefined && !conn.retired) this.#scheduleRedial(target)
  }
}

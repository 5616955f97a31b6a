/**
 * `orbit serve`: one device kept online. Opens the device from its data dir, listens for TCP
 * (secure channel), advertises and browses mDNS on one interface, authorizes every connection by
 * the workspace's membership (replicated, so trust is transitive), connects on its own to paired
 * devices it discovers or knows by address, answers pairing while an invite is pending, keeps the
 * sync store current, and serves the CLI on a local control socket. `stop()` (SIGINT/SIGTERM)
 * flushes, says goodbye on mDNS, closes every socket and removes its lock and socket files.
 */
import { chmodSync, rmSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import type { PeerId } from '@automerge/automerge-repo'
import { OrbitError, UnknownIdError, ValidationError, WireError } from '../../core/errors.js'
import type { DeviceId } from '../../core/ids.js'
import { silentLogger, type Logger } from '../../core/log.js'
import { decodePublicKey, encodePublicKey, parseDeviceIdInput } from '../../core/crypto/identity.js'
import { answerPairing, createInvite, type Joiner, type PairWorkspace, type PendingInvite } from '../../core/pairing/index.js'
import { createSyncStore, type SyncStore } from '../../core/sync/store.js'
import { CountingNetworkAdapter } from '../../core/sync/counting.js'
import { toDeviceInfo, type Discovery } from '../../core/discovery/index.js'
import { TcpNetworkAdapter, type PairingConnection } from '../../adapters/transport-tcp/index.js'
import { openDevice, type OrbitDevice } from '../node/device.js'
import { SqliteInviteStore } from '../node/invite-store-sqlite.js'
import { acquireDaemonLock, controlSocketPath, type DaemonLock } from './lock.js'
import { advertisedAddresses, formatHostPort, parseHostPort, readKnownPeers, rememberPeerAddress } from './known-peers.js'
import { PeerHeadsWatcher, reportLanSession, restrictSharing, settleSyncStateSaves, snapshotTraffic, workspaceDocIds, type SyncReport } from './sync-session.js'
import { handleControlLine } from './control-server.js'
import { createDaemonWebRtc, type DaemonWebRtc } from '../node/webrtc-sync.js'
import { DocHeadsStore } from '../../adapters/storage-sqlite/index.js'
import { workspaceDocLoader, type DocLoader } from '../../core/engine/doc-loader.js'

/** Default TCP port of `orbit serve` (`--listen 0.0.0.0:7878`). */
export const DEFAULT_PORT = 7878
/** Default time `sync` waits for both sides' heads to match. */
export const DEFAULT_SYNC_TIMEOUT_MS = 30_000

export interface DaemonOptions {
  dataDir: string
  /** Where to accept TCP connections. Default `0.0.0.0:7878`. */
  listen?: { host: string; port: number }
  /** IPv4 address of the interface for mDNS, and the address put into invites. */
  interfaceAddress?: string
  /** Advertise and browse mDNS (needs `interfaceAddress`, or the listen host when it is not a wildcard). Default true. */
  mdns?: boolean
  /** mDNS UDP port (tests). Default 5353. */
  mdnsPort?: number
  logger?: Logger
  now?: () => number
  /** Drop discovered peers not seen for this long. Default 5 minutes. */
  peerExpiryMs?: number
  /** TCP redial delays (tests). */
  backoff?: number[]
}

/** A row of `orbit peers`. */
export interface PeerRow {
  deviceId: string
  name: string
  /** `host:port` where it was discovered, connected from, or reached before. */
  addresses: string[]
  lastSeen: number | null
  paired: boolean
  revoked: boolean
  connected: boolean
  discovered: boolean
}

/** What `orbit pair invite` prints. */
export interface InviteInfo {
  code: string
  expiresAt: number
  addresses: string[]
  inviter: { deviceId: string; name: string }
  workspace: { id: string; name: string }
}

/** A row of `orbit device list`. */
export interface DeviceRow {
  id: string
  name: string
  addedAt: number
  addedBy: string
  revokedAt?: number
  status: 'member' | 'revoked'
  self: boolean
}

export interface Daemon {
  readonly device: OrbitDevice
  readonly store: SyncStore
  readonly tcp: TcpNetworkAdapter
  readonly counting: CountingNetworkAdapter
  /** WebRTC offers held for `orbit webrtc accept`, answers, and their background sessions. */
  readonly webrtc: DaemonWebRtc
  readonly controlPath: string
  /** Where TCP is bound. */
  readonly listenAddress: { host: string; port: number }
  createInvite(ttlMs?: number): Promise<InviteInfo>
  listDevices(): DeviceRow[]
  revokeDevice(id: string): Promise<DeviceRow>
  peers(): PeerRow[]
  /** One session with `target` (device id/prefix or host:port), or with every reachable member. */
  sync(target: string | undefined, timeoutMs?: number): Promise<SyncReport | { sessions: SyncReport[] }>
  status(): Record<string, unknown>
  /** Idempotent; resolves once everything is closed and the lock is released. */
  stop(): Promise<void>
}

/**
 * Starts the daemon on an initialised data dir.
 * @throws StoreError `DAEMON_RUNNING` (another daemon holds the lock), `NOT_INITIALISED`, the
 *   store's refusals; WireError when the TCP port cannot be bound.
 */
export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const log = (options.logger ?? silentLogger).forComponent('orbit:daemon')
  const now = options.now ?? Date.now
  const listen = options.listen ?? { host: '0.0.0.0', port: DEFAULT_PORT }
  const controlPath = controlSocketPath(options.dataDir)
  const lock = acquireDaemonLock(options.dataDir, { control: controlPath, startedAt: now() })
  let device: OrbitDevice | undefined
  try {
    // No shard is loaded here: a peer's hello summary says which ones a sync needs (DocLoader).
    device = await openDevice(options.dataDir, { logger: options.logger ?? silentLogger, now })
    return await DaemonImpl.start(device, lock, controlPath, listen, options, log, now)
  } catch (error) {
    await device?.close().catch(() => undefined)
    lock.release()
    throw error
  }
}

interface LiveSession {
  sessionId: string
  peerId: PeerId
}

class DaemonImpl implements Daemon {
  readonly store: SyncStore
  readonly tcp: TcpNetworkAdapter
  readonly counting: CountingNetworkAdapter
  readonly invites: SqliteInviteStore
  readonly watcher: PeerHeadsWatcher
  readonly loader: DocLoader
  readonly webrtc: DaemonWebRtc
  listenAddress: { host: string; port: number } = { host: '', port: 0 }
  discovery: Discovery | undefined
  server: Server | undefined
  readonly sockets = new Set<Socket>()
  readonly live = new Map<DeviceId, LiveSession>()
  /** Where each connected device was reached (`host:port` for ones we dialled, the IP otherwise). */
  readonly connectedFrom = new Map<DeviceId, string>()
  /** The source IP of connected devices that dialled us. */
  readonly inboundFrom = new Map<DeviceId, string>()
  readonly unsubscribe: Array<() => void> = []
  timer: NodeJS.Timeout | undefined
  stopping: Promise<void> | undefined

  private constructor(
    readonly device: OrbitDevice,
    readonly lock: DaemonLock,
    readonly controlPath: string,
    readonly options: DaemonOptions,
    readonly log: Logger,
    readonly now: () => number,
  ) {
    const me = device.identity.deviceId
    this.store = createSyncStore({ localDeviceId: me, now })
    this.invites = new SqliteInviteStore(device.db)
    this.loader = workspaceDocLoader(device.repo, device.workspace, new DocHeadsStore(device.db), log)
    this.tcp = new TcpNetworkAdapter({
      identity: device.identity,
      listen: options.listen ?? { host: '0.0.0.0', port: DEFAULT_PORT },
      summary: () => this.loader.summary(),
      authorize: (remote) => this.authorize(remote.deviceId),
      onPairingSession: (conn) => void this.answerPairing(conn),
      deviceName: device.deviceName,
      logger: options.logger ?? silentLogger,
      ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
    })
    this.counting = new CountingNetworkAdapter(this.tcp, {
      onTraffic: (e) => {
        const entry = [...this.live.values()].find((s) => s.peerId === e.peerId)
        if (entry === undefined) return
        this.store.getState().addTraffic(
          entry.sessionId,
          e.direction === 'sent' ? { changesSent: e.changes, bytesSent: e.bytes } : { changesReceived: e.changes, bytesReceived: e.bytes },
        )
      },
    })
    this.watcher = new PeerHeadsWatcher(device.repo)
    this.webrtc = createDaemonWebRtc(device, { store: this.store, logger: options.logger ?? silentLogger, now })
  }

  static async start(
    device: OrbitDevice,
    lock: DaemonLock,
    controlPath: string,
    listen: { host: string; port: number },
    options: DaemonOptions,
    log: Logger,
    now: () => number,
  ): Promise<DaemonImpl> {
    const d = new DaemonImpl(device, lock, controlPath, { ...options, listen }, log, now)
    try {
      await d.#start()
    } catch (error) {
      await d.stop()
      throw error
    }
    return d
  }

  async #start(): Promise<void> {
    const { tcp, device } = this
    this.unsubscribe.push(
      tcp.on2('device-connected', (e) => this.onConnected(e.deviceId, e.peerId, e.remoteAddress)),
      tcp.on2('device-disconnected', (e) => this.onDisconnected(e.deviceId)),
      tcp.on2('connection-error', (e) => this.log.info('connection refused or failed', { name: e.error.name, code: e.error.code, remote: e.remoteAddress })),
      // A revocation (here or replicated from another member) drops that device at once.
      // and a device that became a member (paired through another member) is dialled now.
      device.workspace.onRootChanged(() => {
        this.enforceMembership()
        this.dialDiscoveredMembers()
      }),
    )
    restrictSharing(device.repo, workspaceDocIds(device.workspace.rootUrl, device.workspace.shardUrls))
    this.unsubscribe.push(
      this.loader.gateAnnouncements(),
      tcp.on2('peer-summary', (e) => void this.loader.onPeerSummary(e.peerId, e.summary)),
    )
    device.repo.networkSubsystem.addNetworkAdapter(this.counting)
    let bound: { host: string; port: number } | undefined
    try {
      bound = await tcp.listen()
    } catch (error) {
      const where = formatHostPort(this.options.listen!.host, this.options.listen!.port)
      throw new WireError(`cannot listen on ${where}: ${(error as Error).message}; is another device serving there? Choose another with --listen HOST:PORT`, {
        code: 'LISTEN_FAILED',
        cause: error,
      })
    }
    this.listenAddress = bound ?? this.options.listen!
    await this.startControl()
    this.lock.update({ listen: formatHostPort(this.listenAddress.host, this.listenAddress.port), deviceId: device.identity.deviceId })
    await this.startDiscovery()
    this.dialKnown()
    this.timer = setInterval(() => this.tick(), 15_000)
    this.timer.unref()
    this.log.info('daemon started', { listen: this.listenAddress, control: this.controlPath })
  }

  // ---- authorization and pairing -------------------------------------------------------------

  async authorize(remote: DeviceId): Promise<'member' | 'pairing' | 'refuse'> {
    const status = this.device.workspace.memberStatus(remote)
    if (status === 'member') return 'member'
    if (status === 'revoked') return 'refuse'
    // An unknown device may only pair, and only while an invite is pending.
    return this.invites.list(this.now()).length > 0 ? 'pairing' : 'refuse'
  }

  async answerPairing(conn: PairingConnection): Promise<void> {
    try {
      const decision = await answerPairing(conn.io, conn.session, {
        store: this.invites,
        now: this.now,
        admit: (invite, joiner) => this.admit(invite, joiner),
      })
      if (decision.accepted) {
        this.log.info('device paired', { deviceId: decision.joiner.deviceId, name: decision.joiner.name })
        this.store.getState().upsertPeer({
          deviceId: decision.joiner.deviceId,
          deviceName: decision.joiner.name,
          lastSeen: this.now(),
          addresses: conn.remoteAddress === undefined ? [] : [conn.remoteAddress],
          paired: true,
        })
      } else this.log.info('pairing refused', { remote: conn.remoteAddress })
      // Let the joiner read the answer and hang up first (closing now could cut the last frame).
      await conn.io.receive(AbortSignal.timeout(5000)).catch(() => undefined)
    } catch (error) {
      this.log.info('pairing failed', { error: String(error) })
    } finally {
      conn.close()
    }
  }

  async admit(_invite: PendingInvite, joiner: Joiner): Promise<PairWorkspace> {
    const ws = this.device.workspace
    await ws.addDevice({
      id: joiner.deviceId,
      publicKey: encodePublicKey(joiner.publicKey),
      name: joiner.name || 'device',
      addedAt: this.now(),
      addedBy: this.device.identity.deviceId,
    })
    await this.device.flush()
    const members = ws
      .listDevices()
      .filter((d) => ws.memberStatus(d.id) === 'member')
      .slice(0, 255)
      .map((d) => ({ deviceId: d.id, publicKey: decodePublicKey(d.publicKey), name: d.name }))
    return { workspaceName: ws.name, rootUrl: ws.rootUrl, members }
  }

  enforceMembership(): void {
    for (const { deviceId } of this.tcp.connectedDevices()) {
      if (this.device.workspace.memberStatus(deviceId) !== 'member') {
        this.log.info('dropping a device that is no longer a member', { deviceId })
        this.tcp.dropDevice(deviceId)
      }
    }
  }

  // ---- connections, discovery, known addresses ------------------------------------------------

  onConnected(deviceId: DeviceId, peerId: PeerId, remoteAddress: string | undefined): void {
    this.watcher.forget(peerId)
    const state = this.store.getState()
    const previous = this.live.get(deviceId)
    if (previous !== undefined) state.completeSession(previous.sessionId)
    const sessionId = state.startSession({ method: 'local-network', peerId: deviceId, status: 'syncing' })
    this.live.set(deviceId, { sessionId, peerId })
    const member = this.device.workspace.getDevice(deviceId)
    const known = state.discoveredPeers[deviceId]
    const address = this.connectedFrom.get(deviceId) ?? remoteAddress
    if (!this.connectedFrom.has(deviceId) && remoteAddress !== undefined) this.inboundFrom.set(deviceId, remoteAddress)
    // Addresses in the store are where the device listens (discovery); an inbound socket's source is not.
    state.upsertPeer({
      deviceId,
      deviceName: member?.name ?? known?.deviceName ?? '?',
      lastSeen: this.now(),
      addresses: known?.addresses ?? [],
      ...(known?.port === undefined ? {} : { port: known.port }),
      paired: true,
    })
    this.log.info('peer connected', { deviceId, address })
  }

  onDisconnected(deviceId: DeviceId): void {
    const live = this.live.get(deviceId)
    this.live.delete(deviceId)
    if (live !== undefined) this.loader.forget(live.peerId)
    this.connectedFrom.delete(deviceId)
    this.inboundFrom.delete(deviceId)
    if (live !== undefined) this.store.getState().completeSession(live.sessionId)
  }

  async startDiscovery(): Promise<void> {
    if (this.options.mdns === false) return
    const host = this.options.interfaceAddress ?? (this.listenAddress.host !== '0.0.0.0' ? this.listenAddress.host : undefined)
    if (host === undefined) {
      this.log.warn('mDNS is off: give --interface IP to advertise and browse on one interface')
      return
    }
    const { createMdnsDiscovery } = await import('../../adapters/discovery-mdns/index.js')
    const me = this.device.identity.deviceId
    const discovery = createMdnsDiscovery({
      interfaceAddress: host,
      advertise: { deviceId: me, name: this.device.deviceName, port: this.listenAddress.port },
      logger: this.options.logger ?? silentLogger,
      ...(this.options.mdnsPort === undefined ? {} : { mdnsPort: this.options.mdnsPort }),
    })
    this.discovery = discovery
    this.unsubscribe.push(
      discovery.on('peer', (peer) => {
        if (peer.deviceId === me) return
        const status = this.device.workspace.memberStatus(peer.deviceId)
        this.store.getState().upsertPeer({ ...toDeviceInfo(peer, status === 'member'), revoked: status === 'revoked' })
        // The TXT id is a hint: dialling with expectedDeviceId makes the handshake prove it.
        if (status === 'member') for (const address of peer.addresses) void this.dial(address, peer.port, peer.deviceId)
      }),
      discovery.on('peer-lost', (deviceId) => {
        if (!this.live.has(deviceId)) this.store.getState().removePeer(deviceId)
      }),
      discovery.on('error', (error) => this.log.debug('discovery input dropped', { name: error.name, code: error.code })),
    )
    await discovery.start()
    this.store.getState().setDiscovering(true)
  }

  dial(host: string, port: number, expected: DeviceId | undefined): Promise<DeviceId | undefined> {
    return this.tcp
      .dial(host, port, expected === undefined ? {} : { expectedDeviceId: expected })
      .then((deviceId) => {
        this.connectedFrom.set(deviceId, formatHostPort(host, port))
        if (this.device.workspace.memberStatus(deviceId) === 'member') rememberPeerAddress(this.device.config, deviceId, formatHostPort(host, port))
        return deviceId
      })
      .catch((error: unknown) => {
        this.log.info('dial failed', { host, port, error: String(error) })
        return undefined
      })
  }

  dialKnown(): void {
    for (const [deviceId, addresses] of Object.entries(readKnownPeers(this.device.config))) {
      if (this.device.workspace.memberStatus(deviceId) !== 'member') continue
      for (const address of addresses) {
        try {
          const { host, port } = parseHostPort(address)
          void this.dial(host, port, deviceId as DeviceId)
        } catch {
          // a damaged entry: skip it
        }
      }
    }
  }

  /** Discovered devices that are members but not connected (e.g. refused before their membership synced here). */
  dialDiscoveredMembers(): void {
    const me = this.device.identity.deviceId
    for (const peer of this.discovery?.peers() ?? []) {
      if (peer.deviceId === me || this.live.has(peer.deviceId)) continue
      if (this.device.workspace.memberStatus(peer.deviceId) !== 'member') continue
      for (const address of peer.addresses) void this.dial(address, peer.port, peer.deviceId)
    }
  }

  tick(): void {
    this.dialDiscoveredMembers()
    const state = this.store.getState()
    for (const deviceId of this.live.keys()) {
      const peer = state.discoveredPeers[deviceId]
      if (peer !== undefined) state.upsertPeer({ ...peer, lastSeen: this.now() })
    }
    state.expirePeers(this.options.peerExpiryMs ?? 5 * 60_000)
    void Promise.resolve(this.invites.purgeExpired(this.now())).catch(() => undefined)
    // Keeps doc_heads current for what synced in the background, so the next start loads nothing it need not.
    void this.device.flush().catch((error: unknown) => this.log.warn('periodic flush failed', { error: String(error) }))
  }

  // ---- control socket -------------------------------------------------------------------------

  async startControl(): Promise<void> {
    rmSync(this.controlPath, { force: true })
    const server = createServer((socket) => this.serveControl(socket))
    this.server = server
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      // Created owner-only: no window in which another user could connect.
      const mask = process.umask(0o177)
      try {
        server.listen(this.controlPath, () => {
          server.removeListener('error', reject)
          resolve()
        })
      } finally {
        process.umask(mask)
      }
    })
    chmodSync(this.controlPath, 0o600)
  }

  serveControl(socket: Socket): void {
    this.sockets.add(socket)
    socket.once('close', () => this.sockets.delete(socket))
    socket.on('error', () => undefined)
    socket.setEncoding('utf8')
    let buffer = ''
    let busy = false
    socket.on('data', (chunk: string) => {
      buffer += chunk
      if (busy) return
      if (buffer.length > 16 * 1024 * 1024) return void socket.destroy()
      const nl = buffer.indexOf('\n')
      if (nl < 0) return
      busy = true
      const line = buffer.slice(0, nl)
      buffer = ''
      void handleControlLine(this, line).then((response) => {
        if (!socket.destroyed) socket.end(response + '\n')
      })
    })
  }

  // ---- operations -----------------------------------------------------------------------------

  async createInvite(ttlMs?: number): Promise<InviteInfo> {
    const ws = this.device.workspace
    const addresses = advertisedAddresses(this.listenAddress.host, this.listenAddress.port, this.options.interfaceAddress)
    const { code, pending, invite } = createInvite({
      identity: this.device.identity,
      workspaceId: ws.workspaceId,
      deviceName: this.device.deviceName,
      addresses,
      now: this.now(),
      ...(ttlMs === undefined ? {} : { ttlMs }),
    })
    await this.invites.purgeExpired(this.now())
    await this.invites.put(pending)
    return {
      code,
      expiresAt: invite.expiresAt,
      addresses,
      inviter: { deviceId: this.device.identity.deviceId, name: this.device.deviceName },
      workspace: { id: ws.workspaceId, name: ws.name },
    }
  }

  listDevices(): DeviceRow[] {
    return listDeviceRows(this.device)
  }

  async revokeDevice(id: string): Promise<DeviceRow> {
    const row = await revokeOn(this.device, id)
    this.tcp.dropDevice(row.id as DeviceId)
    const state = this.store.getState()
    const peer = state.discoveredPeers[row.id]
    if (peer !== undefined) state.upsertPeer({ ...peer, paired: false, revoked: true })
    return row
  }

  peers(): PeerRow[] {
    const ws = this.device.workspace
    const me = this.device.identity.deviceId
    const discovered = this.store.getState().discoveredPeers
    const known = readKnownPeers(this.device.config)
    const connected = new Set(this.tcp.connectedDevices().map((c) => c.deviceId as string))
    const ids = new Set<string>([...ws.listDevices().map((d) => d.id as string), ...Object.keys(discovered), ...connected])
    ids.delete(me)
    return [...ids].sort().map((id) => {
      const info = discovered[id]
      const member = ws.getDevice(id)
      const status = ws.memberStatus(id)
      const seen = info?.port === undefined ? [] : info.addresses.map((a) => formatHostPort(a, info.port!))
      const via = this.connectedFrom.get(id as DeviceId) ?? this.inboundFrom.get(id as DeviceId)
      return {
        deviceId: id,
        name: member?.name ?? info?.deviceName ?? '?',
        addresses: [...new Set([...(via ? [via] : []), ...seen, ...(known[id] ?? [])])],
        lastSeen: info?.lastSeen ?? null,
        paired: status === 'member',
        revoked: status === 'revoked',
        connected: connected.has(id),
        discovered: info !== undefined && info.port !== undefined,
      }
    })
  }

  async sync(target: string | undefined, timeoutMs = DEFAULT_SYNC_TIMEOUT_MS): Promise<SyncReport | { sessions: SyncReport[] }> {
    if (target !== undefined) return this.syncOne(target, timeoutMs)
    let devices = this.tcp.connectedDevices().map((c) => c.deviceId)
    if (devices.length === 0) {
      const reached = await Promise.all(this.peers().filter((p) => p.paired).map((p) => this.reach(p.deviceId as DeviceId)))
      devices = reached.filter((d): d is DeviceId => d !== undefined)
    }
    if (devices.length === 0) {
      throw new WireError('no paired device is reachable: pair one (`orbit pair invite`), or give its address (`orbit sync HOST:PORT`)', {
        code: 'NO_PEER',
      })
    }
    const sessions = await Promise.all([...new Set(devices)].map((d) => this.session(d, timeoutMs)))
    return { sessions }
  }

  async syncOne(target: string, timeoutMs: number): Promise<SyncReport> {
    let deviceId: DeviceId | undefined
    if (/:\d+$/.test(target)) {
      const { host, port } = parseHostPort(target, 'target')
      deviceId = await this.tcp.dial(host, port, {}).catch((error: unknown) => {
        throw error instanceof OrbitError ? error : new WireError(String(error), { code: 'CONNECTION' })
      })
      this.connectedFrom.set(deviceId, formatHostPort(host, port))
      rememberPeerAddress(this.device.config, deviceId, formatHostPort(host, port))
    } else {
      const id = resolveMember(this.device, target)
      deviceId = await this.reach(id)
      if (deviceId === undefined) {
        throw new WireError(`device ${id} is not reachable: no connection and no address that answers; try \`orbit sync HOST:PORT\``, {
          code: 'UNREACHABLE',
        })
      }
    }
    return this.session(deviceId, timeoutMs)
  }

  /** Connected already, or dial its discovered and known addresses (first to answer wins). */
  async reach(deviceId: DeviceId): Promise<DeviceId | undefined> {
    if (this.live.has(deviceId)) return deviceId
    const info = this.store.getState().discoveredPeers[deviceId]
    const addresses = [
      ...(info?.port === undefined ? [] : info.addresses.map((a) => ({ host: a, port: info.port! }))),
      ...(readKnownPeers(this.device.config)[deviceId] ?? []).flatMap((a) => {
        try {
          return [parseHostPort(a)]
        } catch {
          return []
        }
      }),
    ]
    for (const { host, port } of addresses) {
      if ((await this.dial(host, port, deviceId)) === deviceId) return deviceId
    }
    return undefined
  }

  async session(deviceId: DeviceId, timeoutMs: number): Promise<SyncReport> {
    const started = this.now()
    const live = this.live.get(deviceId)
    const peerId = live?.peerId ?? this.tcp.connectedDevices().find((c) => c.deviceId === deviceId)?.peerId
    const address = this.connectedFrom.get(deviceId)
    if (peerId === undefined) throw new WireError(`device ${deviceId} is not connected`, { code: 'UNREACHABLE' })
    const current = () => snapshotTraffic(this.tcp, this.counting, deviceId, peerId)
    return reportLanSession({ deviceId, ...(address ? { address } : {}) }, { before: current(), current }, { started, now: this.now }, async () => {
      const documents = await this.watcher.until(() => this.loader.sessionDocuments(peerId), peerId, { timeoutMs })
      await this.device.flush()
      return documents
    })
  }

  status(): Record<string, unknown> {
    const s = this.store.getState()
    return {
      pid: process.pid,
      deviceId: this.device.identity.deviceId,
      deviceName: this.device.deviceName,
      listen: formatHostPort(this.listenAddress.host, this.listenAddress.port),
      mdns: this.discovery !== undefined,
      status: s.status,
      currentMethod: s.currentMethod,
      lastSyncTimestamp: s.lastSyncTimestamp,
      connected: this.tcp.connectedDevices().map((c) => c.deviceId),
      activeSessions: Object.values(s.activeSessions),
      recentSessions: s.recentSessions.slice(0, 10),
      pendingInvites: this.invites.list(this.now()).length,
      // Documents in memory (the root, and only the shards something needed): see DocLoader.
      loadedDocuments: Object.keys(this.device.repo.handles).length,
    }
  }

  stop(): Promise<void> {
    this.stopping ??= this.#stop()
    return this.stopping
  }

  async #stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.server?.close()
    for (const socket of this.sockets) socket.destroy()
    for (const off of this.unsubscribe.splice(0)) off()
    // Goodbye first, so peers stop dialling an address that is about to go away.
    await this.discovery?.stop().catch((error: unknown) => this.log.warn('mDNS stop failed', { error: String(error) }))
    this.store.getState().setDiscovering(false)
    this.watcher.close()
    await this.webrtc.close()
    this.tcp.disconnect()
    await settleSyncStateSaves()
    try {
      await this.device.close()
    } finally {
      rmSync(this.controlPath, { force: true })
      this.lock.release()
      this.log.info('daemon stopped')
    }
  }
}

/** `orbit device list` rows for an open device. */
export function listDeviceRows(device: OrbitDevice): DeviceRow[] {
  const ws = device.workspace
  return ws.listDevices().map((d) => ({
    id: d.id,
    name: d.name,
    addedAt: d.addedAt,
    addedBy: d.addedBy,
    ...(d.revokedAt === undefined ? {} : { revokedAt: d.revokedAt }),
    status: ws.memberStatus(d.id) === 'revoked' ? 'revoked' : 'member',
    self: d.id === device.identity.deviceId,
  }))
}

/** Revokes a member (by id or unique prefix) on an open device and flushes. */
export async function revokeOn(device: OrbitDevice, id: string): Promise<DeviceRow> {
  const target = resolveMember(device, id, { includeRevoked: true })
  if (target === device.identity.deviceId) throw new ValidationError('a device cannot revoke itself; revoke it from another member', { field: 'id' })
  await device.workspace.revokeDevice(target)
  await device.flush()
  return listDeviceRows(device).find((r) => r.id === target)!
}

/**
 * A member's full id from a full id (any grouping) or a unique prefix of at least 4 characters.
 * @throws UnknownIdError('device'), ValidationError when the prefix is ambiguous.
 */
export function resolveMember(device: OrbitDevice, input: string, options: { includeRevoked?: boolean } = {}): DeviceId {
  const ws = device.workspace
  let id: string | undefined
  try {
    id = parseDeviceIdInput(input, 'device')
  } catch {
    id = undefined
  }
  if (id !== undefined && ws.getDevice(id) !== undefined) return id as DeviceId
  const needle = input.replace(/[-\s]/g, '').toLowerCase()
  const candidates = ws
    .listDevices()
    .filter((d) => options.includeRevoked === true || ws.memberStatus(d.id) === 'member')
    .filter((d) => needle.length >= 4 && d.id.toLowerCase().startsWith(needle))
  if (candidates.length === 1) return candidates[0]!.id
  if (candidates.length > 1) throw new ValidationError(`device "${input}" is ambiguous: give more of its id`, { field: 'device' })
  throw new UnknownIdError('device', input)
}

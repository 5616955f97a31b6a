/**
 * The LAN tier (docs/architecture.md, "Tiers"): TCP inside the secure channel, on the device's
 * Repo. It reaches a member at an address it was discovered at, connected from, or reached before
 * (remembered in the config), keeps one store session per live link (begun when the link joins,
 * counted per message, ended when it closes), and runs `orbit sync` sessions over those links.
 * Every handshake asks the membership policy; a member that stops being one is dropped.
 *
 * Used by the daemon (listening, reconnecting), by `orbit sync` without a daemon (dial-only, one
 * link) and by `orbit pair join` (a fixed member list, the inviter's workspace only).
 */
import type { DocHandle, PeerId } from '@automerge/automerge-repo'
import { OrbitError, WireError } from '../../../core/errors.js'
import type { DeviceId } from '../../../core/ids.js'
import { silentLogger, type Logger } from '../../../core/log.js'
import { CountingNetworkAdapter } from '../../../core/sync/counting.js'
import type { DocLoader, SessionDocuments } from '../../../core/engine/doc-loader.js'
import type { MembershipPolicy } from '../../../core/engine/membership.js'
import type { RecordedSession, SessionRecorder } from '../../../core/engine/session-recorder.js'
import { PeerHeadsWatcher, reportSession, restrictSharing, type SyncReport, type TrafficSnapshot } from '../../../core/engine/sync-session.js'
import { tierPriority, type Reachability, type Tier, type TierSessionOptions } from '../../../core/engine/tier.js'
import { TcpNetworkAdapter, type PairingConnection, type TcpNetworkAdapterOptions } from '../../../adapters/transport-tcp/index.js'
import type { OrbitDevice } from '../device.js'
import { formatHostPort, parseHostPort, readKnownPeers, rememberPeerAddress } from '../known-peers.js'

/** Default time a LAN session waits for both sides' heads to match. */
export const DEFAULT_SYNC_TIMEOUT_MS = 30_000

/** The device parts the LAN tier uses. */
export type LanDevice = Pick<OrbitDevice, 'identity' | 'deviceName' | 'repo' | 'config' | 'flush'> & {
  workspace: Pick<OrbitDevice['workspace'], 'allHandles'>
}

export interface LanTierOptions {
  device: LanDevice
  policy: MembershipPolicy
  /** The documents exchanged (set on the Repo before the transport is added). */
  share: ReadonlySet<string>
  /** Where store sessions go; default none. */
  recorder?: SessionRecorder
  /** Accept connections here; omit for dial-only. */
  listen?: { host: string; port: number }
  /** Sessions the policy admitted for pairing only (an invite is pending). */
  onPairingSession?: (connection: PairingConnection) => void
  /** Where discovery last saw a device (hints: the handshake proves who answers). */
  discovered?: (deviceId: DeviceId) => { addresses: readonly string[]; port?: number | undefined } | undefined
  /** Redial dropped links (the daemon); default false (one-shot `orbit sync`). */
  reconnect?: boolean
  /**
   * Loads only the documents that differ from a peer's hello summary, and gates announcements by
   * it (src/core/engine/doc-loader.ts): a session then compares just those, counting the rest as
   * in sync. Without it, a session compares every workspace document (all loaded).
   */
  loader?: DocLoader
  /** The documents a session compares (overrides `loader`); default the workspace's. */
  handles?: () => Promise<readonly DocHandle<unknown>[]>
  /** More transport options (timers, backoff), passed through. */
  transport?: Partial<Pick<TcpNetworkAdapterOptions, 'backoff' | 'timers' | 'connectTimeoutMs' | 'heartbeatMs' | 'idleTimeoutMs'>>
  logger?: Logger
  now?: () => number
}

interface Link {
  peerId: PeerId
  session: RecordedSession | undefined
}

export class LanTier implements Tier {
  readonly method = 'local-network' as const
  readonly priority = tierPriority('local-network')
  readonly tcp: TcpNetworkAdapter
  readonly counting: CountingNetworkAdapter
  readonly watcher: PeerHeadsWatcher
  readonly #options: LanTierOptions
  readonly #log: Logger
  readonly #now: () => number
  readonly #links = new Map<DeviceId, Link>()
  /** Where each connected device was reached (`host:port` for ones we dialled). */
  readonly #dialledAt = new Map<DeviceId, string>()
  /** The source address of connected devices that dialled us. */
  readonly #inboundFrom = new Map<DeviceId, string>()
  readonly #off: Array<() => void> = []
  #closed = false

  constructor(options: LanTierOptions) {
    this.#options = options
    this.#log = (options.logger ?? silentLogger).forComponent('orbit:lan')
    this.#now = options.now ?? Date.now
    const { device, policy } = options
    restrictSharing(device.repo, options.share)
    // After the sharing policy itself: it narrows what is announced to each peer.
    if (options.loader !== undefined) this.#off.push(options.loader.gateAnnouncements())
    this.tcp = new TcpNetworkAdapter({
      identity: device.identity,
      ...(options.listen === undefined ? {} : { listen: options.listen }),
      authorize: (remote) => policy.admit(remote.deviceId),
      ...(options.onPairingSession === undefined ? {} : { onPairingSession: options.onPairingSession }),
      deviceName: device.deviceName,
      logger: options.logger ?? silentLogger,
      // What this device holds, carried in the link's hello (docs/protocol/link.md), so the peer
      // loads only what differs.
      ...(options.loader === undefined ? {} : { summary: () => options.loader!.summary() }),
      ...(options.transport ?? {}),
    })
    this.counting = new CountingNetworkAdapter(this.tcp, {
      onTraffic: (e) => {
        const link = [...this.#links.values()].find((l) => l.peerId === e.peerId)
        link?.session?.traffic(e.direction === 'sent' ? { changesSent: e.changes, bytesSent: e.bytes } : { changesReceived: e.changes, bytesReceived: e.bytes })
      },
    })
    // Before the transport joins the Repo, so no heads report is missed.
    this.watcher = new PeerHeadsWatcher(device.repo)
    this.#off.push(
      this.tcp.on2('device-connected', (e) => this.#onConnected(e.deviceId, e.peerId, e.remoteAddress)),
      this.tcp.on2('device-disconnected', (e) => this.#onDisconnected(e.deviceId)),
      this.tcp.on2('connection-error', (e) => this.#log.info('connection refused or failed', { name: e.error.name, code: e.error.code, remote: e.remoteAddress })),
    )
    // What the peer holds, learnt from its hello (the recorder persists it as the peer's heads).
    if (options.recorder?.summary !== undefined) this.#off.push(this.tcp.on2('peer-summary', (e) => options.recorder?.summary?.(e.deviceId, e.summary, 'local-network')))
    if (options.loader !== undefined) {
      const loader = options.loader
      // The peer's hello summary arrives before the Repo hears of the peer: load what differs.
      this.#off.push(this.tcp.on2('peer-summary', (e) => void loader.onPeerSummary(e.peerId, e.summary)))
    }
    device.repo.networkSubsystem.addNetworkAdapter(this.counting)
  }

  /** Starts listening (when `listen` was given); resolves with the bound address. */
  listen(): Promise<{ host: string; port: number } | undefined> {
    return this.tcp.listen()
  }

  /** Devices with a live link. */
  connected(): DeviceId[] {
    return this.tcp.connectedDevices().map((c) => c.deviceId)
  }

  isConnected(deviceId: DeviceId): boolean {
    return this.#links.has(deviceId)
  }

  /** Where a connected device was reached (`host:port` dialled, or its source address). */
  connectedVia(deviceId: DeviceId): string | undefined {
    return this.#dialledAt.get(deviceId) ?? this.#inboundFrom.get(deviceId)
  }

  /** The addresses to try for a device: discovered first, then remembered. */
  addresses(deviceId: DeviceId): Array<{ host: string; port: number }> {
    const seen = this.#options.discovered?.(deviceId)
    return [
      ...(seen?.port === undefined ? [] : seen.addresses.map((a) => ({ host: a, port: seen.port! }))),
      ...(readKnownPeers(this.#options.device.config)[deviceId] ?? []).flatMap((a) => {
        try {
          return [parseHostPort(a)]
        } catch {
          return [] // a damaged entry: skip it
        }
      }),
    ]
  }

  reach(deviceId: DeviceId): Reachability {
    if (this.#closed) return { ok: false, reason: 'stopped', detail: 'the LAN tier is stopped' }
    if (!this.#options.policy.isMember(deviceId)) return { ok: false, reason: 'not-member', detail: `${deviceId} is not a member of this workspace` }
    const via = this.connectedVia(deviceId)
    if (this.#links.has(deviceId)) return { ok: true, via: via ?? 'connected' }
    const first = this.addresses(deviceId)[0]
    if (first === undefined) return { ok: false, reason: 'no-address', detail: `no address is known for ${deviceId}; give one (\`orbit sync HOST:PORT\`) or let discovery find it` }
    return { ok: true, via: formatHostPort(first.host, first.port) }
  }

  /**
   * Dials `host:port`; resolves with the device that answered (the handshake proves it is
   * `expected` when given), and remembers the address of a member.
   * @throws WireError/HandshakeError when nothing answers or the handshake refuses.
   */
  async dial(host: string, port: number, expected?: DeviceId): Promise<{ deviceId: DeviceId; peerId: PeerId }> {
    const deviceId = await this.tcp
      .dial(host, port, { reconnect: this.#options.reconnect === true, ...(expected === undefined ? {} : { expectedDeviceId: expected }) })
      .catch((error: unknown) => {
        throw error instanceof OrbitError ? error : new WireError(String(error), { code: 'CONNECTION' })
      })
    const where = formatHostPort(host, port)
    this.#dialledAt.set(deviceId, where)
    this.#inboundFrom.delete(deviceId)
    if (this.#options.policy.isMember(deviceId)) rememberPeerAddress(this.#options.device.config, deviceId, where)
    const peerId = this.#links.get(deviceId)?.peerId ?? this.tcp.connectedDevices().find((c) => c.deviceId === deviceId)?.peerId
    if (peerId === undefined) throw new WireError(`the connection to ${where} closed at once`, { code: 'CLOSED' })
    return { deviceId, peerId }
  }

  /** Dials and forgets failures (background dialling); undefined when it did not connect. */
  tryDial(host: string, port: number, expected?: DeviceId): Promise<DeviceId | undefined> {
    return this.dial(host, port, expected).then(
      (r) => r.deviceId,
      (error: unknown) => {
        this.#log.info('dial failed', { host, port, error: String(error) })
        return undefined
      },
    )
  }

  /** Connected already, or dial its addresses in turn (the first to answer wins). */
  async connect(deviceId: DeviceId): Promise<boolean> {
    if (this.#links.has(deviceId)) return true
    for (const { host, port } of this.addresses(deviceId)) {
      if ((await this.tryDial(host, port, deviceId)) === deviceId) return true
    }
    return false
  }

  async session(deviceId: DeviceId, options: TierSessionOptions = {}): Promise<SyncReport> {
    const reach = this.reach(deviceId)
    if (!reach.ok && reach.reason === 'not-member') throw new WireError(reach.detail, { code: 'NOT_MEMBER' })
    if (!(await this.connect(deviceId))) {
      throw new WireError(`device ${deviceId} is not reachable: no connection and no address that answers; try \`orbit sync HOST:PORT\``, { code: 'UNREACHABLE' })
    }
    return this.report(deviceId, options)
  }

  /** A session at an address (`orbit sync HOST:PORT`): whoever answers, if a member. */
  async sessionAt(host: string, port: number, options: TierSessionOptions & { expected?: DeviceId } = {}): Promise<SyncReport> {
    const { deviceId } = await this.dial(host, port, options.expected)
    return this.report(deviceId, options)
  }

  /**
   * Runs one session over a device's live link: until the peer's heads match ours for every
   * document, or the timeout. Counts the traffic from now (a link the session itself opened
   * counts from zero: its sync may begin before the dial resolves).
   */
  async report(deviceId: DeviceId, options: TierSessionOptions & { fromZero?: boolean } = {}): Promise<SyncReport> {
    const started = this.#now()
    const peerId = this.#links.get(deviceId)?.peerId ?? this.tcp.connectedDevices().find((c) => c.deviceId === deviceId)?.peerId
    if (peerId === undefined) throw new WireError(`device ${deviceId} is not connected`, { code: 'UNREACHABLE' })
    const address = this.connectedVia(deviceId)
    const current = (): TrafficSnapshot => this.traffic(deviceId, peerId)
    const before = options.fromZero === true ? { changesSent: 0, changesReceived: 0, bytesSent: 0, bytesReceived: 0 } : current()
    const { loader } = this.#options
    const handles: () => Promise<readonly DocHandle<unknown>[] | SessionDocuments> =
      this.#options.handles ?? (loader !== undefined ? () => loader.sessionDocuments(peerId) : () => this.#options.device.workspace.allHandles())
    return reportSession('local-network', { deviceId, ...(address === undefined ? {} : { address }) }, { before, current }, { started, now: this.#now }, async () => {
      const documents = await this.watcher.until(handles, peerId, {
        timeoutMs: options.timeoutMs ?? DEFAULT_SYNC_TIMEOUT_MS,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      })
      await this.#options.device.flush()
      return documents
    })
  }

  /** A device's lifetime counters: changes from the Repo's messages, bytes from the wire. */
  traffic(deviceId: DeviceId, peerId: PeerId | undefined): TrafficSnapshot {
    const wire = this.tcp.traffic(deviceId)
    const repo = peerId === undefined ? undefined : this.counting.traffic(peerId)
    return {
      changesSent: repo?.sent.changes ?? 0,
      changesReceived: repo?.received.changes ?? 0,
      bytesSent: wire.bytesSent,
      bytesReceived: wire.bytesReceived,
    }
  }

  /** Drops the links of connected devices the policy no longer admits (a revocation). */
  enforce(): void {
    for (const { deviceId } of this.tcp.connectedDevices()) {
      if (!this.#options.policy.isMember(deviceId)) {
        this.#log.info('dropping a device that is no longer a member', { deviceId })
        this.tcp.dropDevice(deviceId)
      }
    }
  }

  drop(deviceId: DeviceId): void {
    this.tcp.dropDevice(deviceId)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const off of this.#off.splice(0)) off()
    this.watcher.close()
    this.tcp.disconnect()
    for (const deviceId of [...this.#links.keys()]) this.#onDisconnected(deviceId)
  }

  #onConnected(deviceId: DeviceId, peerId: PeerId, remoteAddress: string | undefined): void {
    this.watcher.forget(peerId)
    this.#links.get(deviceId)?.session?.end()
    const session = this.#options.recorder?.begin({ method: 'local-network', deviceId, status: 'syncing' })
    this.#links.set(deviceId, { peerId, session })
    if (!this.#dialledAt.has(deviceId) && remoteAddress !== undefined) this.#inboundFrom.set(deviceId, remoteAddress)
    this.#log.info('peer connected', { deviceId, address: this.connectedVia(deviceId) })
  }

  #onDisconnected(deviceId: DeviceId): void {
    const link = this.#links.get(deviceId)
    this.#links.delete(deviceId)
    if (link !== undefined) this.#options.loader?.forget(link.peerId)
    this.#dialledAt.delete(deviceId)
    this.#inboundFrom.delete(deviceId)
    link?.session?.end()
  }
}

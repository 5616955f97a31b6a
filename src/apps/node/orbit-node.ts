/**
 * The composition root (docs/architecture.md): `createOrbitNode` opens a device from its data dir
 * and wires the adapters into the engine — one membership policy, one sync store with its session
 * recorder, the LAN, WebRTC and QR tiers, pairing admission, and the `OrbitApi` the CLI and an
 * embedding app call. The daemon (`orbit serve`) is this node plus discovery and a control socket.
 *
 * @example
 * import { createOrbitNode } from 'orbit-sync'
 * const node = await createOrbitNode({ dataDir, init: { name: 'Laptop' }, listen: { host: '127.0.0.1', port: 0 } })
 * const off = node.subscribe((state) => console.log(state.status))
 * await node.api.workspace.addContact({ name: 'Ada Lovelace' })
 * off(); await node.stop()
 */
import { StoreError, ValidationError, WireError } from '../../core/errors.js'
import type { DeviceId } from '../../core/ids.js'
import { silentLogger, type Logger } from '../../core/log.js'
import { workspaceDocLoader, type DocLoader } from '../../core/engine/doc-loader.js'
import { membershipPolicy, type MembershipPolicy } from '../../core/engine/membership.js'
import type { SessionRecorder } from '../../core/engine/session-recorder.js'
import { Orchestrator } from '../../core/engine/orchestrator.js'
import { settleSyncStateSaves, workspaceDocIds, type SyncReport } from '../../core/engine/sync-session.js'
import type { SyncMethod } from '../../core/sync/types.js'
import type { Tier } from '../../core/engine/tier.js'
import { createSyncStore, type SyncStore, type SyncStoreState } from '../../core/sync/store.js'
import { DocHeadsStore } from '../../adapters/storage-sqlite/index.js'
import { localApi, type InviteInfo, type LocalApi, type OrbitApi } from './api.js'
import { initDevice, lockWriters, openDevice, type OrbitDevice } from './device.js'
import { advertisedAddresses, formatHostPort, parseHostPort } from './known-peers.js'
import { resolveMember } from './members.js'
import { deviceSyncState } from './sync-state.js'
import { PairingAdmission } from './pairing-admission.js'
import { DEFAULT_SYNC_TIMEOUT_MS, LanTier } from './tiers/lan-tier.js'
import { QrTier } from './tiers/qr-tier.js'
import { WebRtcTier } from './tiers/webrtc-tier.js'
import { Mesh } from './mesh.js'
import { NodeBlobs, type NodeBlobExchangeOptions, type SessionBlobs, type SyncBlobs } from './blobs.js'
import { BlobExchange } from '../../core/blobs/exchange.js'
import { inspectImage } from '../../core/blobs/image.js'
import type { WebRtcNetworkAdapter } from '../../adapters/transport-webrtc/index.js'

export interface OrbitNodeOptions {
  dataDir: string
  /** Create the device and a workspace when the data dir holds none. Without it, an empty data dir is StoreError `NOT_INITIALISED`. */
  init?: { name: string; workspaceName?: string }
  /** Accept LAN connections here (port 0 picks one); omit for a node that only dials. */
  listen?: { host: string; port: number }
  /** The address put into invites (default: the listen host, or this machine's IPv4 addresses for a wildcard). */
  interfaceAddress?: string
  /**
   * Let the LAN transport redial dropped links itself (its own fixed ladder). Default false: the
   * orchestrator's background loop is the one owner of redial (started by the daemon, or by
   * `node.orchestrator.start()`), so the two never dial the same device on different schedules.
   */
  reconnect?: boolean
  /** TCP redial delays, used only with `reconnect: true` (tests). */
  backoff?: number[]
  /**
   * Keep a live link to every member in the background (the orchestrator's loop: `orchestrator.start()`
   * at start). Default true when listening, as the transport's own redial was before.
   */
  background?: boolean
  /** The orchestrator's redial loop: backoff ceilings (ms), how often it sweeps for dropped links, the random draw (tests). */
  orchestrator?: { backoff?: { baseMs?: number; capMs?: number }; sweepMs?: number; random?: () => number }
  /** Where discovery saw a device (the daemon's mDNS); hints only. */
  discovered?: (deviceId: DeviceId) => { addresses: readonly string[]; port?: number | undefined } | undefined
  logger?: Logger
  now?: () => number
}

/** A running device: the engine with its adapters. */
export interface OrbitNode {
  readonly device: OrbitDevice
  /** The sync store (zustand, vanilla): sessions of every tier, peers, the derived status. */
  readonly store: SyncStore
  readonly policy: MembershipPolicy
  readonly recorder: SessionRecorder
  /** Which documents a LAN session needs loaded (the peer's hello summary against doc_heads). */
  readonly loader: DocLoader
  readonly lan: LanTier
  readonly webrtc: WebRtcTier
  readonly qr: QrTier
  /** The tiers, by priority. */
  readonly tiers: readonly Tier[]
  /**
   * Chooses the tier per device, falls back in order, and (once started) keeps a live link to
   * every member with capped exponential backoff (src/core/engine/orchestrator.ts).
   */
  readonly orchestrator: Orchestrator
  readonly pairing: PairingAdmission
  /**
   * Images peer to peer (src/apps/node/blobs.ts): one exchange over the LAN and WebRTC links, which
   * fetches every referenced image this device lacks after each sync; its progress is the store's `blobs`.
   */
  readonly blobs: NodeBlobs
  /** What commands ask; the same interface a daemon serves over its control socket. */
  readonly api: OrbitApi
  /** Where LAN connections are accepted, once listening. */
  readonly listenAddress: { host: string; port: number } | undefined
  /** Calls `listener` on every sync store change; returns the unsubscribe function. */
  subscribe(listener: (state: SyncStoreState) => void): () => void
  /**
   * One session with a member (id or prefix) through the orchestrator (`via` 'auto' by default:
   * the best tier that works, the others reported as `skipped`), a LAN session with `host:port`, or
   * — no target — one session with every member, each through the orchestrator.
   * @throws WireError `NO_PEER` (no target and no member), `NOT_MEMBER`; UnknownIdError for an unknown device.
   */
  sync(target?: string, timeoutMs?: number, via?: 'auto' | SyncMethod): Promise<SyncReport | { sessions: SyncReport[] }>
  createInvite(ttlMs?: number): Promise<InviteInfo>
  /** Idempotent: closes every link, flushes and closes the device. */
  stop(): Promise<void>
}

/**
 * Opens (or, with `init`, creates) the device in `dataDir` and starts its engine.
 * @throws StoreError (`NOT_INITIALISED`, the store's refusals), WireError `LISTEN_FAILED`.
 */
export async function createOrbitNode(options: OrbitNodeOptions): Promise<OrbitNode> {
  if (options.init !== undefined) {
    try {
      await initDevice(options.dataDir, { name: options.init.name, ...(options.init.workspaceName === undefined ? {} : { workspaceName: options.init.workspaceName }), ...(options.now === undefined ? {} : { now: options.now }) })
    } catch (error) {
      if (!(error instanceof StoreError && error.code === 'ALREADY_INITIALISED')) throw error
    }
  }
  const logger = options.logger ?? silentLogger
  // The node is the data dir's one writer while it runs (src/apps/node/writer-lock.ts): a command
  // that opened the store itself while no daemon ran finishes — flushed — before this loads a
  // document, or it would never see that command's write.
  const unlock = await lockWriters(options.dataDir)
  let device: OrbitDevice
  try {
    device = await openDevice(options.dataDir, { logger, ...(options.now === undefined ? {} : { now: options.now }) })
  } catch (error) {
    unlock()
    throw error
  }
  try {
    // No shard is loaded here: a peer's hello summary says which ones a sync needs (DocLoader).
    const node = new Node(device, options, logger, unlock)
    await node.start()
    return node
  } catch (error) {
    await device.close().catch(() => undefined)
    unlock()
    throw error
  }
}

class Node implements OrbitNode {
  readonly store: SyncStore
  readonly policy: MembershipPolicy
  readonly recorder: SessionRecorder
  readonly lan: LanTier
  readonly webrtc: WebRtcTier
  readonly qr: QrTier
  readonly tiers: readonly Tier[]
  readonly orchestrator: Orchestrator
  readonly pairing: PairingAdmission
  readonly blobs: NodeBlobs
  readonly api: OrbitApi
  readonly loader: DocLoader
  listenAddress: { host: string; port: number } | undefined
  readonly #now: () => number
  readonly #local: LocalApi
  readonly #off: Array<() => void> = []
  #stopping: Promise<void> | undefined
  /** Shards being loaded for a joiner ({@link Node.createInvite}), one at a time. */
  #warming: Promise<void> | undefined
  readonly #log: Logger

  constructor(
    readonly device: OrbitDevice,
    readonly options: OrbitNodeOptions,
    logger: Logger,
    private readonly unlockWriters: () => void,
  ) {
    this.#now = options.now ?? Date.now
    this.#log = logger
    this.store = createSyncStore({ localDeviceId: device.identity.deviceId, now: this.#now })
    this.recorder = deviceSyncState(device).recorder(this.store, logger)
    this.pairing = new PairingAdmission({
      device,
      addresses: () => (this.listenAddress === undefined ? [] : advertisedAddresses(this.listenAddress.host, this.listenAddress.port, options.interfaceAddress)),
      onPaired: (peer) => this.store.getState().upsertPeer(peer),
      logger,
      now: this.#now,
    })
    // One policy for every tier: members sync, an unknown device may pair while an invite is pending.
    this.policy = membershipPolicy(device.workspace, { pairingOpen: () => this.pairing.isOpen() })
    this.loader = workspaceDocLoader(device.repo, device.workspace, new DocHeadsStore(device.db), logger)
    this.lan = new LanTier({
      device,
      loader: this.loader,
      policy: this.policy,
      share: workspaceDocIds(device.workspace.rootUrl, device.workspace.shardUrls),
      recorder: this.recorder,
      ...(options.listen === undefined ? {} : { listen: options.listen, onPairingSession: (conn) => void this.pairing.answer(conn) }),
      ...(options.discovered === undefined ? {} : { discovered: options.discovered }),
      // One owner of redial: the orchestrator's loop (see OrbitNodeOptions.reconnect).
      reconnect: options.reconnect ?? false,
      ...(options.backoff === undefined ? {} : { transport: { backoff: options.backoff } }),
      logger,
      now: this.#now,
    })
    // ---- mesh signalling (docs/protocol/mesh.md): a listening node (the daemon) relays signals between the
    // members it links and answers relayed offers by itself; a one-shot node does neither.
    const linkedElsewhere = (id: DeviceId): boolean => this.lan.isConnected(id)
    // Every WebRTC link (a session's, a kept one's) carries images too (src/apps/node/blobs.ts).
    const blobs = (adapter: WebRtcNetworkAdapter): SessionBlobs => this.blobs.attachLink(adapter)
    const run = { logger, now: this.#now, blobs }
    const mesh =
      options.listen === undefined
        ? undefined
        : new Mesh({ device, policy: this.policy, ports: [this.lan.tcp.signalPort()], linkedElsewhere, recorder: this.recorder, run, logger, now: this.#now })
    this.webrtc = new WebRtcTier({ device, policy: this.policy, recorder: this.recorder, run, share: false, ...(mesh === undefined ? {} : { mesh }), linkedElsewhere })
    this.qr = new QrTier({ device, policy: this.policy, recorder: this.recorder })
    this.tiers = [this.lan, this.webrtc, this.qr]
    const me = device.identity.deviceId
    const o = options.orchestrator ?? {}
    this.orchestrator = new Orchestrator({
      tiers: this.tiers,
      members: () => this.policy.peers(me),
      isMember: (id) => this.policy.isMember(id) && id !== me,
      ...(o.backoff === undefined ? {} : { backoff: o.backoff }),
      ...(o.sweepMs === undefined ? {} : { sweepMs: o.sweepMs }),
      ...(o.random === undefined ? {} : { random: o.random }),
      logger,
      now: this.#now,
    })
    this.blobs = new NodeBlobs({
      device,
      store: this.store,
      isMember: (id) => this.policy.isMember(id) && id !== me,
      ports: [this.lan.tcp.blobPort()],
      createExchange: (o: NodeBlobExchangeOptions) => new BlobExchange({ ...o, store: device.blobs }),
      // GC: when each other member last finished a document sync with us (the session history, every tier).
      gc: {
        store: device.blobs,
        memberSyncs: () => {
          const history = deviceSyncState(device).history
          return new Map(
            this.policy.peers(me).map((id) => {
              const last = history.list({ deviceId: id, limit: 50 }).find((e) => e.status === 'completed')
              return [id, last?.endedAt] as const
            }),
          )
        },
      },
      // A received blob's first chunk must be an image (type and dimensions decode), or that copy is refused.
      validateHead: (head) => void inspectImage(head, 'blob'),
      logger,
      now: this.#now,
    })
    this.#local = localApi(device, { recorder: this.recorder, logger, shared: true, blobs })
    this.api = {
      ...this.#local,
      blobs: (query) => this.blobs.status(query),
      fetchBlobs: () => this.blobs.fetchMissing(),
      blobLimit: async (maxBytes) => this.blobs.limit(maxBytes),
      sync: ({ target, timeoutMs, via }) => this.sync(target, timeoutMs, via),
      createInvite: (ttlMs) => this.createInvite(ttlMs),
    }
  }

  async start(): Promise<void> {
    // A revocation (here or replicated from another member) drops that device at once.
    this.#off.push(this.device.workspace.onRootChanged(() => this.lan.enforce()))
    // A dropped LAN link goes back to the orchestrator's loop (the transport does not redial).
    this.#off.push(this.lan.tcp.on2('device-disconnected', (e) => this.orchestrator.linkDown(e.deviceId)))
    this.blobs.start()
    if (this.options.listen === undefined) {
      if (this.options.background === true) this.orchestrator.start()
      return
    }
    try {
      this.listenAddress = (await this.lan.listen()) ?? this.options.listen
    } catch (error) {
      const where = formatHostPort(this.options.listen.host, this.options.listen.port)
      throw new WireError(`cannot listen on ${where}: ${(error as Error).message}; is another device serving there? Choose another with --listen HOST:PORT`, {
        code: 'LISTEN_FAILED',
        cause: error,
      })
    }
    if (this.options.background !== false) this.orchestrator.start()
  }

  subscribe(listener: (state: SyncStoreState) => void): () => void {
    return this.store.subscribe((state) => listener(state))
  }

  createInvite(ttlMs?: number): Promise<InviteInfo> {
    if (this.listenAddress === undefined) {
      return Promise.reject(new ValidationError('this node does not listen, so no joiner could reach it: start it with `listen`', { field: 'listen' }))
    }
    return this.pairing.createInvite(ttlMs).then((invite) => {
      this.#warmForJoiner()
      return invite
    })
  }

  /**
   * Loads every shard now, one at a time, while the invite waits to be used: a joiner asks for
   * all of them at once, and a shard loaded on its request is a load it waits for (most of a 10k
   * `pair join`'s wait was the inviting device loading its shards; docs/protocol/storage.md). They
   * stay loaded, as after any full sync; a failed load is only logged (the joiner's request
   * loads it again).
   */
  #warmForJoiner(): void {
    if (this.#warming !== undefined || this.#stopping !== undefined) return
    const ws = this.device.workspace
    this.#warming = (async () => {
      for (let n = 0; n < ws.shardCount && this.#stopping === undefined; n++) {
        if (ws.isShardLoaded(n)) continue
        try {
          await ws.shardHandle(n)
        } catch (error) {
          this.#log.debug('could not load a shard ahead of a join', { shard: n, error: String(error) })
        }
      }
    })().finally(() => (this.#warming = undefined))
  }

  async sync(target: string | undefined, timeoutMs = DEFAULT_SYNC_TIMEOUT_MS, via: 'auto' | SyncMethod = 'auto'): Promise<SyncReport | { sessions: SyncReport[] }> {
    const mark = this.blobs.fetchedMark()
    const result = await this.#sync(target, timeoutMs, via)
    // A LAN session over a link that stays up is otherwise in the history only when the link
    // closes (its row covers the link's life): an asked-for session is its own row at once.
    // WebRTC and QR sessions record themselves.
    const reports = 'sessions' in result ? result.sessions : [result]
    for (const report of reports) if (report.method === 'local-network') this.recorder.record(report)
    // The images the synced documents reference come with the sync (`orbit sync` reports them).
    if (!reports.some((r) => r.status === 'completed')) return result
    const fetched = await this.blobs.fetchMissing()
    // What came during this sync, whichever fetch got it (one a link's arrival started may win).
    const blobs: SyncBlobs = { fetched: this.blobs.fetchedSince(mark).length, failed: fetched.failed.length, ...(fetched.failed.length === 0 ? {} : { failures: fetched.failed }) }
    const withBlobs: (SyncReport | { sessions: SyncReport[] }) & { blobs: SyncBlobs } = { ...result, blobs }
    return withBlobs
  }

  async #sync(target: string | undefined, timeoutMs: number, via: 'auto' | SyncMethod): Promise<SyncReport | { sessions: SyncReport[] }> {
    if (target !== undefined) {
      if (/:\d+$/.test(target)) {
        // An address is the LAN's by definition (`manual` of the roadmap).
        if (via !== 'auto' && via !== 'local-network') throw new ValidationError(`HOST:PORT is a LAN address; it cannot be reached --via ${via}`, { field: 'via' })
        const { host, port } = parseHostPort(target, 'target')
        return this.lan.sessionAt(host, port, { timeoutMs })
      }
      return this.orchestrator.sync(resolveMember(this.device, target), { via, timeoutMs })
    }
    const members = this.policy.peers(this.device.identity.deviceId)
    if (members.length === 0) {
      throw new WireError('no paired device is reachable: pair one (`orbit pair invite`), or give its address (`orbit sync HOST:PORT`)', { code: 'NO_PEER' })
    }
    const sessions = await Promise.all(members.map((d) => this.orchestrator.sync(d, { via, timeoutMs })))
    return { sessions }
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop()
    return this.#stopping
  }

  async #stop(): Promise<void> {
    for (const off of this.#off.splice(0)) off()
    // A shard load in flight finishes before the store closes (the loop stops after it).
    await this.#warming
    await this.orchestrator.stop()
    await this.blobs.close()
    await this.#local.close()
    await this.webrtc.close()
    await this.qr.close()
    await this.lan.close()
    await settleSyncStateSaves()
    try {
      await this.device.close()
    } finally {
      this.unlockWriters()
    }
  }
}

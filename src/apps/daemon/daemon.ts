/**
 * `orbit serve`: one device kept online — the engine of createOrbitNode (src/apps/node/orbit-node.ts)
 * plus what only a long-running process does (docs/architecture.md, "The daemon"):
 *
 * 1. take the data dir's lock (one writer per data dir),
 * 2. open the device and start its node: the LAN tier listening (every connection asks the
 *    membership policy), pairing admission while an invite is pending, sessions into the sync store,
 * 3. serve the CLI on the control socket (control-socket.ts, control-server.ts),
 * 4. record the listen address in the lock,
 * 5. serve the web UI and its API on HTTP (src/apps/daemon/http/, docs/protocol/http.md), loopback
 *    only unless exposed on purpose,
 * 6. start the dial policy: mDNS discovery, remembered addresses, the periodic tick (dial-policy.ts).
 *
 * `stop()` (SIGINT/SIGTERM) reverses it: mDNS goodbye, links closed, device flushed and closed,
 * socket and lock removed.
 *
 * `join(code)` (the UI's `pair/join`, the `pair.join` op) swaps the node: it stops the node, runs
 * `joinWorkspace` on the data dir with the lock let go (join.ts refuses while a daemon holds it),
 * takes the lock again and starts a new node on the same address. The control socket and the HTTP
 * server stay up and reach the node through a getter, so they serve the new one.
 */
import { OrbitError, StoreError } from '../../core/errors.js'
import type { Logger } from '../../core/log.js'
import { silentLogger } from '../../core/log.js'
import type { SyncStore } from '../../core/sync/store.js'
import type { CountingNetworkAdapter } from '../../core/sync/counting.js'
import type { SyncReport } from '../../core/engine/sync-session.js'
import type { TcpNetworkAdapter } from '../../adapters/transport-tcp/index.js'
import type { DeviceRow, InviteInfo, OrbitApi, PeerRow, WebRtcApi } from '../node/api.js'
import { warmShardForNewContacts } from '../node/api.js'
import type { OrbitDevice } from '../node/device.js'
import { formatHostPort } from '../node/known-peers.js'
import { listDeviceRows } from '../node/members.js'
import { acquireDaemonLock, controlSocketPath } from '../node/lock.js'
import { createOrbitNode, type OrbitNode } from '../node/orbit-node.js'
import { readPendingJoin } from '../node/pair-offline.js'
import type { JoinOptions, JoinResult } from '../node/join.js'
import { DEFAULT_MAX_BLOB_BYTES } from '../../core/blobs/port.js'
import { HttpError } from './http/errors.js'
import { ensureUiSecret } from './http/secret.js'
import { nodeEvents } from './http/node-events.js'
import type { HttpTarget } from './http/routes.js'
import { startHttpServer, type HttpServer } from './http/server.js'
import { handleControlLine } from './control-server.js'
import { listenControl, type ControlSocket } from './control-socket.js'
import { DialPolicy } from './dial-policy.js'
import { peerRows, trackConnectedPeers } from './peers-view.js'

export type { DeviceRow, InviteInfo, PeerRow } from '../node/api.js'
export { DEFAULT_SYNC_TIMEOUT_MS } from '../node/tiers/lan-tier.js'

/** Default TCP port of `orbit serve` (`--listen 0.0.0.0:7878`). */
export const DEFAULT_PORT = 7878

export interface DaemonOptions {
  dataDir: string
  /** Where to accept TCP connections. Default `0.0.0.0:7878`. */
  listen?: { host: string; port: number }
  /**
   * `--interface IP|NAME`: mDNS on this interface only, and its address in invites. Default: every
   * usable interface (up, multicast, private IPv4), followed as they change; a specific listen host
   * means its interface, a loopback one means discovery off (src/apps/daemon/discovery.ts).
   */
  interface?: string
  /** The same as `interface`, an IPv4 address (the older name). */
  interfaceAddress?: string
  /** Advertise and browse mDNS. Default true; false is `--no-mdns`. */
  mdns?: boolean
  /** mDNS UDP port (tests). Default 5353. */
  mdnsPort?: number
  /** How often discovery polls the interfaces for changes. Default 3000 ms. */
  mdnsPollIntervalMs?: number
  logger?: Logger
  now?: () => number
  /** Drop discovered peers not seen for this long. Default 5 minutes. */
  peerExpiryMs?: number
  /** TCP redial delays (tests). */
  backoff?: number[]
  /**
   * Serve the web UI and its API here (`--http HOST:PORT`, port 0 picks one). Default: none (a
   * library daemon); `orbit serve` passes 127.0.0.1:7879 with `fallback`. A non-loopback host
   * needs `expose` (`--http-expose`). With `fallback`, a taken port falls back to any free one
   * (two daemons on one machine), and {@link DaemonUi.note} says so.
   */
  http?: { host: string; port: number; expose?: boolean; fallback?: boolean }
  /** Folder of the built page (tests). Default `<package root>/dist/web`. */
  webRoot?: string
}

/** Where the daemon serves its web UI (`orbit ui`, op `ui.url`). */
export interface DaemonUi {
  /** The secret link: `http://127.0.0.1:PORT/?secret=…`. */
  url: string
  host: string
  port: number
  /** Whether it is reachable beyond loopback (`--http-expose`), and at which `Host` values. */
  exposed: boolean
  hosts: string[]
  /** Whether `dist/web` was found (else the page says the UI was not built; the API works). */
  built: boolean
  /** Why the address differs from the one asked for (the default port was taken). */
  note?: string
}

export interface Daemon {
  /** The running node (a new one after {@link Daemon.join}); each field below reads it anew. */
  readonly node: OrbitNode
  readonly device: OrbitDevice
  readonly store: SyncStore
  readonly tcp: TcpNetworkAdapter
  readonly counting: CountingNetworkAdapter
  /** WebRTC offers held for `orbit webrtc accept`, answers, and their background sessions. */
  readonly webrtc: WebRtcApi
  /** What the control socket serves: the node's API with the daemon's view of peers. */
  readonly api: OrbitApi
  readonly controlPath: string
  /** Where TCP is bound. */
  readonly listenAddress: { host: string; port: number }
  /** The web UI's address and secret link, or undefined without HTTP. */
  ui(): DaemonUi | undefined
  createInvite(ttlMs?: number): Promise<InviteInfo>
  listDevices(): DeviceRow[]
  revokeDevice(id: string): Promise<DeviceRow>
  peers(): PeerRow[]
  /** One session with `target` (device id/prefix or host:port), or with every reachable member. */
  sync(target: string | undefined, timeoutMs?: number): Promise<SyncReport | { sessions: SyncReport[] }>
  /**
   * Joins the workspace of an invite (`orbit pair join` with this daemon running): stops the node,
   * joins, starts a new node on the same address — also when the join fails (then it rethrows).
   * @throws PairingError / StoreError / WireError of join.ts; StoreError `BUSY` while one runs.
   */
  join(code: string, options?: Pick<JoinOptions, 'address' | 'timeoutMs'>): Promise<JoinResult>
  status(): Record<string, unknown>
  /** Idempotent; resolves once everything is closed and the lock is released. */
  stop(): Promise<void>
  /** Resolves once the daemon stopped: by `stop()`, or by itself when a node restart after a join failed. */
  readonly closed: Promise<void>
}

/** One node of the daemon with what is built around it: replaced whole by a join. */
interface Running {
  node: OrbitNode
  dial: DialPolicy
  api: OrbitApi
  listenAddress: { host: string; port: number }
  off: Array<() => void>
}

/** While a join swaps the node: what the control socket and the UI answer meanwhile. */
const restarting = (): OrbitError => new HttpError(503, 'RESTARTING', 'the device is joining a workspace and restarting; try again in a moment')

/**
 * Starts the daemon on an initialised data dir.
 * @throws StoreError `DAEMON_RUNNING` (another daemon holds the lock), `NOT_INITIALISED`, the
 *   store's refusals; WireError `LISTEN_FAILED` when the TCP (or HTTP) port cannot be bound,
 *   `HTTP_EXPOSE_REQUIRED` for a non-loopback HTTP host without `expose`.
 */
/** How long after start the daemon loads the shard for new contacts (past its first requests). */
const WARM_SHARD_AFTER_MS = 1000

export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const log = (options.logger ?? silentLogger).forComponent('orbit:daemon')
  const now = options.now ?? Date.now
  const listen = options.listen ?? { host: '0.0.0.0', port: DEFAULT_PORT }
  const controlPath = controlSocketPath(options.dataDir)
  // 1. the lock
  let lock = acquireDaemonLock(options.dataDir, { control: controlPath, startedAt: now() })
  let current: Running | undefined
  let control: ControlSocket | undefined
  let http: HttpServer | undefined
  let ui: DaemonUi | undefined
  let joining: Promise<unknown> | undefined
  let stopping: Promise<void> | undefined
  const running = (): Running => {
    if (current === undefined) throw restarting()
    return current
  }

  const stopRunning = async (r: Running | undefined): Promise<void> => {
    if (r === undefined) return
    await r.dial.stop()
    for (const f of r.off.splice(0)) f()
    await r.node.stop()
  }

  /** 2. the node: device, engine, LAN tier listening; its dial policy (started by the caller). */
  const startRunning = async (at: { host: string; port: number }): Promise<Running> => {
    // `discovered` may be asked before createOrbitNode returns: it reads the node once there is one.
    const made: { node?: OrbitNode } = {}
    const n = (made.node = await createOrbitNode({
      dataDir: options.dataDir,
      listen: at,
      ...((options.interface ?? options.interfaceAddress) === undefined ? {} : { interfaceAddress: (options.interface ?? options.interfaceAddress)! }),
      ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
      discovered: (deviceId) => made.node?.store.getState().discoveredPeers[deviceId],
      logger: options.logger ?? silentLogger,
      now,
    }))
    const off = [trackConnectedPeers(n, now)]
    const dial = new DialPolicy(n, {
      ...(options.mdns === undefined ? {} : { mdns: options.mdns }),
      ...(options.interface === undefined ? {} : { interface: options.interface }),
      ...(options.interfaceAddress === undefined ? {} : { interfaceAddress: options.interfaceAddress }),
      ...(options.mdnsPort === undefined ? {} : { mdnsPort: options.mdnsPort }),
      ...(options.mdnsPollIntervalMs === undefined ? {} : { pollIntervalMs: options.mdnsPollIntervalMs }),
      ...(options.peerExpiryMs === undefined ? {} : { peerExpiryMs: options.peerExpiryMs }),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
      now,
    })
    const api: OrbitApi = {
      ...n.api,
      where: 'daemon',
      peers: async () => peerRows(n),
      async qrImport(bundle, o) {
        // Adopting the inviter's workspace (an offline join's first bundle) replaces what this
        // process serves: it happens with the daemon stopped (docs/protocol/pairing.md).
        if (readPendingJoin(n.device.config) !== undefined) {
          throw new StoreError(
            `this device is completing an offline join; stop \`orbit serve\` on ${options.dataDir}, run \`orbit qr import\`, then start it again`,
            { code: 'DAEMON_RUNNING' },
          )
        }
        return n.api.qrImport(bundle, o)
      },
      async revokeDevice(id) {
        const row = await n.api.revokeDevice(id)
        n.lan.drop(row.id as never)
        const state = n.store.getState()
        const peer = state.discoveredPeers[row.id]
        if (peer !== undefined) state.upsertPeer({ ...peer, paired: false, revoked: true })
        return row
      },
    }
    // After the daemon answers: the shard the next `contact add` goes to, so it loads none (api.ts).
    const warm = setTimeout(() => void warmShardForNewContacts(n.device, log), WARM_SHARD_AFTER_MS)
    off.push(() => clearTimeout(warm))
    return { node: n, dial, api, listenAddress: n.listenAddress ?? at, off }
  }

  const status = (): Record<string, unknown> => {
    const { node: n, dial: d, listenAddress } = running()
    return {
      pid: process.pid,
      deviceId: n.device.identity.deviceId,
      deviceName: n.device.deviceName,
      listen: formatHostPort(listenAddress.host, listenAddress.port),
      // { interfaces: [{ name, address }], pinned?, reason? } while on (reason: waiting for one), { off } when off.
      mdns: d.mdnsStatus(),
      status: n.store.getState().status,
      currentMethod: n.store.getState().currentMethod,
      lastSyncTimestamp: n.store.getState().lastSyncTimestamp,
      connected: n.lan.connected(),
      activeSessions: Object.values(n.store.getState().activeSessions),
      recentSessions: n.store.getState().recentSessions.slice(0, 10),
      pendingInvites: n.pairing.pending(),
      // Documents in memory (the root, and only the shards something needed): see DocLoader.
      loadedDocuments: Object.keys(n.device.repo.handles).length,
      // { state: 'ok' } or { state: 'disk-full', since, retries, nextRetryAt, ... }: docs/architecture.md, "Disk full".
      storage: n.device.storage.health,
      ...(ui === undefined ? {} : { http: { host: ui.host, port: ui.port, exposed: ui.exposed } }),
    }
  }

  const httpTarget: HttpTarget = {
    get api() {
      return running().api
    },
    get node() {
      return running().node
    },
    status,
  }

  const join = (code: string, o: Pick<JoinOptions, 'address' | 'timeoutMs'> = {}): Promise<JoinResult> => {
    if (joining !== undefined) return Promise.reject(new StoreError('a join is already running on this device', { code: 'BUSY' }))
    if (stopping !== undefined) return Promise.reject(restarting())
    const run = (async () => {
      const at = running().listenAddress
      // What can be refused without the store is refused before the node stops: a malformed or
      // expired code, this device's own invite, a workspace it is in already, data of its own.
      const { assertInviteUsable, parseInviteCode } = await import('../../core/pairing/index.js')
      const { assertMayJoin } = await import('../node/join-rules.js')
      const invite = parseInviteCode(code)
      assertInviteUsable(invite, now())
      const n = running().node
      await assertMayJoin(n.device.workspace, n.device.identity.deviceId, invite, 'pair join CODE', '; it syncs by itself while `orbit serve` runs')
      http?.attach(undefined)
      const old = current
      current = undefined
      await stopRunning(old)
      // join.ts opens the store itself and refuses while a daemon holds the lock: let it go meanwhile.
      lock.release()
      let result: JoinResult | undefined
      let failure: unknown
      try {
        const { joinWorkspace } = await import('../node/join.js')
        result = await joinWorkspace(options.dataDir, code, { ...o, ...(options.logger === undefined ? {} : { logger: options.logger }), now })
      } catch (error) {
        failure = error
      }
      let next: Running
      try {
        lock = acquireDaemonLock(options.dataDir, { control: controlPath, startedAt: now() })
        next = await startRunning(at)
      } catch (error) {
        // No node to serve (the port taken meanwhile, another daemon took the lock): stop for good.
        log.error('cannot start the node again after a join; stopping', { error: String(error) })
        void stop()
        throw error
      }
      current = next
      lock.update({ listen: formatHostPort(next.listenAddress.host, next.listenAddress.port), deviceId: next.node.device.identity.deviceId })
      http?.attach(nodeEvents(httpTarget))
      await next.dial.start()
      log.info('node restarted after a join', { joined: failure === undefined })
      if (failure !== undefined) throw failure
      return result!
    })()
    joining = run
    return run.finally(() => (joining = undefined))
  }

  let closedResolve: () => void = () => undefined
  const closed = new Promise<void>((resolve) => (closedResolve = resolve))
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      // A join that is stopping us itself must not be awaited here.
      if (current !== undefined) await joining?.catch(() => undefined)
      await http?.close()
      control?.close()
      try {
        await stopRunning(current)
      } finally {
        lock.release()
        log.info('daemon stopped')
        closedResolve()
      }
    })())

  try {
    current = await startRunning(listen)
    const daemon: Daemon = {
      get node() {
        return running().node
      },
      get device() {
        return running().node.device
      },
      get store() {
        return running().node.store
      },
      get tcp() {
        return running().node.lan.tcp
      },
      get counting() {
        return running().node.lan.counting
      },
      get webrtc() {
        return running().api.webrtc
      },
      get api() {
        return running().api
      },
      controlPath,
      get listenAddress() {
        return running().listenAddress
      },
      ui: () => ui,
      createInvite: (ttlMs) => running().node.createInvite(ttlMs),
      listDevices: () => listDeviceRows(running().node.device),
      revokeDevice: (id) => running().api.revokeDevice(id),
      peers: () => peerRows(running().node),
      sync: (target, timeoutMs) => running().node.sync(target, timeoutMs),
      join,
      status,
      stop,
      closed,
    }
    // 3. the control socket
    control = await listenControl(controlPath, (line) => handleControlLine(daemon, line))
    // 4. the lock says where we listen
    const first = running()
    lock.update({ listen: formatHostPort(first.listenAddress.host, first.listenAddress.port), deviceId: first.node.device.identity.deviceId })
    // 5. the web UI
    if (options.http !== undefined) {
      const h = options.http
      const secret = ensureUiSecret(first.node.device.config)
      const start = (port: number): Promise<HttpServer> =>
        startHttpServer({
          host: h.host,
          port,
          ...(h.expose === undefined ? {} : { expose: h.expose }),
          secret,
          ...(options.webRoot === undefined ? {} : { webRoot: options.webRoot }),
          target: () => httpTarget,
          join,
          maxBlobBytes: () => maxBlobBytes(running().node),
          events: nodeEvents(httpTarget),
          ...(options.logger === undefined ? {} : { logger: options.logger }),
        })
      let note: string | undefined
      try {
        http = await start(h.port)
      } catch (error) {
        const inUse = ((error as { cause?: { code?: string } }).cause?.code ?? '') === 'EADDRINUSE'
        if (h.fallback !== true || !inUse || h.port === 0) throw error
        http = await start(0)
        note = `port ${h.port} is taken (another orbit serve?), so any free port was chosen`
      }
      ui = {
        url: http.url,
        host: http.address.host,
        port: http.address.port,
        exposed: h.expose === true,
        hosts: [...http.hosts],
        built: http.built,
        ...(note === undefined ? {} : { note }),
      }
    }
    // 6. discovery and dialling
    await first.dial.start()
    log.info('daemon started', { listen: first.listenAddress, control: controlPath, http: ui?.port })
    return daemon
  } catch (error) {
    await stop().catch(() => undefined)
    throw error
  }
}

/** The image upload limit: config `blobs.maxBytes` when set to a positive whole number, else 10 MB. */
function maxBlobBytes(node: OrbitNode): number {
  const v = node.device.config.get('blobs.maxBytes')
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : DEFAULT_MAX_BLOB_BYTES
}

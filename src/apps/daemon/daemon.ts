/**
 * `orbit serve`: one device kept online — the engine of createOrbitNode (src/apps/node/orbit-node.ts)
 * plus what only a long-running process does (docs/architecture.md, "The daemon"):
 *
 * 1. take the data dir's lock (one writer per data dir),
 * 2. open the device and start its node: the LAN tier listening (every connection asks the
 *    membership policy), pairing admission while an invite is pending, sessions into the sync store,
 * 3. serve the CLI on the control socket (control-socket.ts, control-server.ts),
 * 4. record the listen address in the lock,
 * 5. start the dial policy: mDNS discovery, remembered addresses, the periodic tick (dial-policy.ts).
 *
 * `stop()` (SIGINT/SIGTERM) reverses it: mDNS goodbye, links closed, device flushed and closed,
 * socket and lock removed.
 */
import { StoreError } from '../../core/errors.js'
import type { Logger } from '../../core/log.js'
import { silentLogger } from '../../core/log.js'
import type { SyncStore } from '../../core/sync/store.js'
import type { CountingNetworkAdapter } from '../../core/sync/counting.js'
import type { SyncReport } from '../../core/engine/sync-session.js'
import type { TcpNetworkAdapter } from '../../adapters/transport-tcp/index.js'
import type { DeviceRow, InviteInfo, OrbitApi, PeerRow, WebRtcApi } from '../node/api.js'
import type { OrbitDevice } from '../node/device.js'
import { formatHostPort } from '../node/known-peers.js'
import { listDeviceRows } from '../node/members.js'
import { acquireDaemonLock, controlSocketPath } from '../node/lock.js'
import { createOrbitNode, type OrbitNode } from '../node/orbit-node.js'
import { readPendingJoin } from '../node/pair-offline.js'
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
}

export interface Daemon {
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
 *   store's refusals; WireError `LISTEN_FAILED` when the TCP port cannot be bound.
 */
export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const log = (options.logger ?? silentLogger).forComponent('orbit:daemon')
  const now = options.now ?? Date.now
  const listen = options.listen ?? { host: '0.0.0.0', port: DEFAULT_PORT }
  const controlPath = controlSocketPath(options.dataDir)
  // 1. the lock
  const lock = acquireDaemonLock(options.dataDir, { control: controlPath, startedAt: now() })
  let node: OrbitNode | undefined
  let control: ControlSocket | undefined
  let dial: DialPolicy | undefined
  const off: Array<() => void> = []
  let stopping: Promise<void> | undefined
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await dial?.stop()
      control?.close()
      for (const f of off.splice(0)) f()
      try {
        await node?.stop()
      } finally {
        lock.release()
        log.info('daemon stopped')
      }
    })())
  let daemon: Daemon | undefined
  try {
    // 2. the node: device, engine, LAN tier listening
    node = await createOrbitNode({
      dataDir: options.dataDir,
      listen,
      ...((options.interface ?? options.interfaceAddress) === undefined ? {} : { interfaceAddress: (options.interface ?? options.interfaceAddress)! }),
      ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
      discovered: (deviceId) => node?.store.getState().discoveredPeers[deviceId],
      logger: options.logger ?? silentLogger,
      now,
    })
    const n = node
    off.push(trackConnectedPeers(n, now))
    const listenAddress = n.listenAddress ?? listen
    dial = new DialPolicy(n, {
      ...(options.mdns === undefined ? {} : { mdns: options.mdns }),
      ...(options.interface === undefined ? {} : { interface: options.interface }),
      ...(options.interfaceAddress === undefined ? {} : { interfaceAddress: options.interfaceAddress }),
      ...(options.mdnsPort === undefined ? {} : { mdnsPort: options.mdnsPort }),
      ...(options.mdnsPollIntervalMs === undefined ? {} : { pollIntervalMs: options.mdnsPollIntervalMs }),
      ...(options.peerExpiryMs === undefined ? {} : { peerExpiryMs: options.peerExpiryMs }),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
      now,
    })
    const d = dial
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
    daemon = {
      node: n,
      device: n.device,
      store: n.store,
      tcp: n.lan.tcp,
      counting: n.lan.counting,
      webrtc: api.webrtc,
      api,
      controlPath,
      listenAddress,
      createInvite: (ttlMs) => n.createInvite(ttlMs),
      listDevices: () => listDeviceRows(n.device),
      revokeDevice: (id) => api.revokeDevice(id),
      peers: () => peerRows(n),
      sync: (target, timeoutMs) => n.sync(target, timeoutMs),
      status: () => ({
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
      }),
      stop,
    }
    const running = daemon
    // 3. the control socket
    control = await listenControl(controlPath, (line) => handleControlLine(running, line))
    // 4. the lock says where we listen
    lock.update({ listen: formatHostPort(listenAddress.host, listenAddress.port), deviceId: n.device.identity.deviceId })
    // 5. discovery and dialling
    await dial.start()
    log.info('daemon started', { listen: listenAddress, control: controlPath })
    return daemon
  } catch (error) {
    await stop().catch(() => undefined)
    throw error
  }
}

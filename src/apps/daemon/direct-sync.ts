/**
 * `orbit sync` without a daemon: open the device, connect to the peer over TCP (secure channel),
 * sync until both sides' heads match for every document (or the deadline), close. The peer must
 * be a member of this workspace; anything else is refused by the handshake.
 */
import type { PeerId } from '@automerge/automerge-repo'
import { OrbitError, WireError } from '../../core/errors.js'
import type { DeviceId } from '../../core/ids.js'
import { silentLogger, type Logger } from '../../core/log.js'
import { CountingNetworkAdapter } from '../../core/sync/counting.js'
import { TcpNetworkAdapter } from '../../adapters/transport-tcp/index.js'
import { openDevice, type OrbitDevice } from '../node/device.js'
import { formatHostPort, parseHostPort, readKnownPeers, rememberPeerAddress } from './known-peers.js'
import { PeerHeadsWatcher, reportLanSession, restrictSharing, settleSyncStateSaves, snapshotTraffic, workspaceDocIds, type SyncReport } from './sync-session.js'
import { DEFAULT_SYNC_TIMEOUT_MS, resolveMember } from './daemon.js'
import { DocHeadsStore } from '../../adapters/storage-sqlite/index.js'
import { workspaceDocLoader, type DocLoader } from '../../core/engine/doc-loader.js'

export interface DirectSyncOptions {
  /** `host:port`, or a member device id / prefix with a remembered address. */
  target: string
  timeoutMs?: number
  logger?: Logger
  signal?: AbortSignal
}

/** A TCP adapter wired into an open device's Repo, dial-only, members only. */
export interface DeviceLink {
  tcp: TcpNetworkAdapter
  counting: CountingNetworkAdapter
  watcher: PeerHeadsWatcher
  /** Dials and resolves when the member's session has joined the Repo. */
  connect(host: string, port: number, expected?: DeviceId): Promise<{ deviceId: DeviceId; peerId: PeerId }>
  close(): void
}

/**
 * Attaches a dial-only TCP transport to `device`'s Repo. `authorize` defaults to the workspace's
 * membership, `share` (the documents exchanged) to the workspace's documents. With `loader`, the
 * hello carries its summary and only documents that differ from the peer's are loaded and announced.
 */
export function linkDevice(
  device: Pick<OrbitDevice, 'identity' | 'deviceName' | 'repo' | 'workspace'>,
  options: { logger?: Logger; authorize?: (deviceId: DeviceId) => 'member' | 'refuse'; share?: ReadonlySet<string>; loader?: DocLoader } = {},
): DeviceLink {
  restrictSharing(device.repo, options.share ?? workspaceDocIds(device.workspace.rootUrl, device.workspace.shardUrls))
  const ungate = options.loader?.gateAnnouncements()
  const authorize = options.authorize ?? ((id: DeviceId) => (device.workspace.memberStatus(id) === 'member' ? 'member' : 'refuse'))
  const tcp = new TcpNetworkAdapter({
    identity: device.identity,
    authorize: (remote) => authorize(remote.deviceId),
    deviceName: device.deviceName,
    logger: options.logger ?? silentLogger,
    ...(options.loader === undefined ? {} : { summary: () => options.loader!.summary() }),
  })
  const offSummary = options.loader === undefined ? undefined : tcp.on2('peer-summary', (e) => void options.loader!.onPeerSummary(e.peerId, e.summary))
  const counting = new CountingNetworkAdapter(tcp)
  const watcher = new PeerHeadsWatcher(device.repo)
  device.repo.networkSubsystem.addNetworkAdapter(counting)
  return {
    tcp,
    counting,
    watcher,
    async connect(host, port, expected) {
      const deviceId = await tcp.dial(host, port, { reconnect: false, ...(expected === undefined ? {} : { expectedDeviceId: expected }) })
      const peerId = tcp.connectedDevices().find((c) => c.deviceId === deviceId)?.peerId
      if (peerId === undefined) throw new WireError(`the connection to ${formatHostPort(host, port)} closed at once`, { code: 'CLOSED' })
      return { deviceId, peerId }
    },
    close() {
      offSummary?.()
      ungate?.()
      watcher.close()
      tcp.disconnect()
    },
  }
}

/** Runs one session against `target` on the device in `dataDir`, then closes it. */
export async function syncDirect(dataDir: string, options: DirectSyncOptions): Promise<SyncReport> {
  const device = await openDevice(dataDir, options.logger === undefined ? {} : { logger: options.logger })
  let link: DeviceLink | undefined
  try {
    const targets = resolveTargets(device, options.target)
    // Loads only what the peer's hello summary shows differs (no shard is loaded up front).
    const loader = workspaceDocLoader(device.repo, device.workspace, new DocHeadsStore(device.db), options.logger)
    link = linkDevice(device, { loader, ...(options.logger === undefined ? {} : { logger: options.logger }) })
    const started = Date.now()
    let connected: { deviceId: DeviceId; peerId: PeerId; address: string } | undefined
    let lastError: unknown
    for (const t of targets) {
      try {
        connected = { ...(await link.connect(t.host, t.port, t.expected)), address: formatHostPort(t.host, t.port) }
        break
      } catch (error) {
        lastError = error
      }
    }
    if (connected === undefined) throw lastError instanceof OrbitError ? lastError : new WireError(String(lastError), { code: 'CONNECTION' })
    rememberPeerAddress(device.config, connected.deviceId, connected.address)
    const { deviceId, peerId, address } = connected
    // From zero: the link is new, and the sync may have begun before `connect` resolved.
    const before = { changesSent: 0, changesReceived: 0, bytesSent: 0, bytesReceived: 0 }
    const { tcp, counting, watcher } = link
    const current = () => snapshotTraffic(tcp, counting, deviceId, peerId)
    return await reportLanSession({ deviceId, address }, { before, current }, { started, now: Date.now }, async () => {
      const documents = await watcher.until(() => loader.sessionDocuments(peerId), peerId, {
        timeoutMs: options.timeoutMs ?? DEFAULT_SYNC_TIMEOUT_MS,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      })
      await device.flush()
      return documents
    })
  } finally {
    if (link !== undefined) {
      link.close()
      await settleSyncStateSaves()
    }
    await device.close()
  }
}

function resolveTargets(device: OrbitDevice, target: string): Array<{ host: string; port: number; expected?: DeviceId }> {
  if (/:\d+$/.test(target)) return [parseHostPort(target, 'target')]
  const id = resolveMember(device, target)
  const addresses = readKnownPeers(device.config)[id] ?? []
  if (addresses.length === 0) {
    throw new WireError(
      `no address is known for device ${id}; give one (\`orbit sync HOST:PORT\`), or start \`orbit serve\` so it can be discovered`,
      { code: 'UNREACHABLE' },
    )
  }
  return addresses.map((a) => ({ ...parseHostPort(a), expected: id }))
}

/**
 * `orbit sync` without a daemon: open the device, connect to the peer with the LAN tier (TCP in
 * the secure channel, dial-only), sync until both sides' heads match for every document (or the
 * deadline), close. The peer must be a member of this workspace; anything else is refused by the
 * handshake.
 */
import { OrbitError, WireError } from '../../core/errors.js'
import type { DeviceId } from '../../core/ids.js'
import type { Logger } from '../../core/log.js'
import { workspaceDocLoader } from '../../core/engine/doc-loader.js'
import { membershipPolicy } from '../../core/engine/membership.js'
import type { SessionRecorder } from '../../core/engine/session-recorder.js'
import { settleSyncStateSaves, workspaceDocIds, type SyncReport } from '../../core/engine/sync-session.js'
import { DocHeadsStore } from '../../adapters/storage-sqlite/index.js'
import { lockWriters, openDevice, type OrbitDevice } from './device.js'
import { parseHostPort, readKnownPeers } from './known-peers.js'
import { resolveMember } from './members.js'
import { DEFAULT_SYNC_TIMEOUT_MS, LanTier } from './tiers/lan-tier.js'

export interface DirectSyncOptions {
  /** `host:port`, or a member device id / prefix with a remembered address. */
  target: string
  timeoutMs?: number
  logger?: Logger
  signal?: AbortSignal
  /** Where the session is recorded (the embedding node's sync store). */
  recorder?: SessionRecorder
}

/** Runs one session against `target` on the device in `dataDir`, then closes it. */
export async function syncDirect(dataDir: string, options: DirectSyncOptions): Promise<SyncReport> {
  // The data dir's one writer for the session (writer-lock.ts): what it receives is stored before
  // a daemon starting meanwhile loads anything.
  const unlock = await lockWriters(dataDir)
  try {
    const device = await openDevice(dataDir, options.logger === undefined ? {} : { logger: options.logger })
    try {
      return await syncDirectOn(device, options)
    } finally {
      await device.close()
    }
  } finally {
    unlock()
  }
}

/** One session against `target` on an open device (its Repo must have no other transport). */
export async function syncDirectOn(device: OrbitDevice, options: DirectSyncOptions): Promise<SyncReport> {
  const targets = resolveTargets(device, options.target)
  // Loads only what the peer's hello summary shows differs (no shard is loaded up front).
  const loader = workspaceDocLoader(device.repo, device.workspace, new DocHeadsStore(device.db), options.logger)
  const tier = new LanTier({
    loader,
    device,
    policy: membershipPolicy(device.workspace),
    share: workspaceDocIds(device.workspace.rootUrl, device.workspace.shardUrls),
    ...(options.recorder === undefined ? {} : { recorder: options.recorder }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  })
  try {
    let lastError: unknown
    for (const t of targets) {
      try {
        const { deviceId } = await tier.dial(t.host, t.port, t.expected)
        // From zero: the link is new, and the sync may have begun before the dial resolved.
        return await tier.report(deviceId, {
          fromZero: true,
          timeoutMs: options.timeoutMs ?? DEFAULT_SYNC_TIMEOUT_MS,
          ...(options.signal === undefined ? {} : { signal: options.signal }),
        })
      } catch (error) {
        lastError = error
      }
    }
    throw lastError instanceof OrbitError ? lastError : new WireError(String(lastError), { code: 'CONNECTION' })
  } finally {
    await tier.close()
    await settleSyncStateSaves()
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

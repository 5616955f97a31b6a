/**
 * `OrbitApi`: what the CLI (and an embedding app) asks of a device, whether the device is open in
 * this process or held by a running `orbit serve` (docs/architecture.md, "One code path per
 * command"). {@link localApi} answers in-process over an open device; the daemon answers the same
 * interface, and src/apps/control/client.ts carries it over the control socket
 * (docs/protocol/control.md). A command is written once, against this interface.
 */
import { OrbitError, PairingError, UnknownIdError, ValidationError, WireError } from '../../core/errors.js'
import type { BlobHash, OrgId } from '../../core/ids.js'
import type { CrmWorkspace } from '../../core/model/workspace.js'
import { failedReport, type SyncReport } from '../../core/engine/sync-session.js'
import type { SyncMethod } from '../../core/sync/types.js'
import { settlingRecorder, type SessionRecorder, type SyncHistoryEntry } from '../../core/engine/session-recorder.js'
import type { Logger } from '../../core/log.js'
import type { OrbitDevice } from './device.js'
import type { DaemonWebRtc, WebRtcRunOptions } from './webrtc-sync.js'
import { listDeviceRows, resolveMember, revokeOn, type DeviceRow } from './members.js'
import { WORKSPACE_METHODS, type WorkspaceMethod } from './api-methods.js'
import { deviceSyncState, peerSyncView, type PeerSyncView } from './sync-state.js'
import { readKnownPeers } from './known-peers.js'
import { exportQrBundle, importQrBundle, type QrExportResult, type QrImportResult } from './qr-sync.js'
import { acceptOfflineJoinOn, createOfflineInviteOn, type OfflineAccept, type OfflineInvite } from './pair-offline.js'
import { blobStatusOn, readBlobLimit, writeBlobLimit, type BlobQuery, type BlobStatus, type NodeBlobFetchResult } from './blobs.js'
import { addHostAddress, addIceSpec, clearHostAddresses, clearIceSpecs, readHostAddresses, readIceSpecs } from './webrtc-config.js'

export type { DeviceRow } from './members.js'
export type { BlobItem, BlobQuery, BlobStatus, BlobUse, NodeBlobFetchResult } from './blobs.js'
export { READ_METHODS, WORKSPACE_METHODS, type WorkspaceMethod } from './api-methods.js'
export type { PeerSyncView } from './sync-state.js'
export type { SyncHistoryEntry } from '../../core/engine/session-recorder.js'
export type { OfflineAccept, OfflineInvite } from './pair-offline.js'

/** A change to a stored WebRTC list (`orbit webrtc ice|host add|clear`); none = just read it. */
export interface WebRtcListChange {
  add?: string
  clear?: boolean
}

/** Applies `change` to a stored list and returns the list after it. */
function changeList(change: WebRtcListChange, read: () => string[], add: (value: string) => string[], clear: () => void): string[] {
  if (change.clear === true) clear()
  if (change.add !== undefined) return add(change.add)
  return read()
}

/** The workspace's typed change API, every method asynchronous (it may run in another process). */
export type WorkspaceApi = {
  [M in WorkspaceMethod]: (...args: Parameters<CrmWorkspace[M]>) => Promise<Awaited<ReturnType<CrmWorkspace[M]>>>
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
  /** The tier of its live link, when connected: the LAN, or a WebRTC link (set up through a relay member or by codes). */
  link?: 'local-network' | 'webrtc'
  discovered: boolean
  /**
   * What it is known to hold against what this device holds, from heads learnt on any tier
   * (src/core/engine/peer-state.ts): in sync, N documents behind / ahead, or unknown; the tier and
   * time of that knowledge; for any state but in sync, the reason (the orchestrator's condition
   * when a daemon runs one).
   */
  sync: PeerSyncView
}

/** `orbit sync history`: newest first, at most `limit` (default 20), of one device (id or unique prefix) or all. */
export interface SyncHistoryQuery {
  device?: string
  limit?: number
}

/** Largest `limit` of a history query. */
export const SYNC_HISTORY_QUERY_MAX = 10_000

/** What `orbit pair invite` prints. */
export interface InviteInfo {
  code: string
  expiresAt: number
  addresses: string[]
  inviter: { deviceId: string; name: string }
  workspace: { id: string; name: string }
}

/** What `orbit qr import` applied, and the reply bundle when one was asked for. */
export interface QrImportOutcome {
  imported: QrImportResult
  replyBundle?: Uint8Array
}

/**
 * WebRTC sessions whose offer or answer this side holds until the other code comes back: held by
 * the daemon while `orbit serve` runs, else by the command's own process while it waits.
 */
export type WebRtcApi = Pick<DaemonWebRtc, 'offer' | 'accept' | 'acceptAndWait' | 'answer' | 'answered' | 'cancel'>

/** What a command may ask of a device, in-process or through its daemon. */
export interface OrbitApi {
  /** Who answers: this process, or the `orbit serve` holding the data dir. */
  readonly where: 'in-process' | 'daemon'
  readonly workspace: WorkspaceApi
  /** @throws UnknownIdError('organization') unless `id` names a live organization. */
  requireOrg(id: OrgId): Promise<void>
  /** Stores an image blob (validated by the blob store); resolves with its hash. */
  putBlob(bytes: Uint8Array): Promise<BlobHash>
  /**
   * `orbit blobs`: the images the workspace references, which are here, which are fetching (from
   * whom, how far) and which are missing (why). With `hash`, that one only, with its image type.
   * @throws ValidationError `hash` for a malformed hash.
   */
  blobs(query?: BlobQuery): Promise<BlobStatus>
  /**
   * Fetches now every referenced image this device lacks, from the connected members that have it;
   * resolves with what came and what did not (each with a code and why).
   * @throws WireError `DAEMON_NOT_RUNNING` in-process: only a running node holds links.
   */
  fetchBlobs(): Promise<NodeBlobFetchResult>
  /**
   * The largest image this device accepts and fetches (config `blobs.maxBytes`, default 10 MB),
   * after setting it to `maxBytes` when given.
   * @throws ValidationError `maxBytes` outside 1 KB – 4 GB (nothing written).
   */
  blobLimit(maxBytes?: number): Promise<number>
  listDevices(): Promise<DeviceRow[]>
  revokeDevice(id: string): Promise<DeviceRow>
  /** Paired devices (and, with a daemon, discovered and connected ones). */
  peers(): Promise<PeerRow[]>
  /**
   * Finished sync sessions of every tier, newest first (the `sync_history` table).
   * @throws UnknownIdError('device') / ValidationError for a device that names no member; ValidationError `limit`.
   */
  syncHistory(query?: SyncHistoryQuery): Promise<SyncHistoryEntry[]>
  /**
   * One LAN session with `target` (device id/prefix or host:port), or with every reachable member.
   * In-process a target is required (ValidationError `target`): only a daemon knows who is online.
   */
  sync(request: { target?: string; timeoutMs?: number; via?: 'auto' | SyncMethod }): Promise<SyncReport | { sessions: SyncReport[] }>
  /** A one-time invite; only a running daemon can answer the joiner (PairingError `DAEMON_NOT_RUNNING` otherwise). */
  createInvite(ttlMs?: number): Promise<InviteInfo>
  /** The QR bundle for one member (only what it lacks) or for every other member. */
  qrExport(options: { forDevice?: string }): Promise<QrExportResult>
  /** Applies a QR bundle (all or nothing) and, with `reply`, builds the answer for its sender. */
  qrImport(bundle: Uint8Array, options: { reply?: boolean }): Promise<QrImportOutcome>
  /** An invite for pairing by QR alone (no addresses), pending in this device's store (pair-offline.ts). */
  createOfflineInvite(ttlMs?: number): Promise<OfflineInvite>
  /**
   * Admits the joiner of an offline invite from its acceptance code: it becomes a member (a daemon
   * flushes before it answers). PairingError (`REFUSED`, `BAD_SIGNATURE`, ...) with nothing written.
   */
  acceptOfflineJoin(acceptance: string): Promise<OfflineAccept>
  /** The stored ICE server specs (config `webrtc.iceServers`), after `change`; used by every later offer and answer. */
  iceServers(change?: WebRtcListChange): Promise<string[]>
  /** The stored host-candidate addresses (config `webrtc.hostAddresses`; empty = every interface), after `change`. */
  hostAddresses(change?: WebRtcListChange): Promise<string[]>
  /** Held WebRTC offers and answers, and their sessions. */
  readonly webrtc: WebRtcApi
}

/** An API over a device open in this process; `close` ends what it holds (WebRTC offers, answers). */
export interface LocalApi extends OrbitApi {
  close(): Promise<void>
}

export interface LocalApiOptions {
  /** Where QR and WebRTC sessions are recorded (an embedding node's sync store). */
  recorder?: SessionRecorder
  logger?: Logger
  /** The Repo's sharing policy is set already (a node's LAN tier did, with its announcement gate): leave it. */
  shared?: boolean
  /** The node's images: each WebRTC session's link joins its exchange (src/apps/node/blobs.ts). */
  blobs?: WebRtcRunOptions['blobs']
  /** Runs one LAN session on the open device (lazy: it loads the TCP transport). */
  syncDirect?: (target: string, timeoutMs: number | undefined) => Promise<SyncReport>
}

/**
 * The workspace API of an open device: its own methods, awaited. With `contactCounts` (contacts
 * per shard, e.g. from the listing projection), `addContact` puts the new contact in a shard that
 * is already in memory when one is not fuller than the average (see {@link shardForNewContact}):
 * a running `orbit serve` then answers `orbit contact add` without loading a shard first.
 */
export function workspaceApi(ws: CrmWorkspace, options: { contactCounts?: () => ReadonlyMap<number, number> } = {}): WorkspaceApi {
  const api = {} as Record<WorkspaceMethod, (...args: unknown[]) => Promise<unknown>>
  for (const method of WORKSPACE_METHODS) {
    api[method] = async (...args: unknown[]) => (ws[method] as (...a: unknown[]) => unknown).apply(ws, args)
  }
  const counts = options.contactCounts
  if (counts !== undefined) {
    // Only the input travels (a caller's other arguments are not options it may set).
    api.addContact = async (input: unknown) => {
      const shard = shardForNewContact(ws, counts())
      return ws.addContact(input, shard === undefined ? {} : { shard })
    }
  }
  return api as unknown as WorkspaceApi
}

/**
 * Where a new contact goes: the loaded shard with the fewest contacts, if it holds at most the
 * average plus twice its square root (at least 16), else undefined (wherever its random id lands,
 * loading that shard if need be). Random ids spread shards about that much anyway (a shard's count
 * is binomial: standard deviation ≈ √average), so shards stay as balanced as with random ids.
 */
export function shardForNewContact(ws: Pick<CrmWorkspace, 'shardCount' | 'isShardLoaded'>, counts: ReadonlyMap<number, number>): number | undefined {
  let total = 0
  for (const c of counts.values()) total += c
  const mean = total / ws.shardCount
  const limit = mean + Math.max(16, 2 * Math.sqrt(mean))
  let best: number | undefined
  let bestCount = Infinity
  for (let n = 0; n < ws.shardCount; n++) {
    const c = counts.get(n) ?? 0
    if (ws.isShardLoaded(n) && c <= limit && c < bestCount) {
      best = n
      bestCount = c
    }
  }
  return best
}

/**
 * Loads the shard a new contact would go to first — the one with the fewest contacts in the
 * listing — so that a running `orbit serve` answers its first `orbit contact add` without loading
 * one ({@link shardForNewContact}). One shard, whatever the workspace's size; a failed load is
 * only logged (a write loads what it needs anyway).
 */
export async function warmShardForNewContacts(device: Pick<OrbitDevice, 'db' | 'workspace'>, logger: Logger): Promise<void> {
  const ws = device.workspace
  const counts = projectedContactCounts(device)
  let emptiest = 0
  for (let n = 1; n < ws.shardCount; n++) if ((counts.get(n) ?? 0) < (counts.get(emptiest) ?? 0)) emptiest = n
  if (ws.isShardLoaded(emptiest)) return
  try {
    await ws.shardHandle(emptiest)
  } catch (error) {
    logger.debug('could not load the shard for new contacts ahead of time', { shard: emptiest, error: String(error) })
  }
}

/** Contacts per shard in the listing projection (removed ones included: they stay in their shard). */
function projectedContactCounts(device: Pick<OrbitDevice, 'db'>): Map<number, number> {
  const rows = device.db.sqlite.prepare(`SELECT shard, COUNT(*) AS n FROM entity_index WHERE kind = 'contact' GROUP BY shard`).all() as { shard: number; n: number }[]
  return new Map(rows.map((r) => [r.shard, r.n]))
}

/** Peers as an open device knows them without a daemon: its members, remembered addresses and sync state. */
export function memberPeers(device: Pick<OrbitDevice, 'workspace' | 'identity' | 'config' | 'db' | 'repo'>): PeerRow[] {
  const ws = device.workspace
  const known = readKnownPeers(device.config)
  const state = deviceSyncState(device)
  // Without `orbit serve` nothing syncs in the background: that is the reason for any state but in sync.
  const idle = { reason: 'not-serving', detail: 'orbit serve is not running on this data dir: nothing syncs in the background (`orbit sync DEVICE`, or start `orbit serve`)' }
  return ws
    .listDevices()
    .filter((m) => m.id !== device.identity.deviceId)
    .map((m) => {
      const status = ws.memberStatus(m.id)
      const revoked = status === 'revoked' ? { reason: 'not-member', detail: 'this device was revoked' } : idle
      return {
        deviceId: m.id,
        name: m.name,
        addresses: known[m.id] ?? [],
        lastSeen: null,
        paired: status === 'member',
        revoked: status === 'revoked',
        connected: false,
        discovered: false,
        sync: peerSyncView(state.peerSync(m.id), undefined, revoked),
      }
    })
}

/** A history query on an open device: the device resolved (id or unique prefix, revoked ones too), the limit checked. */
export function syncHistoryOn(device: Pick<OrbitDevice, 'workspace' | 'db' | 'repo' | 'identity'>, query: SyncHistoryQuery = {}): SyncHistoryEntry[] {
  const limit = query.limit ?? 20
  if (!Number.isInteger(limit) || limit < 1 || limit > SYNC_HISTORY_QUERY_MAX) {
    throw new ValidationError(`limit must be a whole number from 1 to ${SYNC_HISTORY_QUERY_MAX}`, { field: 'limit' })
  }
  const deviceId = query.device === undefined ? undefined : resolveMember(device, query.device, { includeRevoked: true })
  return deviceSyncState(device).history.list({ ...(deviceId === undefined ? {} : { deviceId }), limit })
}

/** QR export as a recorded session: the bundle is what this side sends. */
export async function qrExportRecorded(device: OrbitDevice, options: { forDevice?: string }, recorder: SessionRecorder | undefined): Promise<QrExportResult> {
  const started = Date.now()
  const result = await exportQrBundle(device, options)
  if (options.forDevice !== undefined) {
    recorder?.record({
      method: 'qr-code',
      status: 'completed',
      peer: { deviceId: options.forDevice },
      changesSent: result.documents,
      changesReceived: 0,
      bytesSent: result.bundle.length,
      bytesReceived: 0,
      durationMs: Date.now() - started,
      documents: result.documents,
    })
  }
  return result
}

/** QR import (and reply) as a recorded session: the bundle is what this side received. */
export async function qrImportRecorded(device: OrbitDevice, bundle: Uint8Array, options: { reply?: boolean }, recorder: SessionRecorder | undefined): Promise<QrImportOutcome> {
  const started = Date.now()
  const imported = await importQrBundle(device, bundle)
  const reply = options.reply === true ? (await exportQrBundle(device, { forDevice: imported.senderId })).bundle : undefined
  recorder?.record(qrImportReport(imported, { received: bundle.length, replied: reply?.length ?? 0, durationMs: Date.now() - started }))
  return { imported, ...(reply === undefined ? {} : { replyBundle: reply }) }
}

/** The session report of one QR import: the bundle this side received and the reply it wrote. */
export function qrImportReport(imported: QrImportResult, bytes: { received: number; replied: number; durationMs: number }): SyncReport {
  return {
    method: 'qr-code',
    status: 'completed',
    peer: { deviceId: imported.senderId },
    changesSent: 0,
    changesReceived: imported.changedDocuments,
    bytesSent: bytes.replied,
    bytesReceived: bytes.received,
    durationMs: bytes.durationMs,
    documents: imported.changedDocuments,
  }
}

/**
 * The WebRTC side of an open device, made on first use (it loads werift): the workspace shared
 * and loaded, offers and answers held in this process until `close`.
 */
function lazyWebRtc(device: OrbitDevice, options: LocalApiOptions): { api: WebRtcApi; close(): Promise<void> } {
  let made: Promise<DaemonWebRtc> | undefined
  const get = (): Promise<DaemonWebRtc> =>
    (made ??= (async () => {
      const { restrictSharing, workspaceDocIds } = await import('../../core/engine/sync-session.js')
      const { createDaemonWebRtc } = await import('./webrtc-sync.js')
      await device.workspace.loadAllShards()
      if (options.shared !== true) restrictSharing(device.repo, workspaceDocIds(device.workspace.rootUrl, device.workspace.shardUrls))
      return createDaemonWebRtc(device, {
        ...(options.recorder === undefined ? {} : { recorder: options.recorder }),
        ...(options.logger === undefined ? {} : { logger: options.logger }),
        ...(options.blobs === undefined ? {} : { blobs: options.blobs }),
      })
    })())
  return {
    api: {
      offer: async (o) => (await get()).offer(o),
      accept: async (code, o) => (await get()).accept(code, o),
      acceptAndWait: async (code, o) => (await get()).acceptAndWait(code, o),
      answer: async (code, o) => (await get()).answer(code, o),
      answered: async (code) => (await get()).answered(code),
      cancel: async (code) => (await get()).cancel(code),
    },
    async close() {
      if (made !== undefined) await (await made).close()
    },
  }
}

/**
 * Who a failed `orbit sync TARGET` was with: the member it names, or for a HOST:PORT that never
 * answered no device (`deviceId` empty) and the address.
 */
function failedPeer(device: OrbitDevice, target: string): SyncReport['peer'] {
  if (/:\d+$/.test(target)) return { deviceId: '', address: target }
  try {
    return { deviceId: resolveMember(device, target) }
  } catch {
    return { deviceId: '', address: target }
  }
}

/** The API over a device open in this process. */
export function localApi(device: OrbitDevice, options: LocalApiOptions = {}): LocalApi {
  // Every session of this process lands in the history (an embedding node passes its own recorder, which does too).
  const recorder = options.recorder ?? deviceSyncState(device).recorder(undefined, options.logger)
  options = { ...options, recorder }
  const webrtc = lazyWebRtc(device, options)
  return {
    webrtc: webrtc.api,
    async close() {
      await webrtc.close()
      deviceSyncState(device).learner.flush()
    },
    where: 'in-process',
    workspace: workspaceApi(device.workspace, { contactCounts: () => projectedContactCounts(device) }),
    requireOrg: (id) => device.requireOrg(id),
    putBlob: (bytes) => device.blobs.put(bytes),
    blobs: (query) => blobStatusOn(device, query),
    fetchBlobs: () =>
      Promise.reject(
        new WireError('images are fetched by a running node: start `orbit serve` on this data dir (it fetches what is missing by itself), or run `orbit sync DEVICE`', {
          code: 'DAEMON_NOT_RUNNING',
        }),
      ),
    blobLimit: async (maxBytes) => (maxBytes === undefined ? readBlobLimit(device.config) : writeBlobLimit(device.config, maxBytes)),
    listDevices: async () => listDeviceRows(device),
    revokeDevice: (id) => revokeOn(device, id),
    peers: async () => memberPeers(device),
    syncHistory: async (query) => syncHistoryOn(device, query),
    async sync({ target, timeoutMs, via }) {
      if (target === undefined) throw new ValidationError('give a device or HOST:PORT to sync with (or start `orbit serve`, which knows its peers)', { field: 'target' })
      // Without a daemon only the LAN runs by itself; the carried tiers have their own commands.
      if (via === 'webrtc' || via === 'qr-code') {
        throw new WireError(`--via ${via} needs a code carried between the devices: use \`orbit ${via === 'webrtc' ? 'webrtc offer' : 'qr export --for ' + target}\``, { code: 'NEEDS_CODE' })
      }
      if (options.syncDirect !== undefined) return options.syncDirect(target, timeoutMs)
      const { syncDirectOn } = await import('./direct-sync.js')
      // The link's session is recorded with the session's report (status, error, documents), also
      // when the dial fails before any link (then with the device the target names, if it names one).
      const settling = settlingRecorder(recorder)
      const started = Date.now()
      try {
        const report = await syncDirectOn(device, { target, ...(timeoutMs === undefined ? {} : { timeoutMs }), recorder: settling })
        settling.settle(report)
        return report
      } catch (error) {
        const e = error instanceof OrbitError ? error : new WireError(String(error), { code: 'CONNECTION' })
        // A validation error (a bad target) is not a session; a dial that failed is.
        if (!(error instanceof ValidationError) && !(error instanceof UnknownIdError)) {
          settling.settle(failedReport('local-network', failedPeer(device, target), e, undefined, Date.now() - started))
        }
        throw error
      }
    },
    async createInvite() {
      throw new PairingError(
        `no daemon is running on ${device.dataDir}: an invite can only be accepted by a running device. Start it with \`orbit serve\` (in another terminal), then run \`orbit pair invite\` again`,
        { code: 'DAEMON_NOT_RUNNING' },
      )
    },
    qrExport: (o) => qrExportRecorded(device, o, options.recorder),
    qrImport: (bundle, o) => qrImportRecorded(device, bundle, o, options.recorder),
    createOfflineInvite: async (ttlMs) => createOfflineInviteOn(device, ttlMs === undefined ? {} : { ttlMs }),
    acceptOfflineJoin: (acceptance) => acceptOfflineJoinOn(device, acceptance),
    iceServers: async (change = {}) =>
      changeList(change, () => readIceSpecs(device.config), (v) => addIceSpec(device.config, v), () => clearIceSpecs(device.config)),
    hostAddresses: async (change = {}) =>
      changeList(change, () => readHostAddresses(device.config) ?? [], (v) => addHostAddress(device.config, v), () => clearHostAddresses(device.config)),
  }
}

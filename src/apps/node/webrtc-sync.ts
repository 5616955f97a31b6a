/**
 * WebRTC sync for an open device: make or answer an offer code, and once the authenticated
 * connection is up, sync the workspace's documents over it (a `WebRtcNetworkAdapter` on the
 * device's Repo) until both sides hold the same heads for the root and every shard, then report
 * the session like the other tiers (`orbit sync`'s report, `method: 'webrtc'`).
 *
 * Used by `orbit webrtc offer|answer` without a daemon, and by the daemon (see
 * {@link createDaemonWebRtc}) to hold an offer and sync in the background.
 */
import type { PeerId } from '@automerge/automerge-repo'
import { OrbitError, WebRtcError } from '../../core/errors.js'
import type { DeviceId } from '../../core/ids.js'
import { silentLogger, type Logger } from '../../core/log.js'
import { CountingNetworkAdapter } from '../../core/sync/counting.js'
import type { SessionBlobs } from './blobs.js'
import type { SyncStore } from '../../core/sync/store.js'
import type { IceServer } from '../../core/webrtc/ice-server.js'
import { parseSignalCode, type NonceLedger } from '../../core/webrtc/signal.js'
import { nodeChaChaPoly } from '../../adapters/crypto-node/index.js'
import {
  answerOffer,
  createOffer,
  WebRtcNetworkAdapter,
  type PendingOffer,
  type WebRtcConnection,
  type WebRtcPeerOptions,
} from '../../adapters/transport-webrtc/index.js'
import { membershipPolicy } from '../../core/engine/membership.js'
import { sessionRecorder, type RecordedSession, type SessionRecorder } from '../../core/engine/session-recorder.js'
import { PeerHeadsWatcher, restrictSharing, settleSyncStateSaves, workspaceDocIds, type SyncReport } from '../../core/engine/sync-session.js'
import type { OrbitDevice } from './device.js'
import { configNonceLedger, readHostAddresses, resolveIceServers } from './webrtc-config.js'

/** What `orbit webrtc offer|answer|accept` and `orbit sync --via webrtc` print: a WebRTC session report. */
export type WebRtcSyncReport = SyncReport & { method: 'webrtc' }

/** The device parts WebRTC sync uses. */
export type WebRtcDevice = Pick<OrbitDevice, 'identity' | 'deviceName' | 'repo' | 'workspace' | 'config' | 'flush'>

/** Per-run options; unset ones come from the data dir's config (see webrtc-config.ts). */
export interface WebRtcRunOptions {
  /** `--ice` specs; when empty the configured `webrtc.iceServers` are used. */
  ice?: readonly string[]
  /** Local addresses for host candidates; default the configured `webrtc.hostAddresses`, else all interfaces. */
  hostAddresses?: readonly string[]
  /** Bound on connecting (after the answer is applied) and on syncing once connected. Default 60 s. */
  timeoutMs?: number
  /** Lifetime of the code this side produces. Default 10 min. */
  ttlMs?: number
  signal?: AbortSignal
  logger?: Logger
  now?: () => number
  /**
   * The node's images (src/apps/node/blobs.ts): each session's link joins its exchange, and a
   * one-shot session fetches the images this device lacks before it closes.
   */
  blobs?: (adapter: WebRtcNetworkAdapter) => SessionBlobs
}

export const DEFAULT_WEBRTC_TIMEOUT_MS = 60_000
/** After our side is in sync, how long to keep the channel for the peer to see it too. */
const LINGER_MS = 1500

/** The public key of a current member device, or undefined (unknown or revoked): the membership policy's answer. */
export function memberKeyOf(device: Pick<OrbitDevice, 'workspace'>, deviceId: string): Uint8Array | undefined {
  return membershipPolicy(device.workspace).memberKey(deviceId)
}

/** The transport options for this device: members only, persisted single-use ledger, configured ICE. */
export function peerOptionsFor(device: WebRtcDevice, options: WebRtcRunOptions, nonces?: NonceLedger): WebRtcPeerOptions {
  const now = options.now ?? Date.now
  const iceServers: IceServer[] = resolveIceServers(device.config, options.ice)
  const hosts = options.hostAddresses !== undefined && options.hostAddresses.length > 0 ? [...options.hostAddresses] : readHostAddresses(device.config)
  return {
    identity: device.identity,
    deviceName: device.deviceName,
    resolveMember: (id) => memberKeyOf(device, id),
    nonces: nonces ?? configNonceLedger(device.config, now),
    iceServers,
    ...(hosts === undefined ? {} : { hostAddresses: hosts }),
    connectTimeoutMs: options.timeoutMs ?? DEFAULT_WEBRTC_TIMEOUT_MS,
    ...(options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs }),
    aead: nodeChaChaPoly,
    now,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    logger: options.logger ?? silentLogger,
  }
}

/** Hooks into a session's life, for a daemon's sync store. */
export interface SessionHooks {
  onStart?(deviceId: DeviceId): void
  onEnd?(report: WebRtcSyncReport): void
}

/**
 * Syncs the workspace over an authenticated connection until both sides' heads match for every
 * document (root + shards), or `timeoutMs`. Closes the connection when done. Never throws: a
 * failure is a report with `status: 'error'`.
 *
 * `share` — set it when the Repo's sharing policy is not set up yet (standalone runs).
 * `keep` — a kept link (mesh signalling): once in sync the report resolves but the connection
 * and its adapter stay on the Repo, so live edits keep syncing, until the connection closes (it
 * failed, or its owner closed it). A first session that fails closes it as usual.
 */
export async function syncOverConnection(
  device: WebRtcDevice,
  connection: WebRtcConnection,
  options: {
    timeoutMs?: number
    signal?: AbortSignal
    logger?: Logger
    share?: boolean
    started?: number
    hooks?: SessionHooks
    keep?: boolean
    /** Called with the link host made for the connection (a mesh relays signals over kept links too). */
    onAdapter?: (adapter: WebRtcNetworkAdapter) => void
    /** The link's blob side (see {@link WebRtcRunOptions.blobs}). */
    blobs?: (adapter: WebRtcNetworkAdapter) => SessionBlobs
  } = {},
): Promise<WebRtcSyncReport> {
  const started = options.started ?? Date.now()
  const deviceId = connection.remoteDeviceId
  options.hooks?.onStart?.(deviceId)
  const timeoutMs = options.timeoutMs ?? DEFAULT_WEBRTC_TIMEOUT_MS
  const before = { ...connection.stats }
  if (options.share === true) restrictSharing(device.repo, workspaceDocIds(device.workspace.rootUrl, device.workspace.shardUrls))
  // Every envelope re-asks membership: a device revoked mid-session is cut off (docs/protocol/link.md).
  const adapter = new WebRtcNetworkAdapter(connection, {
    logger: options.logger ?? silentLogger,
    authorize: (id) => memberKeyOf(device, id) !== undefined,
  })
  options.onAdapter?.(adapter)
  const blobs = options.blobs?.(adapter)
  const counting = new CountingNetworkAdapter(adapter)
  // Before the adapter joins, so no heads report is missed.
  const watcher = new PeerHeadsWatcher(device.repo)
  const closed = new Promise<Error | undefined>((resolve) => connection.onClose(resolve))
  const abort = new AbortController()
  const onOuterAbort = (): void => abort.abort(options.signal?.reason)
  options.signal?.addEventListener('abort', onOuterAbort, { once: true })
  void closed.then((reason) => abort.abort(reason instanceof OrbitError ? reason : new WebRtcError('the peer closed the connection', { code: 'CLOSED' })))
  const peerIdPromise = new Promise<PeerId>((resolve) => counting.once('peer-candidate', (p) => resolve(p.peerId)))
  device.repo.networkSubsystem.addNetworkAdapter(counting)
  let peerId: PeerId | undefined
  let documents = 0
  let syncedAt: number | undefined
  let error: OrbitError | undefined
  const deadline = Date.now() + timeoutMs
  try {
    peerId = await raceWith(peerIdPromise, abort.signal, timeoutMs)
    const handles = () => device.workspace.allHandles()
    try {
      documents = await watcher.until(handles, peerId, { timeoutMs: Math.max(1, deadline - Date.now()), signal: abort.signal })
    } catch (e) {
      // The peer may close right after its last message: in sync by then is in sync.
      const list = await handles()
      if (watcher.behind(list, peerId).length !== 0) throw e
      documents = list.length
    }
    await device.flush()
    syncedAt = Date.now()
    // The images the documents reference travel on the same link: a one-shot session fetches them
    // before it closes (a kept link fetches in the background, like the LAN).
    if (blobs !== undefined) {
      if (options.keep === true) void blobs.fetch().catch(() => undefined)
      else await raceWith(blobs.fetch(), abort.signal, Math.max(1, deadline - Date.now())).catch((e: unknown) => options.logger?.warn('blob fetch before close failed', { error: String(e) }))
    }
    // Our side is in sync; the peer learns it from our next sync message. Keep the channel until
    // it closes (it is in sync too) or a short grace passes.
    // A peer fetching images from us keeps it too: we linger once no blob bytes left here for a while.
    if (options.keep !== true) await Promise.race([closed, raceWith((blobs?.settle() ?? Promise.resolve()).then(() => sleep(LINGER_MS)), abort.signal, Math.max(1, deadline - Date.now()) + LINGER_MS).catch(() => undefined)])
  } catch (e) {
    error = asOrbitError(e)
  } finally {
    options.signal?.removeEventListener('abort', onOuterAbort)
    watcher.close()
    const release = async (): Promise<void> => {
      blobs?.detach()
      adapter.disconnect()
      device.repo.networkSubsystem.removeNetworkAdapter(counting)
      await connection.close()
      await settleSyncStateSaves()
    }
    if (options.keep === true && error === undefined) void closed.then(release)
    else await release()
  }
  const traffic = peerId === undefined ? undefined : counting.traffic(peerId)
  const pair = connection.selectedPair()
  const report: WebRtcSyncReport = {
    method: 'webrtc',
    status: error === undefined ? 'completed' : 'error',
    peer: { deviceId, ...(pair === undefined ? {} : { address: `${pair.remote.address}:${pair.remote.port}`, candidateType: pair.remote.type }) },
    changesSent: traffic?.sent.changes ?? 0,
    changesReceived: traffic?.received.changes ?? 0,
    bytesSent: connection.stats.bytesSent - before.bytesSent,
    bytesReceived: connection.stats.bytesReceived - before.bytesReceived,
    // The session is in sync at `syncedAt`; the linger before closing is not part of it.
    durationMs: (syncedAt ?? Date.now()) - started,
    documents: error === undefined ? documents : 0,
    ...(error === undefined ? {} : { error: { name: error.name, code: error.code, message: error.message } }),
  }
  options.hooks?.onEnd?.(report)
  return report
}

/** An offer this device made. */
export interface DeviceOffer {
  readonly code: string
  /** Applies the answer code, connects and syncs. Rejects (typed) when the answer is refused or no route is found. */
  complete(answerCode: string, hooks?: SessionHooks): Promise<WebRtcSyncReport>
  close(): Promise<void>
}

/** Creates an offer code on `device` (the workspace must be loaded with all shards). */
export async function offerFrom(device: WebRtcDevice, options: WebRtcRunOptions & { share?: boolean } = {}): Promise<DeviceOffer> {
  const peer = peerOptionsFor(device, options)
  const offer: PendingOffer = await createOffer(peer)
  return {
    code: offer.code,
    async complete(answerCode, hooks) {
      const started = Date.now()
      const connection = await offer.accept(answerCode.trim())
      return syncOverConnection(device, connection, { ...sessionOptions(options), started, ...(hooks === undefined ? {} : { hooks }) })
    },
    close: () => offer.close(),
  }
}

/** An answer this device made to someone's offer. */
export interface DeviceAnswer {
  readonly code: string
  readonly remoteDeviceId: DeviceId
  /** Resolves with the session once the offerer applied the answer and the sync ended; rejects when it never connects. */
  readonly report: Promise<WebRtcSyncReport>
  close(): Promise<void>
}

/**
 * Verifies `offerCode` (a member's, unexpired, unused), answers it and syncs once connected.
 * @throws WebRtcError `CODE_*` for a refused code (nothing else happened).
 */
export async function answerFrom(device: WebRtcDevice, offerCode: string, options: WebRtcRunOptions & { share?: boolean; hooks?: SessionHooks } = {}): Promise<DeviceAnswer> {
  // The answerer waits for a person to carry the answer back: connect within the code's lifetime.
  const peer = { ...peerOptionsFor(device, options), connectTimeoutMs: options.ttlMs ?? 10 * 60_000 }
  const answer = await answerOffer(offerCode.trim(), peer)
  const report = answer.connection.then((connection) =>
    syncOverConnection(device, connection, { ...sessionOptions(options), ...(options.hooks === undefined ? {} : { hooks: options.hooks }) }),
  )
  report.catch(() => undefined)
  return { code: answer.code, remoteDeviceId: answer.remoteDeviceId, report, close: () => answer.close() }
}

function sessionOptions(options: WebRtcRunOptions & { share?: boolean }): { timeoutMs?: number; signal?: AbortSignal; logger?: Logger; share?: boolean; blobs?: WebRtcRunOptions['blobs'] } {
  return {
    ...(options.blobs === undefined ? {} : { blobs: options.blobs }),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...(options.share === undefined ? {} : { share: options.share }),
  }
}

/**
 * The daemon's WebRTC side: it holds offers and, when `accept` hands it an answer, connects and
 * syncs in the background (recorded in its sync store). Offers are matched to answers by the
 * offer hash each answer code names. The daemon's Repo must already share only the workspace.
 */
export interface DaemonWebRtc {
  /** Makes and holds an offer; returns its code. */
  offer(options?: { ice?: string[]; hostAddresses?: string[]; ttlMs?: number; timeoutMs?: number }): Promise<{ code: string; expiresAt: number }>
  /**
   * Hands an answer to the pending offer it answers; resolves when connected (the sync continues
   * in the background).
   * @throws WebRtcError `CODE_*` for a refused answer (the offer stays held), `NO_ROUTE` when it never connects.
   */
  accept(answerCode: string, options?: AcceptOptions): Promise<{ deviceId: string; status: 'syncing' }>
  /** Like {@link accept}, but resolves with the session's report once it ended (completed or not). */
  acceptAndWait(answerCode: string, options?: AcceptOptions): Promise<WebRtcSyncReport>
  /** Answers an offer; the daemon connects and syncs when the offerer accepts. */
  answer(offerCode: string, options?: { ice?: string[]; hostAddresses?: string[]; ttlMs?: number; timeoutMs?: number }): Promise<{ code: string; deviceId: string }>
  /**
   * The report of the session an answer made here (by {@link answer}) opens, once it ended.
   * @throws WebRtcError `CODE_WRONG_OFFER` for an answer code this side did not make; the session's
   *   own error when it never connected.
   */
  answered(answerCode: string): Promise<WebRtcSyncReport>
  /** Withdraws a held offer that was not answered yet (the CLI that made it gave up); false when none is held. */
  cancel(offerCode: string): Promise<{ cancelled: boolean }>
  /** The latest session reports (newest first). */
  sessions(): WebRtcSyncReport[]
  close(): Promise<void>
}

export interface AcceptOptions {
  /**
   * Bound on the whole session from now (connecting, then syncing): when it passes, the session is
   * aborted and ends failed. Default: the offer's own `timeoutMs`, for connecting and again for syncing.
   */
  timeoutMs?: number
}

export function createDaemonWebRtc(
  device: WebRtcDevice,
  options: { store?: SyncStore; recorder?: SessionRecorder; logger?: Logger; now?: () => number; blobs?: WebRtcRunOptions['blobs'] } = {},
): DaemonWebRtc {
  const blobs = options.blobs === undefined ? {} : { blobs: options.blobs }
  const recorder = options.recorder ?? sessionRecorder(options.store)
  const log = (options.logger ?? silentLogger).forComponent('orbit:daemon:webrtc')
  const now = options.now ?? Date.now
  // `abort` ends whatever the offer is doing (connecting or syncing) when an accept's timeout passes.
  const pending = new Map<string, { offer: DeviceOffer; expiresAt: number; abort: AbortController }>()
  const answers = new Set<DeviceAnswer>()
  // Answer code -> its session's report, for `answered` (bounded like `reports`).
  const answerReports = new Map<string, Promise<WebRtcSyncReport>>()
  const reports: WebRtcSyncReport[] = []
  const running = new Set<Promise<unknown>>()
  const hooks = (): SessionHooks => {
    let session: RecordedSession | undefined
    return {
      onStart(deviceId) {
        session = recorder.begin({ method: 'webrtc', deviceId, status: 'syncing' })
      },
      onEnd(report) {
        reports.unshift(report)
        reports.splice(20)
        session?.end(report)
      },
    }
  }
  const track = (p: Promise<unknown>): void => {
    const t = p.catch((error: unknown) => log.warn('webrtc session failed', { error: String(error) })).finally(() => running.delete(t))
    running.add(t)
  }
  const expire = (): void => {
    for (const [hash, entry] of pending) {
      if (entry.expiresAt <= now()) {
        pending.delete(hash)
        void entry.offer.close()
      }
    }
  }
  /**
   * Takes the held offer `answerCode` answers and starts its session: `connected` resolves with the
   * peer once the channel is up, `report` when the session ended. Both reject when it never connects.
   */
  const start = (answerCode: string, o: AcceptOptions): { connected: Promise<DeviceId>; report: Promise<WebRtcSyncReport> } => {
    expire()
    // Verified before the offer is taken: a refused answer leaves it held for a correct one.
    const parsed = parseSignalCode(answerCode.trim(), { now, resolveMember: (id) => memberKeyOf(device, id), expectType: 'answer' })
    const key = parsed.answers === undefined ? undefined : hashKey(parsed.answers)
    const entry = key === undefined ? undefined : pending.get(key)
    if (entry === undefined || key === undefined) {
      throw new WebRtcError('this answer is for no offer this daemon holds (expired, already used, or made elsewhere)', { code: 'CODE_WRONG_OFFER' })
    }
    pending.delete(key)
    const timer =
      o.timeoutMs === undefined
        ? undefined
        : setTimeout(() => entry.abort.abort(new WebRtcError(`the session did not end within ${o.timeoutMs} ms of the answer`, { code: 'TIMEOUT' })), o.timeoutMs)
    let connectedResolve: (id: DeviceId) => void = () => {}
    const connected = new Promise<DeviceId>((resolve) => (connectedResolve = resolve))
    const h = hooks()
    const report = entry.offer
      .complete(answerCode, {
        onStart(id) {
          h.onStart?.(id)
          connectedResolve(id)
        },
        ...(h.onEnd === undefined ? {} : { onEnd: h.onEnd.bind(h) }),
      })
      .catch((error: unknown) => {
        // Aborted while connecting: the caller's timeout is the reason, not the abort it caused.
        throw entry.abort.signal.aborted ? (entry.abort.signal.reason as Error) : error
      })
      .finally(() => {
        clearTimeout(timer)
        // Releases the peer connection when it never connected (a connected one closed with its session).
        void entry.offer.close()
      })
    track(report)
    return { connected: Promise.race([connected, report.then((r) => r.peer.deviceId as DeviceId)]), report }
  }
  return {
    async offer(o = {}) {
      expire()
      const abort = new AbortController()
      const offer = await offerFrom(device, { ...o, ...blobs, logger: options.logger ?? silentLogger, now, signal: abort.signal })
      const parsed = parseSignalCode(offer.code, { now, resolveMember: () => device.identity.publicKey })
      const key = hashKey(parsed.hash)
      pending.set(key, { offer, expiresAt: parsed.expiresAt, abort })
      // An unanswered offer holds a peer connection (sockets): release it when the code expires.
      const timer = setTimeout(() => {
        if (pending.get(key)?.offer !== offer) return
        pending.delete(key)
        void offer.close()
      }, Math.max(0, parsed.expiresAt - now()))
      timer.unref?.()
      return { code: offer.code, expiresAt: parsed.expiresAt }
    },
    async accept(answerCode, o = {}) {
      return { deviceId: await start(answerCode, o).connected, status: 'syncing' }
    },
    async acceptAndWait(answerCode, o = {}) {
      const session = start(answerCode, o)
      // A session that never connected rejects (typed), as `accept` does; once connected, it reports.
      await session.connected
      return session.report
    },
    async answer(offerCode, o = {}) {
      const answer = await answerFrom(device, offerCode, { ...o, ...blobs, logger: options.logger ?? silentLogger, now, hooks: hooks() })
      answers.add(answer)
      answerReports.set(answer.code, answer.report)
      for (const key of [...answerReports.keys()].slice(0, Math.max(0, answerReports.size - 20))) answerReports.delete(key)
      track(answer.report.finally(() => answers.delete(answer)))
      return { code: answer.code, deviceId: answer.remoteDeviceId }
    },
    answered(answerCode) {
      const report = answerReports.get(answerCode.trim())
      if (report === undefined) return Promise.reject(new WebRtcError('this answer code was not made here', { code: 'CODE_WRONG_OFFER' }))
      return report
    },
    async cancel(offerCode) {
      const code = offerCode.trim()
      for (const [key, entry] of pending) {
        if (entry.offer.code !== code) continue
        pending.delete(key)
        await entry.offer.close()
        return { cancelled: true }
      }
      return { cancelled: false }
    },
    sessions: () => [...reports],
    async close() {
      for (const entry of pending.values()) await entry.offer.close()
      pending.clear()
      for (const answer of answers) await answer.close()
      await Promise.allSettled([...running])
    },
  }
}

function hashKey(hash: Uint8Array): string {
  return Array.from(hash, (b) => b.toString(16).padStart(2, '0')).join('')
}

function asOrbitError(e: unknown): OrbitError {
  if (e instanceof OrbitError) return e
  return new WebRtcError(e instanceof Error ? e.message : String(e), { code: 'SYNC', cause: e })
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms)
    t.unref?.()
  })
}

/** Resolves with `p`, or rejects when `signal` aborts or `ms` passes (`NO_ROUTE`-like `TIMEOUT`). */
function raceWith<T>(p: Promise<T>, signal: AbortSignal, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new WebRtcError(`the peer did not join the sync within ${ms} ms`, { code: 'TIMEOUT' })), ms)
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal.reason instanceof Error ? signal.reason : new WebRtcError('aborted', { code: 'ABORTED' }))
    }
    if (signal.aborted) return onAbort()
    signal.addEventListener('abort', onAbort, { once: true })
    p.then(
      (v) => {
        clearTimeout(timer)
        signal.removeEventListener('abort', onAbort)
        resolve(v)
      },
      (e: unknown) => {
        clearTimeout(timer)
        reject(e instanceof Error ? e : new Error(String(e)))
      },
    )
  })
}

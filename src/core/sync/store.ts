/**
 * The sync store of the roadmap (`useSyncStore`), on `zustand/vanilla` so that Node (daemon, CLI)
 * and React (`useStore(store, selector)`) share one implementation.
 *
 * Fixed against the roadmap's sketch: `completeSession` removes the session from
 * `activeSessions`; `updateSession` of an unknown id is ignored instead of creating a half session;
 * `status` and `currentMethod` are derived from the sessions by one function ({@link deriveStatus})
 * instead of being set by whoever spoke last; timestamps are numbers from an injected clock;
 * finished sessions are kept in a bounded `recentSessions` list.
 *
 * @example
 * const store = createSyncStore({ localDeviceId })
 * const id = store.getState().startSession({ peerId, method: 'local-network' })
 * store.getState().addTraffic(id, { changesSent: 3, bytesSent: 812 })
 * store.getState().completeSession(id)
 * // React: const status = useStore(store, (s) => s.status)
 */
import { createStore, type StoreApi } from 'zustand/vanilla'
import { base32, randomBytes, type DeviceId } from '../ids.js'
import { EMPTY_BLOB_SYNC_STATE, SYNC_METHODS, type BlobSyncState, type DeviceInfo, type SyncMethod, type SyncSession, type SyncStatus, type Timestamp } from './types.js'

/** How many finished sessions `recentSessions` keeps. */
export const RECENT_SESSIONS_MAX = 50

/** What a caller supplies to start a session. */
export interface SessionInit {
  method: SyncMethod
  peerId?: DeviceId | undefined
  /** Initial state; default `connecting`. */
  status?: 'discovering' | 'connecting' | 'syncing'
  /** Use a given id (e.g. one the peer agreed on); default a random one. */
  id?: string
}

/** Fields a running session may change. Counters are absolute values; see `addTraffic` for deltas. */
export type SessionUpdate = Partial<
  Pick<SyncSession, 'peerId' | 'status' | 'changesSent' | 'changesReceived' | 'bytesSent' | 'bytesReceived'>
> & { error?: unknown }

/** Counter increments for `addTraffic`. */
export type TrafficDelta = Partial<Pick<SyncSession, 'changesSent' | 'changesReceived' | 'bytesSent' | 'bytesReceived'>>

export interface SyncStoreState {
  localDeviceId: DeviceId
  /** Devices seen by discovery or pairing, by device id. */
  discoveredPeers: Record<string, DeviceInfo>
  /** Sessions in progress (never `completed`/`error`). */
  activeSessions: Record<string, SyncSession>
  /** Finished sessions, newest first, at most {@link RECENT_SESSIONS_MAX}. */
  recentSessions: SyncSession[]
  /** When the last session completed successfully. */
  lastSyncTimestamp: Timestamp | null
  /** Whether discovery is running (shown as `discovering` when no session is active). */
  discovering: boolean
  /** Derived: see {@link deriveStatus}. */
  status: SyncStatus
  /** Derived: the method of the most advanced active session, or `null`. */
  currentMethod: SyncMethod | null
  /** Images: what the workspace references, what is here, what is being fetched (see {@link BlobSyncState}). */
  blobs: BlobSyncState

  upsertPeer(info: DeviceInfo): void
  removePeer(deviceId: string): void
  /** Drop peers not seen for `olderThanMs`; returns the ids removed. */
  expirePeers(olderThanMs: number): string[]
  setDiscovering(on: boolean): void
  /** Start a session; returns its id. */
  startSession(init: SessionInit): string
  /**
   * Change a running session. Unknown (or finished) ids are ignored. Setting `status` to
   * `completed` or `error` finishes it as `completeSession` / `failSession` would.
   */
  updateSession(id: string, update: SessionUpdate): void
  /** Add to a running session's counters (what transports call per message). */
  addTraffic(id: string, delta: TrafficDelta): void
  /** Finish a session successfully: out of `activeSessions`, into `recentSessions`. */
  completeSession(id: string): SyncSession | undefined
  /** Finish a session with an error (its `name` and message are kept). */
  failSession(id: string, error: unknown): SyncSession | undefined
  /**
   * Replaces the given fields of the blob slice (the node calls it with the exchange's progress
   * and with the manifest counts). Counts must be finite and ≥ 0: a bad one keeps the old value.
   */
  setBlobs(update: Partial<BlobSyncState>): void
}

export type SyncStore = StoreApi<SyncStoreState>

export interface SyncStoreOptions {
  localDeviceId: DeviceId
  now?: () => Timestamp
  /** Session id generator (tests inject a deterministic one). */
  newSessionId?: () => string
}

// Most advanced first: the state a user most wants to see when several sessions run at once.
const ACTIVE_RANK: Record<SyncStatus, number> = {
  syncing: 0,
  connecting: 1,
  discovering: 2,
  idle: 3,
  completed: 4,
  error: 5,
}

/**
 * The one decision function for the store's summary.
 *
 * 1. Any active session: the most advanced one's status (`syncing` > `connecting` > `discovering`),
 *    and its method; ties go to the better method (LAN, then WebRTC, then QR).
 * 2. No active session but discovery running: `discovering`.
 * 3. Otherwise the outcome of the newest finished session (`completed` / `error`), else `idle`.
 */
export function deriveStatus(
  state: Pick<SyncStoreState, 'activeSessions' | 'recentSessions' | 'discovering'>,
): { status: SyncStatus; currentMethod: SyncMethod | null } {
  let best: SyncSession | undefined
  for (const session of Object.values(state.activeSessions)) {
    if (
      best === undefined ||
      ACTIVE_RANK[session.status] < ACTIVE_RANK[best.status] ||
      (ACTIVE_RANK[session.status] === ACTIVE_RANK[best.status] &&
        SYNC_METHODS.indexOf(session.method) < SYNC_METHODS.indexOf(best.method))
    ) {
      best = session
    }
  }
  if (best !== undefined) return { status: best.status, currentMethod: best.method }
  if (state.discovering) return { status: 'discovering', currentMethod: null }
  return { status: state.recentSessions[0]?.status ?? 'idle', currentMethod: null }
}

function errorInfo(error: unknown): { name: string; message: string } {
  if (error instanceof Error) return { name: error.name, message: error.message }
  if (typeof error === 'object' && error !== null) {
    const e = error as { name?: unknown; message?: unknown }
    return { name: typeof e.name === 'string' ? e.name : 'Error', message: String(e.message ?? '') }
  }
  return { name: 'Error', message: String(error) }
}

const count = (v: unknown, fallback: number): number =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : fallback

/** Create a sync store. */
export function createSyncStore(options: SyncStoreOptions): SyncStore {
  const now = options.now ?? Date.now
  const newSessionId = options.newSessionId ?? (() => `ss_${base32(randomBytes(10))}`)

  return createStore<SyncStoreState>()((set, get) => {
    // Every session-touching action goes through here so the derived fields never go stale.
    const commit = (
      next: Partial<Pick<SyncStoreState, 'activeSessions' | 'recentSessions' | 'discovering' | 'lastSyncTimestamp'>>,
    ) => {
      const state = get()
      const merged = {
        activeSessions: next.activeSessions ?? state.activeSessions,
        recentSessions: next.recentSessions ?? state.recentSessions,
        discovering: next.discovering ?? state.discovering,
      }
      set({ ...next, ...deriveStatus(merged) })
    }

    const finish = (id: string, outcome: 'completed' | 'error', error?: unknown): SyncSession | undefined => {
      const { activeSessions, recentSessions, lastSyncTimestamp } = get()
      const session = activeSessions[id]
      if (session === undefined) return undefined
      const completedAt = now()
      const done: SyncSession = { ...session, status: outcome, completedAt }
      if (outcome === 'error') done.error = errorInfo(error)
      const { [id]: _removed, ...rest } = activeSessions
      commit({
        activeSessions: rest,
        recentSessions: [done, ...recentSessions].slice(0, RECENT_SESSIONS_MAX),
        lastSyncTimestamp: outcome === 'completed' ? completedAt : lastSyncTimestamp,
      })
      return done
    }

    return {
      localDeviceId: options.localDeviceId,
      discoveredPeers: {},
      activeSessions: {},
      recentSessions: [],
      lastSyncTimestamp: null,
      discovering: false,
      status: 'idle',
      currentMethod: null,
      blobs: EMPTY_BLOB_SYNC_STATE,

      upsertPeer(info) {
        set((state) => ({
          discoveredPeers: {
            ...state.discoveredPeers,
            [info.deviceId]: { ...state.discoveredPeers[info.deviceId], ...info },
          },
        }))
      },

      removePeer(deviceId) {
        const { [deviceId]: removed, ...rest } = get().discoveredPeers
        if (removed !== undefined) set({ discoveredPeers: rest })
      },

      expirePeers(olderThanMs) {
        const cutoff = now() - olderThanMs
        const kept: Record<string, DeviceInfo> = {}
        const removed: string[] = []
        for (const [id, peer] of Object.entries(get().discoveredPeers)) {
          if (peer.lastSeen < cutoff) removed.push(id)
          else kept[id] = peer
        }
        if (removed.length > 0) set({ discoveredPeers: kept })
        return removed
      },

      setDiscovering(on) {
        if (get().discovering !== on) commit({ discovering: on })
      },

      startSession(init) {
        const id = init.id ?? newSessionId()
        const existing = get().activeSessions[id]
        if (existing !== undefined) return id
        const session: SyncSession = {
          id,
          peerId: init.peerId,
          method: init.method,
          status: init.status ?? 'connecting',
          startedAt: now(),
          changesSent: 0,
          changesReceived: 0,
          bytesSent: 0,
          bytesReceived: 0,
        }
        commit({ activeSessions: { ...get().activeSessions, [id]: session } })
        return id
      },

      updateSession(id, update) {
        const session = get().activeSessions[id]
        if (session === undefined) return
        if (update.status === 'completed' || update.status === 'error') {
          const outcome = update.status
          const { status: _status, error, ...rest } = update
          if (Object.keys(rest).length > 0) get().updateSession(id, rest)
          finish(id, outcome, error)
          return
        }
        const next: SyncSession = {
          ...session,
          changesSent: count(update.changesSent, session.changesSent),
          changesReceived: count(update.changesReceived, session.changesReceived),
          bytesSent: count(update.bytesSent, session.bytesSent),
          bytesReceived: count(update.bytesReceived, session.bytesReceived),
        }
        if (update.status !== undefined && update.status !== 'idle') next.status = update.status
        if ('peerId' in update) next.peerId = update.peerId
        commit({ activeSessions: { ...get().activeSessions, [id]: next } })
      },

      addTraffic(id, delta) {
        const session = get().activeSessions[id]
        if (session === undefined) return
        get().updateSession(id, {
          changesSent: session.changesSent + count(delta.changesSent, 0),
          changesReceived: session.changesReceived + count(delta.changesReceived, 0),
          bytesSent: session.bytesSent + count(delta.bytesSent, 0),
          bytesReceived: session.bytesReceived + count(delta.bytesReceived, 0),
        })
      },

      completeSession: (id) => finish(id, 'completed'),
      failSession: (id, error) => finish(id, 'error', error),

      setBlobs(update) {
        const old = get().blobs
        const next: BlobSyncState = {
          transfers: update.transfers === undefined ? old.transfers : update.transfers.map((t) => ({ ...t })),
          queued: count(update.queued, old.queued),
          completed: count(update.completed, old.completed),
          failed: update.failed === undefined ? old.failed : update.failed.map((f) => ({ ...f })),
          bytesTotal: count(update.bytesTotal, old.bytesTotal),
          bytesDone: count(update.bytesDone, old.bytesDone),
          etaMs: 'etaMs' in update ? (update.etaMs === undefined ? undefined : count(update.etaMs, 0)) : old.etaMs,
          referenced: count(update.referenced, old.referenced),
          present: count(update.present, old.present),
          missing: count(update.missing, old.missing),
        }
        set({ blobs: next })
      },
    }
  })
}

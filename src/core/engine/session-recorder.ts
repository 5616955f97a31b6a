/**
 * Sessions of every tier into the sync store (src/core/sync/store.ts), through one recorder: a
 * live link's session is begun when the link comes up, counts its traffic as it flows and ends
 * with its report; a session that is one exchange (a QR bundle applied) is recorded whole.
 *
 * Every ended session is also handed to a {@link SyncHistoryPort} (on Node, the SQLite
 * `sync_history` table), so the history of every tier lands in one place without any tier
 * knowing of it, and to `onEnded` (the peer-heads learner persists what the session taught).
 */
import { OrbitError, WireError } from '../errors.js'
import type { DeviceId } from '../ids.js'
import type { SyncStore, TrafficDelta } from '../sync/store.js'
import type { SyncMethod } from '../sync/types.js'
import type { SyncReport } from './sync-session.js'
import type { DocSummary } from '../link/index.js'

/** A session under way in the store. */
export interface RecordedSession {
  readonly id: string
  /** Adds to its counters (a transport's per-message traffic). */
  traffic(delta: TrafficDelta): void
  /**
   * Ends it: with a report, its counters become the report's and a failed report fails it; with
   * none, it completes as counted (a link that closed). Idempotent.
   */
  end(report?: SyncReport): void
}

/** The one way tiers put sessions into the sync store. */
export interface SessionRecorder {
  begin(init: { method: SyncMethod; deviceId: DeviceId | string; status?: 'connecting' | 'syncing' }): RecordedSession
  /** Records a finished session from its report (begun and ended at once). */
  record(report: SyncReport): void
  /** A link's hello summary from `deviceId` (what it holds): the tier that received it passes it on. */
  summary?(deviceId: string, summary: DocSummary | undefined, method: SyncMethod): void
}

/** One finished session as the history keeps it (`orbit sync history`). */
export interface SyncHistoryEntry {
  id: string
  method: SyncMethod
  deviceId: string
  status: 'completed' | 'error'
  changesSent: number
  changesReceived: number
  bytesSent: number
  bytesReceived: number
  /** Epoch ms. */
  startedAt: number
  endedAt: number
  durationMs: number
  /** Documents compared; absent for a link that closed without a session report. */
  documents?: number
  error?: { name: string; code?: string; message: string }
  /** Where the peer was reached (`host:port`, a WebRTC candidate address), when known. */
  via?: string
}

/** Where ended sessions are kept. Implementations must not throw for a well-formed entry. */
export interface SyncHistoryPort {
  append(entry: SyncHistoryEntry): void
  /** Newest first; `deviceId` narrows to one device. */
  list(query: { deviceId?: string; limit: number }): SyncHistoryEntry[]
}

export interface SessionRecorderOptions {
  /** Every ended session is appended here. */
  history?: SyncHistoryPort
  /** Called when a session begins (live heads from the sync protocol are then attributed to its tier). */
  onBegun?: (init: { method: SyncMethod; deviceId: string }) => void
  /** A link's hello summary, passed on by {@link SessionRecorder.summary}. */
  onSummary?: (deviceId: string, summary: DocSummary | undefined, method: SyncMethod) => void
  /** Called after a session ended (and was appended): what it taught is persisted then. */
  onEnded?: (entry: SyncHistoryEntry, report: SyncReport | undefined) => void
  /** Reports a failure of the history or `onEnded` (they must never fail a session). */
  onError?: (error: unknown) => void
  now?: () => number
  newId?: () => string
}

let counter = 0
const localId = (): string => `ss_local_${Date.now().toString(36)}_${(counter++).toString(36)}`

/**
 * A recorder into `store` (none: sessions are not in memory) and, with `options.history`, into the
 * history. The recorder keeps its own counters, so the history is complete with or without a store.
 */
export function sessionRecorder(store: SyncStore | undefined, options: SessionRecorderOptions = {}): SessionRecorder {
  const now = options.now ?? Date.now
  const begin: SessionRecorder['begin'] = (init) => {
    const startedAt = now()
    const id = store?.getState().startSession({ method: init.method, peerId: init.deviceId as DeviceId, status: init.status ?? 'syncing' }) ?? (options.newId ?? localId)()
    try {
      options.onBegun?.({ method: init.method, deviceId: init.deviceId })
    } catch (error) {
      options.onError?.(error)
    }
    const counted = { changesSent: 0, changesReceived: 0, bytesSent: 0, bytesReceived: 0 }
    let ended = false
    return {
      id,
      traffic(delta) {
        if (ended) return
        counted.changesSent += delta.changesSent ?? 0
        counted.changesReceived += delta.changesReceived ?? 0
        counted.bytesSent += delta.bytesSent ?? 0
        counted.bytesReceived += delta.bytesReceived ?? 0
        store?.getState().addTraffic(id, delta)
      },
      end(report) {
        if (ended) return
        ended = true
        const endedAt = now()
        if (store !== undefined) {
          const state = store.getState()
          if (report === undefined) state.completeSession(id)
          else {
            state.updateSession(id, {
              changesSent: report.changesSent,
              changesReceived: report.changesReceived,
              bytesSent: report.bytesSent,
              bytesReceived: report.bytesReceived,
            })
            if (report.status === 'completed') state.completeSession(id)
            else state.failSession(id, reportError(report))
          }
        }
        const entry: SyncHistoryEntry = {
          id,
          method: init.method,
          deviceId: init.deviceId,
          status: report?.status ?? 'completed',
          ...(report === undefined
            ? counted
            : { changesSent: report.changesSent, changesReceived: report.changesReceived, bytesSent: report.bytesSent, bytesReceived: report.bytesReceived }),
          startedAt,
          endedAt,
          // A report measures its own session (a QR import's apply, a sync until in sync); a link counts its lifetime.
          durationMs: report?.durationMs ?? endedAt - startedAt,
          ...(report === undefined ? {} : { documents: report.documents }),
          ...(report?.error === undefined ? {} : { error: report.error }),
          ...(report?.peer.address === undefined ? {} : { via: report.peer.address }),
        }
        try {
          options.history?.append(entry)
          options.onEnded?.(entry, report)
        } catch (error) {
          options.onError?.(error)
        }
      },
    }
  }
  return {
    begin,
    record(report) {
      begin({ method: report.method, deviceId: report.peer.deviceId }).end(report)
    },
    summary(deviceId, summary, method) {
      try {
        options.onSummary?.(deviceId, summary, method)
      } catch (error) {
        options.onError?.(error)
      }
    },
  }
}

/**
 * A recorder whose link sessions wait for the session report: `settle(report)` ends every session
 * begun through it with that report (a link that closed first waits for it), or records the report
 * whole when none was begun (the dial itself failed). For a one-shot `orbit sync` run in-process,
 * whose tier ends its link session before the caller holds the report.
 */
export function settlingRecorder(inner: SessionRecorder): SessionRecorder & { settle(report: SyncReport): void } {
  const open: RecordedSession[] = []
  let settled = false
  return {
    begin(init) {
      const session = inner.begin(init)
      if (settled) return session
      open.push(session)
      return { id: session.id, traffic: (d) => session.traffic(d), end: (report) => (report === undefined ? undefined : session.end(report)) }
    },
    record: (report) => inner.record(report),
    summary: (deviceId, summary, method) => inner.summary?.(deviceId, summary, method),
    settle(report) {
      if (settled) return
      settled = true
      if (open.length === 0) inner.record(report)
      for (const session of open.splice(0)) session.end(report)
    },
  }
}

/** The typed error a failed report carries (its name and code survive into the store). */
function reportError(report: SyncReport): OrbitError {
  const error = new WireError(report.error?.message ?? 'sync failed', { code: report.error?.code ?? 'SYNC' })
  if (report.error?.name !== undefined) Object.defineProperty(error, 'name', { value: report.error.name })
  return error
}

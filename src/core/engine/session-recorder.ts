/**
 * Sessions of every tier into the sync store (src/core/sync/store.ts), through one recorder: a
 * live link's session is begun when the link comes up, counts its traffic as it flows and ends
 * with its report; a session that is one exchange (a QR bundle applied) is recorded whole.
 */
import { OrbitError, WireError } from '../errors.js'
import type { DeviceId } from '../ids.js'
import type { SyncStore, TrafficDelta } from '../sync/store.js'
import type { SyncMethod } from '../sync/types.js'
import type { SyncReport } from './sync-session.js'

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
}

/** A recorder into `store`; with no store, sessions are reported but not recorded. */
export function sessionRecorder(store: SyncStore | undefined): SessionRecorder {
  const begin: SessionRecorder['begin'] = (init) => {
    const id = store?.getState().startSession({ method: init.method, peerId: init.deviceId as DeviceId, status: init.status ?? 'syncing' }) ?? ''
    let ended = false
    return {
      id,
      traffic(delta) {
        if (!ended && store !== undefined) store.getState().addTraffic(id, delta)
      },
      end(report) {
        if (ended || store === undefined) return
        ended = true
        const state = store.getState()
        if (report === undefined) return void state.completeSession(id)
        state.updateSession(id, {
          changesSent: report.changesSent,
          changesReceived: report.changesReceived,
          bytesSent: report.bytesSent,
          bytesReceived: report.bytesReceived,
        })
        if (report.status === 'completed') state.completeSession(id)
        else state.failSession(id, reportError(report))
      },
    }
  }
  return {
    begin,
    record(report) {
      begin({ method: report.method, deviceId: report.peer.deviceId }).end(report)
    },
  }
}

/** The typed error a failed report carries (its name and code survive into the store). */
function reportError(report: SyncReport): OrbitError {
  const error = new WireError(report.error?.message ?? 'sync failed', { code: report.error?.code ?? 'SYNC' })
  if (report.error?.name !== undefined) Object.defineProperty(error, 'name', { value: report.error.name })
  return error
}

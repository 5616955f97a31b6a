/**
 * How the CLI prints a sync session's report, whatever the tier: `orbit sync` (LAN, or
 * `--via webrtc` with or without a daemon) and `orbit webrtc offer | answer | accept --wait`.
 * One renderer, so every tier reads the same.
 */
import { WebRtcError, WireError } from '../../core/errors.js'
import type { SyncReport } from '../../core/engine/sync-session.js'
import { bytes } from './format.js'

/** Two lines for people: who, where (and how, for WebRTC), how long; what crossed each way. */
export function renderSyncReport(r: SyncReport): string {
  const where = r.peer.address === undefined ? '' : ` at ${r.peer.address}${r.peer.candidateType === undefined ? '' : ` (${r.peer.candidateType})`}`
  const head = `${r.status === 'completed' ? 'Synced' : 'Sync failed'} with ${r.peer.deviceId}${where} over ${r.method} in ${r.durationMs} ms`
  const docs = r.status === 'completed' ? `, ${r.documents} documents in sync` : ''
  return [
    head + (r.error ? `: ${r.error.message}` : ''),
    `  sent ${r.changesSent} changes (${bytes(r.bytesSent)}), received ${r.changesReceived} changes (${bytes(r.bytesReceived)})${docs}`,
  ].join('\n')
}

/**
 * Throws when a session did not complete, so the CLI exits 1 after printing its report:
 * WebRtcError for a WebRTC session, WireError otherwise, with the session's error code.
 */
export function failUnlessCompleted(reports: readonly SyncReport[]): void {
  const failed = reports.find((r) => r.status !== 'completed')
  if (failed === undefined) return
  const message = `sync with ${failed.peer.deviceId} did not complete: ${failed.error?.message ?? 'unknown error'}`
  const code = failed.error?.code ?? 'SYNC'
  throw failed.method === 'webrtc' ? new WebRtcError(message, { code }) : new WireError(message, { code })
}

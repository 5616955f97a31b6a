/**
 * How the CLI prints a sync session's report, whatever the tier: `orbit sync` (any tier, chosen
 * by the orchestrator or by `--via`) and `orbit webrtc offer | answer | accept --wait`. One
 * renderer, so every tier reads the same; which tier served and why the others were skipped are
 * the orchestrator's (`via`, `skipped`), and a sync no live tier could serve prints the commands
 * that carry a code instead.
 */
import { WebRtcError, WireError } from '../../core/errors.js'
import type { SyncReport } from '../../core/engine/sync-session.js'
import type { SyncMethod } from '../../core/sync/types.js'
import { bytes } from './format.js'

const TIER_NAMES: Record<SyncMethod, string> = { 'local-network': 'LAN', webrtc: 'WebRTC', 'qr-code': 'QR' }

/** Two lines for people: who, where (and how, for WebRTC), how long; what crossed each way. Then the skipped tiers, if any. */
export function renderSyncReport(r: SyncReport): string {
  if (isNoRoute(r)) return renderNoRoute(r, [])
  const where = r.peer.address === undefined ? (r.via === undefined ? '' : ` via ${r.via}`) : ` at ${r.peer.address}${r.peer.candidateType === undefined ? '' : ` (${r.peer.candidateType})`}`
  const head = `${r.status === 'completed' ? 'Synced' : 'Sync failed'} with ${r.peer.deviceId}${where} over ${r.method} in ${r.durationMs} ms`
  const docs = r.status === 'completed' ? `, ${r.documents} documents in sync` : ''
  return [
    head + (r.error ? `: ${r.error.message}` : ''),
    `  sent ${r.changesSent} changes (${bytes(r.bytesSent)}), received ${r.changesReceived} changes (${bytes(r.bytesReceived)})${docs}`,
    ...(r.skipped ?? []).map((s) => `  skipped ${TIER_NAMES[s.method]} (${s.reason})${s.detail === '' ? '' : `: ${s.detail}`}`),
  ].join('\n')
}

/** The orchestrator found no live tier (error code `NO_ROUTE`): only a carried code or QR frames will do. */
export function isNoRoute(r: SyncReport): boolean {
  // `skipped` tells it from a tier's own NO_ROUTE (a WebRTC connection that never came up).
  return r.status === 'error' && r.error?.code === 'NO_ROUTE' && r.skipped !== undefined
}

/** Quotes an argument for a POSIX shell when it needs it. */
const sh = (arg: string): string => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`)

/**
 * The exact commands that sync with `deviceId` by hand when no live tier reaches it: a WebRTC
 * offer (answered on the other device) and a QR export for it. `dataArg` is the `--data DIR`
 * the user gave (repeated so the commands run as printed), `daemon` whether `orbit serve` holds
 * offers here (then the answer goes to `orbit webrtc accept`).
 */
export function carriedCommands(deviceId: string, o: { dataArg?: string; daemon: boolean }): Array<{ method: SyncMethod; command: string; then: string }> {
  const data = o.dataArg === undefined ? '' : ` --data ${sh(o.dataArg)}`
  const short = deviceId.slice(0, 8)
  const out = `./qr-for-${short}`
  return [
    {
      method: 'webrtc',
      command: `orbit${data} webrtc offer --qr offer-for-${short}.png`,
      then: o.daemon
        ? `on ${short}: \`orbit webrtc answer CODE\`; here: \`orbit${data} webrtc accept ANSWER --wait\``
        : `on ${short}: \`orbit webrtc answer CODE\`; paste its answer here`,
    },
    { method: 'qr-code', command: `orbit${data} qr export --for ${deviceId} --out ${out}`, then: `on ${short}: \`orbit qr import ${out} --reply ./qr-reply\`; here: \`orbit${data} qr import ./qr-reply\`` },
  ]
}

/** What a NO_ROUTE report says to people: why each tier was skipped, then the commands to run. */
export function renderNoRoute(r: SyncReport, commands: ReadonlyArray<{ command: string; then: string }>): string {
  return [
    (r.skipped ?? []).length === 0 ? `${r.error?.message ?? `carry a code or QR frames to ${r.peer.deviceId}`}:` : `No live tier reaches ${r.peer.deviceId}:`,
    ...(r.skipped ?? []).map((s) => `  ${TIER_NAMES[s.method]}: ${s.reason}${s.detail === '' ? '' : ` — ${s.detail}`}`),
    ...(commands.length === 0 ? [] : ['Carry a code or QR frames instead, one of:', ...commands.map((c) => `  ${c.command}\n      then ${c.then}`)]),
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
  throw failed.method === 'webrtc' && !isNoRoute(failed) ? new WebRtcError(message, { code }) : new WireError(message, { code })
}

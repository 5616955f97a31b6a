/**
 * `orbit sync history [DEVICE]`: the finished sync sessions of every tier (LAN, WebRTC, QR), newest
 * first, from the store's `sync_history` table — through the daemon when one runs, else in-process.
 */
import { InvalidArgumentError, type Command } from 'commander'
import type { CliContext } from '../context.js'
import { withApi } from '../api.js'
import { bytes, table, when } from '../format.js'
import type { SyncHistoryEntry } from '../../node/api.js'

const LIMIT_MAX = 10_000

function limit(value: string): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value) : NaN
  if (!Number.isSafeInteger(n) || n < 1 || n > LIMIT_MAX) throw new InvalidArgumentError(`expected a whole number from 1 to ${LIMIT_MAX}`)
  return n
}

const METHOD: Record<SyncHistoryEntry['method'], string> = { 'local-network': 'lan', webrtc: 'webrtc', 'qr-code': 'qr' }

/** A duration for people: 840 ms, 3.2 s, 4m 10s. */
function took(ms: number): string {
  if (ms < 1000) return `${ms} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`
  return `${Math.floor(ms / 60_000)}m ${Math.round((ms % 60_000) / 1000)}s`
}

/** Registers `history` under the `sync` command. */
export function registerSyncHistory(sync: Command, ctx: CliContext): void {
  sync
    .command('history')
    .description('finished sync sessions of every tier (LAN, WebRTC, QR), newest first')
    .argument('[device]', 'only sessions with this paired device (id or unique prefix)')
    .option('--limit <n>', `at most this many sessions (1-${LIMIT_MAX})`, limit, 20)
    .addHelpText(
      'after',
      `
Every session that ended is kept (the newest 10,000): a LAN link from connect to close, an
\`orbit sync\`, a WebRTC session, a QR export for a device or an import. Columns: when it ended,
device, method (lan, webrtc, qr), status, changes and bytes sent / received, duration, error.
A LAN link's row counts the link's whole life; a session report's row its own session. A dial
to a HOST:PORT that never answered names no device: its row shows the address.
Works with or without \`orbit serve\` running on this data dir.

Examples:
  $ orbit sync history
  $ orbit sync history k3f9 --limit 5
  $ orbit sync history --json`,
    )
    .action(
      ctx.action<[string | undefined]>(async (device, opts, cmd) => {
        const { dataDir } = ctx.globals(cmd)
        const sessions = await withApi(dataDir, (api) => api.syncHistory({ ...(device === undefined ? {} : { device }), limit: opts.limit as number }))
        ctx.emit(cmd, { sessions }, () =>
          sessions.length === 0
            ? 'No sync sessions recorded yet. Run `orbit sync DEVICE`, or start `orbit serve`.'
            : table(
                ['ENDED', 'DEVICE', 'METHOD', 'STATUS', 'SENT', 'RECEIVED', 'DURATION', 'ERROR'],
                sessions.map((s) => [
                  when(s.endedAt),
                  s.deviceId === '' ? (s.via ?? '?') : s.deviceId,
                  METHOD[s.method],
                  s.status,
                  `${s.changesSent} ch, ${bytes(s.bytesSent)}`,
                  `${s.changesReceived} ch, ${bytes(s.bytesReceived)}`,
                  took(s.durationMs),
                  s.error === undefined ? '' : `${s.error.code ?? s.error.name}: ${s.error.message}`,
                ]),
                80,
              ),
        )
      }),
    )
}

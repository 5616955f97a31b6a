import type { CommandModule } from '../command-module.js'
import { table } from '../format.js'
import { ago } from '../lan-options.js'
import { withApi } from '../api.js'
import type { PeerSyncView } from '../../node/api.js'

const TIER: Record<string, string> = { 'local-network': 'LAN', webrtc: 'WebRTC', 'qr-code': 'QR' }

/**
 * A peer's sync state for people: "in sync", "3 documents behind", "2 ahead, 1 behind", "unknown";
 * then via which tier and when it was learnt; then, for any state but in sync, the reason.
 */
export function syncText(sync: PeerSyncView, now = Date.now()): string {
  const n = (k: number, what: string): string => `${k} document${k === 1 ? '' : 's'} ${what}`
  const state =
    sync.state === 'in-sync'
      ? 'in sync'
      : sync.state === 'behind'
        ? n(sync.behind, 'behind')
        : sync.state === 'ahead'
          ? n(sync.ahead, 'ahead')
          : sync.state === 'diverged'
            ? `${n(sync.behind, 'behind')}, ${sync.ahead} ahead`
            : 'unknown'
  const via = sync.via === undefined ? '' : ` via ${TIER[sync.via] ?? sync.via}${sync.at === undefined ? '' : ` ${ago(sync.at, now)}`}`
  const reason = sync.state === 'in-sync' || sync.reason === undefined ? '' : ` (${sync.reason})`
  return state + via + reason
}

export const peersCommands: CommandModule = {
  name: 'peers',
  register(program, ctx) {
    program
      .command('peers')
      .description('devices discovered on the LAN and paired devices: addresses, when last seen, and their sync state')
      .addHelpText(
        'after',
        `
Discovery runs inside \`orbit serve\`; without it only paired devices and their remembered
addresses are listed.

SYNC compares what each device is known to hold (heads learnt on any tier: LAN, WebRTC, QR)
with what this device holds now: "in sync", "N documents behind" (it lacks changes made here),
"N documents ahead" (it holds changes this device lacks), or "unknown" (nothing learnt yet, or
not decidable without loading the document); then via which tier and when that was learnt, and
for any state but in sync the reason (offline, no-route, needs-code, error, not-serving, ...).
--json gives each row's "sync": { state, behind, ahead, unknown, documents, via, at, reason, detail }.

Examples:
  $ orbit peers
  $ orbit peers --json`,
      )
      .action(
        ctx.action(async (_opts, cmd) => {
          const { dataDir } = ctx.globals(cmd)
          const { peers, where } = await withApi(dataDir, async (api) => ({ peers: await api.peers(), where: api.where }))
          if (where === 'in-process') ctx.hint(cmd, '(orbit serve is not running on this data dir: no discovery; paired devices only)')
          ctx.emit(cmd, { peers }, () =>
            peers.length === 0
              ? 'No peers yet. Start `orbit serve`, then pair a device: `orbit pair invite`.'
              : table(
                  ['ID', 'NAME', 'STATE', 'SYNC', 'ADDRESSES', 'LAST SEEN'],
                  peers.map((p) => [
                    p.deviceId,
                    p.name,
                    [p.revoked ? 'revoked' : p.paired ? 'paired' : 'not paired', p.connected ? (p.link === 'webrtc' ? 'connected (webrtc)' : 'connected') : '', p.discovered ? 'discovered' : '']
                      .filter(Boolean)
                      .join(', '),
                    syncText(p.sync),
                    p.addresses.join(' '),
                    ago(p.lastSeen),
                  ]),
                  60,
                ),
          )
        }),
      )
  },
}

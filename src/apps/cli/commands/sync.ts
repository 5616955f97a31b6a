import type { CommandModule } from '../command-module.js'
import { withApi } from '../api.js'
import { collect, durationOption, oneOf } from '../options.js'
import { carriedCommands, failUnlessCompleted, isNoRoute, renderNoRoute, renderSyncReport } from '../sync-report.js'
import { duration } from '../lan-options.js'
import type { SyncReport } from '../../../core/engine/sync-session.js'
import { registerSyncHistory } from './sync-history.js'
import type { SyncMethod } from '../../../core/sync/types.js'
import type { OrbitApi } from '../../node/api.js'
import type { SyncBlobs } from '../../node/blobs.js'

/** The images line of `orbit sync`. */
export function renderSyncBlobs(b: SyncBlobs): string {
  if (b.fetched === 0 && b.failed === 0) return '  images: none missing'
  const failed = b.failed === 0 ? '' : `, ${b.failed} not fetched (${b.failures?.[0]?.message ?? 'see `orbit blobs`'})`
  return `  images: ${b.fetched} fetched${failed}`
}

/** `--via` as people type it, and the method each names. */
const VIA = { auto: 'auto', lan: 'local-network', webrtc: 'webrtc', qr: 'qr-code' } as const satisfies Record<string, 'auto' | SyncMethod>
type Via = keyof typeof VIA

const isAddress = (target: string): boolean => /:\d+$/.test(target)

/** A member's full id from an id or unique prefix (for the printed commands); the input when it names none. */
async function fullId(api: OrbitApi, target: string): Promise<string> {
  const rows = (await api.listDevices()).filter((d) => !d.self && d.status === 'member' && d.id.startsWith(target))
  return rows.length === 1 ? rows[0]!.id : target
}

/**
 * Without a daemon only the LAN runs by itself (by a remembered address): when it fails, the same
 * report the daemon's orchestrator gives — no live tier, each skipped with its reason.
 */
function inProcessNoRoute(deviceId: string, error: { name?: string; code?: string; message?: string }): SyncReport {
  const message = error.message ?? String(error)
  const lanReason = /no address is known/.test(message) ? 'no-address' : error.name === 'WireError' || error.name === 'AbortedError' ? 'offline' : 'error'
  const skipped: NonNullable<SyncReport['skipped']> = [
    { method: 'local-network', reason: lanReason, detail: message },
    { method: 'webrtc', reason: 'needs-code', detail: 'without `orbit serve`, a WebRTC session needs its offer and answer carried between the devices (`orbit webrtc offer`)' },
    { method: 'qr-code', reason: 'needs-code', detail: 'QR frames are carried by hand (`orbit qr export --for`)' },
  ]
  return {
    method: 'qr-code',
    status: 'error',
    peer: { deviceId },
    changesSent: 0,
    changesReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    durationMs: 0,
    documents: 0,
    error: { name: 'WireError', code: 'NO_ROUTE', message: `no live tier reaches ${deviceId}; carry a code or QR frames (LAN: ${message})` },
    skipped,
  }
}

const CONNECTIVITY = new Set(['WireError', 'HandshakeError', 'AbortedError'])

export const syncCommands: CommandModule = {
  name: 'sync',
  register(program, ctx) {
    program
      .command('sync')
      .description('sync now with one paired device (or every one) over the best tier that works, and report the session')
      .argument('[target]', 'a paired device id (or unique prefix), or HOST:PORT (always the LAN)')
      .option('--via <method>', 'auto (the best tier that works, falling back in order), lan, webrtc (a relay route, else an offer code read back on stdin) or qr (print the commands)', oneOf(Object.keys(VIA) as Via[]), 'auto')
      .option('--ice <url>', 'with --via webrtc: STUN/TURN server (repeatable; see `orbit webrtc --help`)', collect)
      .option('--host <address>', 'with --via webrtc: local address for host candidates (repeatable)', collect)
      .option('--qr <file.png>', 'with --via webrtc: also write the offer code as one QR code PNG')
      .addOption(durationOption('--timeout <duration>', 'give up when not in sync after this long', duration, 30_000))
      .addHelpText(
        'after',
        `
Connects, syncs until both sides hold the same changes for every document (or the timeout), and
prints { method, status, peer, via, skipped, changesSent, changesReceived, bytesSent, bytesReceived, durationMs, documents }.
Works with or without \`orbit serve\` running on this data dir; without it, give a target.
Exit code 1 when the session did not complete. Through \`orbit serve\`, the images (logos) the
synced documents reference and this device lacks are fetched after the session: "images: N
fetched" (--json: "blobs": { fetched, failed, failures }); see \`orbit blobs\`.

--via auto (the default) chooses the tier: a live link if there is one (it is kept: no second
link on another tier), else the LAN (a discovered or remembered address that answers), else
WebRTC when a member relays for it. "method" says which tier served, "via" how it reached the
device, "skipped" why each tier before it was passed over. When no live tier works it exits 1
and prints the commands that carry a code instead (\`orbit webrtc offer\`, \`orbit qr export --for\`);
with --json they are in "commands". Without \`orbit serve\`, auto tries the LAN by a remembered
address only.

--via webrtc: through a relay member when the daemon has a route; otherwise it prints an offer code
(with --json, { "code": ... } is the first line), reads the answer code of \`orbit webrtc answer\`
(or the path of its QR PNG) on standard input, connects, syncs and prints the same report. With
\`orbit serve\` running, the daemon holds the offer and makes the connection.

Examples:
  $ orbit sync k3f9x2ab               # the best tier that works; exit 1 and what to run when none does
  $ orbit sync 192.168.1.20:7878      # the LAN, at this address
  $ orbit sync k3f9x2ab --json
  $ orbit sync                        # with orbit serve running: every paired device
  $ orbit sync --via webrtc --ice stun:stun.example.org:3478   # then paste the answer of \`orbit webrtc answer\``,
      )
      .action(
        ctx.action<[string | undefined]>(async (target, opts, cmd) => {
          const via = opts.via as Via
          const runCodeFlow = async (): Promise<void> => {
            // Same report as the other tiers; the offer code is printed first, the answer read from stdin.
            const { runWebRtcOffer } = await import('./webrtc.js')
            return runWebRtcOffer(ctx, cmd, opts, 'sync')
          }
          if (via === 'webrtc' && (target === undefined || isAddress(target))) return runCodeFlow()
          const { dataDir } = ctx.globals(cmd)
          const dataArg = cmd.optsWithGlobals<{ data?: string }>().data
          const timeoutMs = opts.timeout as number
          const outcome = await withApi(dataDir, async (api) => {
            if (target === undefined && api.where === 'in-process') {
              cmd.error('error: give a device or HOST:PORT to sync with (or start `orbit serve`, which knows its peers)', {
                exitCode: 2,
                code: 'commander.missingArgument',
              })
            }
            const daemon = api.where === 'daemon'
            const commandsFor = async (r: SyncReport) => (isNoRoute(r) || via === 'qr' ? carriedCommands(await fullId(api, r.peer.deviceId), { ...(dataArg === undefined ? {} : { dataArg }), daemon }) : undefined)
            let result: SyncReport | { sessions: SyncReport[] }
            if (via === 'qr') {
              // Nothing runs by itself over QR: say what to run, and exit 1 (nothing synced).
              const { WireError } = await import('../../../core/errors.js')
              if (target === undefined || isAddress(target)) throw new WireError('--via qr needs a paired device: `orbit qr export --for DEVICE --out DIR`', { code: 'NEEDS_CODE' })
              const id = await fullId(api, target)
              if (id === target && !(await api.listDevices()).some((d) => d.id === id && !d.self && d.status === 'member')) {
                const { UnknownIdError } = await import('../../../core/errors.js')
                throw new UnknownIdError('paired device', target)
              }
              const r = inProcessNoRoute(id, { name: 'WireError', message: 'not tried (--via qr)' })
              result = { ...r, skipped: [], error: { name: 'WireError', code: 'NO_ROUTE', message: `--via qr: carry QR frames to ${id}` } }
            } else {
              try {
                result = await api.sync({ ...(target === undefined ? {} : { target }), timeoutMs, via: VIA[via] })
              } catch (error) {
                const e = error as { name?: string; code?: string; message?: string }
                // No relay route: the WebRTC code flow, as before the orchestrator.
                if (via === 'webrtc' && e.code === 'NEEDS_CODE') return { codeFlow: true as const }
                if (via === 'auto' && !daemon && target !== undefined && !isAddress(target) && CONNECTIVITY.has(e.name ?? '')) {
                  result = inProcessNoRoute(await fullId(api, target), e)
                } else throw error
              }
              // In-process auto: the LAN served by a remembered address, nothing before it.
              if (!daemon && via === 'auto' && !('sessions' in result) && result.skipped === undefined && result.status === 'completed') {
                result = { ...result, ...(result.peer.address === undefined ? {} : { via: result.peer.address }), skipped: [] }
              }
            }
            const reports = 'sessions' in result ? result.sessions : [result]
            const withCommands = await Promise.all(reports.map(async (r) => ({ report: r, commands: await commandsFor(r) })))
            // A node (the daemon) fetches the images the synced documents reference, and says so.
            const blobs = (result as { blobs?: SyncBlobs }).blobs
            return { single: !('sessions' in result), withCommands, blobs }
          })
          if ('codeFlow' in outcome) return runCodeFlow()
          const { single, withCommands, blobs } = outcome
          const json = withCommands.map(({ report, commands }) => (commands === undefined ? report : { ...report, commands: commands.map((c) => `${c.command}   # then ${c.then}`) }))
          const withBlobs = blobs === undefined ? {} : { blobs }
          ctx.emit(cmd, single ? { ...json[0], ...withBlobs } : { sessions: json, ...withBlobs }, () =>
            [
              ...withCommands.map(({ report, commands }) => (commands === undefined ? renderSyncReport(report) : renderNoRoute(report, commands))),
              ...(blobs === undefined ? [] : [renderSyncBlobs(blobs)]),
            ].join('\n'),
          )
          failUnlessCompleted(withCommands.map((w) => w.report))
        }),
      )
    // `orbit sync history` (its own file): sessions of every tier, from the store.
    registerSyncHistory(program.commands.find((c) => c.name() === 'sync')!, ctx)
  },
}

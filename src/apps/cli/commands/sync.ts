import type { CommandModule } from '../command-module.js'
import { withApi } from '../api.js'
import { collect, durationOption, oneOf } from '../options.js'
import { failUnlessCompleted, renderSyncReport } from '../sync-report.js'
import { duration } from '../lan-options.js'
import type { SyncReport } from '../../../core/engine/sync-session.js'
import { registerSyncHistory } from './sync-history.js'

export const syncCommands: CommandModule = {
  name: 'sync',
  register(program, ctx) {
    program
      .command('sync')
      .description('sync now with one device (or every reachable paired device) and report the session')
      .argument('[target]', 'a paired device id (or unique prefix), or HOST:PORT')
      .option('--via <method>', 'how to reach it: lan, or webrtc (prints an offer code, reads the answer on stdin)', oneOf(['lan', 'webrtc'] as const), 'lan')
      .option('--ice <url>', 'with --via webrtc: STUN/TURN server (repeatable; see `orbit webrtc --help`)', collect)
      .option('--host <address>', 'with --via webrtc: local address for host candidates (repeatable)', collect)
      .option('--qr <file.png>', 'with --via webrtc: also write the offer code as one QR code PNG')
      .addOption(durationOption('--timeout <duration>', 'give up when not in sync after this long', duration, 30_000))
      .addHelpText(
        'after',
        `
Connects, syncs until both sides hold the same changes for every document (or the timeout), and
prints { method, status, peer, changesSent, changesReceived, bytesSent, bytesReceived, durationMs, documents }.
Works with or without \`orbit serve\` running on this data dir; without it, give a target.
Exit code 1 when the session did not complete.

--via webrtc: prints an offer code (with --json, { "code": ... } is the first line), reads the
answer code of \`orbit webrtc answer\` (or the path of its QR PNG) on standard input, connects,
syncs and prints the same report (method "webrtc"). With \`orbit serve\` running, the daemon holds
the offer and makes the connection; this command waits for its session and prints its report.

Examples:
  $ orbit sync 192.168.1.20:7878
  $ orbit sync k3f9x2ab --json
  $ orbit sync            # with orbit serve running: every connected or known paired device
  $ orbit sync --via webrtc --ice stun:stun.example.org:3478   # then paste the answer of \`orbit webrtc answer\``,
      )
      .action(
        ctx.action<[string | undefined]>(async (target, opts, cmd) => {
          if (opts.via === 'webrtc') {
            // Same report as the other tiers; the offer code is printed first, the answer read from stdin.
            const { runWebRtcOffer } = await import('./webrtc.js')
            return runWebRtcOffer(ctx, cmd, opts, 'sync')
          }
          const { dataDir } = ctx.globals(cmd)
          const timeoutMs = opts.timeout as number
          const result = await withApi(dataDir, async (api) => {
            if (target === undefined && api.where === 'in-process') {
              cmd.error('error: give a device or HOST:PORT to sync with (or start `orbit serve`, which knows its peers)', {
                exitCode: 2,
                code: 'commander.missingArgument',
              })
            }
            return api.sync({ ...(target === undefined ? {} : { target }), timeoutMs })
          })
          const single = !('sessions' in result)
          const reports: SyncReport[] = 'sessions' in result ? result.sessions : [result]
          ctx.emit(cmd, single ? reports[0] : { sessions: reports }, () => reports.map(renderSyncReport).join('\n'))
          failUnlessCompleted(reports)
        }),
      )
    // `orbit sync history` (its own file): sessions of every tier, from the store.
    registerSyncHistory(program.commands.find((c) => c.name() === 'sync')!, ctx)
  },
}

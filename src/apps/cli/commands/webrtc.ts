/**
 * `orbit webrtc offer | answer | accept | ice`: sync with a device on another network over WebRTC,
 * with no signalling server — the offer and the answer travel as short codes (or one QR PNG each).
 * Register with `webrtcCommands` in commands/index.ts.
 */
import type { Command } from 'commander'
import type { CommandModule } from '../command-module.js'
import type { ActionOptions, CliContext } from '../context.js'
import { collect } from '../options.js'
import { failUnlessCompleted, renderSyncReport } from '../sync-report.js'
import { duration } from '../lan-options.js'
import type { SyncReport } from '../../../core/engine/sync-session.js'

const NETWORK_HELP = `
ICE servers: none by default (host candidates only, enough on one network or with a public IP).
Give --ice per run, or store them in the data dir with \`orbit webrtc ice add URL\`.
--host restricts host candidates to given local addresses (stored: \`orbit webrtc host add ADDR\`).`

/** Options shared by offer, answer and `orbit sync --via webrtc`. */
function networkOptions(cmd: Command): Command {
  return cmd
    .option('--ice <url>', 'STUN/TURN server: stun:HOST:PORT or turn:USER:PASS@HOST:PORT (repeatable)', collect)
    .option('--host <address>', 'use only this local address for host candidates (repeatable)', collect)
    .option('--qr <file.png>', 'also write the code as one QR code PNG')
    .option('--timeout <duration>', 'give up when not connected and in sync this long after the answer (default 60s)', duration)
    .option('--ttl <duration>', 'lifetime of the code printed (default 10m; the answering side waits this long for the connection)', duration)
}

interface RunOptions {
  ice?: string[]
  hostAddresses?: string[]
  timeoutMs?: number
  ttlMs?: number
}

function runOptions(opts: ActionOptions): RunOptions {
  return {
    ...(Array.isArray(opts.ice) ? { ice: opts.ice as string[] } : {}),
    ...(Array.isArray(opts.host) ? { hostAddresses: opts.host as string[] } : {}),
    ...(typeof opts.timeout === 'number' ? { timeoutMs: opts.timeout } : {}),
    ...(typeof opts.ttl === 'number' ? { ttlMs: opts.ttl } : {}),
  }
}

/** Validates --ice and --host before anything opens (a bad value is a ValidationError, exit 1). */
async function checkNetworkOptions(o: RunOptions): Promise<void> {
  const { parseIceServer } = await import('../../../core/webrtc/ice-server.js')
  const { parseHostAddress } = await import('../../node/webrtc-config.js')
  for (const spec of o.ice ?? []) parseIceServer(spec)
  for (const host of o.hostAddresses ?? []) parseHostAddress(host)
}

/** A code given on the command line or stdin: the code itself, or a PNG file holding it as a QR code. */
async function readCode(ctx: CliContext, input: string): Promise<string> {
  const text = input.trim()
  if (text.startsWith('orbit-')) return text
  const { resolve } = await import('node:path')
  const { existsSync } = await import('node:fs')
  const path = resolve(ctx.io.cwd, text)
  if (text !== '' && existsSync(path)) {
    const { readFile } = await import('node:fs/promises')
    const { decodeQrPng } = await import('../../../adapters/qr-image/index.js')
    return new TextDecoder().decode(decodeQrPng(await readFile(path))).trim()
  }
  return text
}

async function writeQr(ctx: CliContext, file: string | undefined, code: string): Promise<string | undefined> {
  if (file === undefined) return undefined
  const { resolve } = await import('node:path')
  const { writeFile } = await import('node:fs/promises')
  const { renderQrPng } = await import('../../../adapters/qr-image/index.js')
  const path = resolve(ctx.io.cwd, file)
  await writeFile(path, renderQrPng(new TextEncoder().encode(code)))
  return path
}

/** One line from standard input (the answer code, or a PNG path); WebRtcError `NO_ANSWER` at end of input. */
async function readStdinLine(): Promise<string> {
  const { createInterface } = await import('node:readline')
  const rl = createInterface({ input: process.stdin, terminal: false })
  try {
    for await (const line of rl) {
      if (line.trim() !== '') return line
    }
  } finally {
    rl.close()
    process.stdin.pause()
  }
  const { WebRtcError } = await import('../../../core/errors.js')
  throw new WebRtcError('no answer code on standard input (it ended first)', { code: 'NO_ANSWER' })
}

/**
 * Ctrl-C / SIGTERM as a promise that rejects with AbortedError `INTERRUPTED`, so a caller racing
 * it can clean up (withdraw an offer held by the daemon) before the process exits. Listens from
 * the call until `dispose()`.
 */
function interruption(): { interrupted: Promise<never>; dispose: () => void } {
  let onSignal: (signal: NodeJS.Signals) => void = () => undefined
  const interrupted = new Promise<never>((_, reject) => {
    onSignal = (signal) =>
      void import('../../../core/errors.js').then(({ AbortedError }) => reject(new AbortedError(`interrupted (${signal})`, { code: 'INTERRUPTED' })))
  })
  interrupted.catch(() => undefined)
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  return {
    interrupted,
    dispose: () => {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    },
  }
}

/** Prints the code: `{ "code": ... }` as the first JSON line, or the code and what to do next. */
function printCode(ctx: CliContext, cmd: Command, data: Record<string, unknown> & { code: string }, next: string): void {
  if (ctx.globals(cmd).json) ctx.io.stdout(JSON.stringify(data) + '\n')
  else {
    ctx.io.stdout(data.code + '\n')
    ctx.io.stderr(next + '\n')
  }
}

/** Prints a session's report like every tier does; exit 1 (WebRtcError) when it did not complete. */
function report(ctx: CliContext, cmd: Command, r: SyncReport): void {
  ctx.emit(cmd, r, () => renderSyncReport(r))
  failUnlessCompleted([r])
}

const ANSWER_PROMPT = 'then paste its answer code (or the path of its QR PNG) here and press Enter:'

/**
 * The offering side end to end: print the code, read the answer from stdin, connect, sync and
 * report the session — one path, against the data dir's `OrbitApi` (src/apps/cli/api.ts): the
 * offer is held by the running `orbit serve` when there is one (it makes the connection), else by
 * this process while it waits. `mode` says how far `orbit webrtc offer` goes with a daemon:
 * `'hold'` prints the code and leaves the answer to `orbit webrtc accept`; `'sync'` (`orbit sync
 * --via webrtc`, and `webrtc offer` without a daemon) reads the answer and prints the report.
 */
export async function runWebRtcOffer(ctx: CliContext, cmd: Command, opts: ActionOptions, mode: 'hold' | 'sync'): Promise<void> {
  const { dataDir } = ctx.globals(cmd)
  const o = runOptions(opts)
  await checkNetworkOptions(o)
  const { withApi } = await import('../api.js')
  await withApi(dataDir, async (api) => {
    const daemon = api.where === 'daemon'
    const held = await api.webrtc.offer(o)
    // Listening before the code is printed: whoever reads it may interrupt us at once.
    const { interrupted, dispose } = interruption()
    try {
      const qr = await writeQr(ctx, opts.qr as string | undefined, held.code)
      const wrote = qr === undefined ? [] : [`Wrote the code as a QR code to ${qr}.`]
      const data = daemon
        ? { code: held.code, expiresAt: held.expiresAt, ...(qr === undefined ? {} : { qr }), heldBy: 'daemon' }
        : { code: held.code, ...(qr === undefined ? {} : { qr }) }
      if (daemon && mode === 'hold') {
        printCode(ctx, cmd, data, [
          ...wrote,
          'The running `orbit serve` holds this offer. On the other device run `orbit webrtc answer CODE`,',
          'then give its answer here: `orbit webrtc accept ANSWER` (the daemon connects and syncs).',
        ].join('\n'))
        return
      }
      printCode(ctx, cmd, data, [
        ...wrote,
        ...(daemon ? ['The running `orbit serve` holds this offer and makes the connection.'] : []),
        'On the other device run:  orbit webrtc answer CODE   (or give it the QR PNG)',
        ANSWER_PROMPT,
      ].join('\n'))
      const answer = await readCode(ctx, await Promise.race([readStdinLine(), interrupted]))
      ctx.hint(cmd, 'Connecting…')
      // The holder bounds the session by the offer's timeout (connecting, then syncing).
      report(ctx, cmd, await Promise.race([api.webrtc.acceptAndWait(answer), interrupted]))
    } catch (error) {
      // This command made the offer for one session: leave nothing held behind when it gives up.
      await api.webrtc.cancel(held.code).catch(() => undefined)
      throw error
    } finally {
      dispose()
    }
  })
}

export const webrtcCommands: CommandModule = {
  name: 'webrtc',
  register(program, ctx) {
    const webrtc = program.command('webrtc').description('sync with a device on another network over WebRTC (codes or QR, no server)')
    webrtc.addHelpText(
      'after',
      `
Device A makes an offer code, device B answers it, A takes B's answer: then they connect directly
(through NATs with STUN, or a TURN relay) and sync. Codes are signed by the device key, single-use,
expire after 10 minutes, and only devices of this workspace are accepted.

Examples:
  A$ orbit webrtc offer --qr offer.png          # prints the code, waits for the answer
  B$ orbit webrtc answer orbit-rtc1.AbC…        # or: orbit webrtc answer offer.png --qr answer.png
  A: paste B's answer code (or answer.png) and press Enter; both print the sync report.
Run \`orbit webrtc <command> --help\` for a command's options.`,
    )

    networkOptions(webrtc.command('offer').description('print an offer code, then (without a daemon) wait for the answer on stdin, connect and sync'))
      .addHelpText(
        'after',
        `
Without \`orbit serve\`: prints the code (with --json, { "code": ... } is the first line), reads
one line from standard input — the answer code or the path of its QR PNG — connects, syncs until
both devices hold the same changes, prints the session report and exits (1 if it did not complete).
With \`orbit serve\` running: the daemon holds the offer; give the answer with \`orbit webrtc accept\`
(--wait to see the report), or run \`orbit sync --via webrtc\`, which takes it here and reports.
${NETWORK_HELP}

Examples:
  $ orbit webrtc offer
  $ orbit webrtc offer --qr offer.png --ice stun:stun.example.org:3478
  $ orbit webrtc offer --json --ice turn:orbit:secret@turn.example.org:3478 --timeout 2m`,
      )
      .action(ctx.action(async (opts, cmd) => runWebRtcOffer(ctx, cmd, opts, 'hold')))

    networkOptions(
      webrtc
        .command('answer')
        .description("answer another device's offer code (or QR PNG): print the answer code, then connect and sync")
        .argument('<code>', 'the offer code, or a PNG file with its QR code'),
    )
      .addHelpText(
        'after',
        `
Prints the answer code (with --json, { "code": ... } is the first line), then waits until the
offering device applied it, syncs, prints the session report and exits (1 if it did not complete).
Refused (exit 1, WebRtcError): a code from a device that is not a member of this workspace
(CODE_NOT_MEMBER), tampered (CODE_BAD_SIGNATURE / CODE_MALFORMED), expired (CODE_EXPIRED) or
already used here (CODE_REPLAYED).
${NETWORK_HELP}

Examples:
  $ orbit webrtc answer orbit-rtc1.AbC…
  $ orbit webrtc answer offer.png --qr answer.png --json`,
      )
      .action(
        ctx.action<[string]>(async (input, opts, cmd) => {
          const { dataDir } = ctx.globals(cmd)
          const o = runOptions(opts)
          await checkNetworkOptions(o)
          const offerCode = await readCode(ctx, input)
          const { withApi } = await import('../api.js')
          await withApi(dataDir, async (api) => {
            const answer = await api.webrtc.answer(offerCode, o)
            const qr = await writeQr(ctx, opts.qr as string | undefined, answer.code)
            if (api.where === 'daemon') {
              printCode(ctx, cmd, { code: answer.code, peer: { deviceId: answer.deviceId }, ...(qr === undefined ? {} : { qr }), heldBy: 'daemon' },
                `Give this answer to ${answer.deviceId}; the running \`orbit serve\` connects and syncs when it is applied.`)
              return
            }
            printCode(ctx, cmd, { code: answer.code, peer: { deviceId: answer.deviceId }, ...(qr === undefined ? {} : { qr }) }, [
              qr === undefined ? '' : `Wrote the code as a QR code to ${qr}.`,
              `Give this answer code to ${answer.deviceId} (paste it where \`orbit webrtc offer\` waits).`,
              'Waiting for it to connect…',
            ].filter((l) => l !== '').join('\n'))
            report(ctx, cmd, await api.webrtc.answered(answer.code))
          })
        }),
      )

    webrtc
      .command('accept')
      .description("give the running daemon's pending offer its answer code (or QR PNG); the daemon connects and syncs")
      .argument('<code>', 'the answer code, or a PNG file with its QR code')
      .option('--wait', 'wait until the session ended and print its report (exit 1 if it did not complete)')
      .option('--timeout <duration>', "abort the session if it has not ended this long after the answer (default with --wait: 2m; without: the offer's --timeout, to connect and again to sync)", duration)
      .addHelpText(
        'after',
        `
Needs \`orbit serve\` running on this data dir, holding the offer made with \`orbit webrtc offer\`.
Returns once connected; the daemon syncs in the background (see \`orbit status\`). With --wait,
prints the session's report instead, as \`orbit sync\` does, once the daemon's session ended.
Refused (exit 1, WebRtcError, the offer stays held): an answer for no offer the daemon holds
(CODE_WRONG_OFFER), tampered (CODE_BAD_SIGNATURE / CODE_MALFORMED), expired (CODE_EXPIRED), from
a device outside the workspace (CODE_NOT_MEMBER).
Without a daemon, paste the answer into the waiting \`orbit webrtc offer\` instead.

Examples:
  $ orbit webrtc accept orbit-rtc1.XyZ…
  $ orbit webrtc accept answer.png --json
  $ orbit webrtc accept orbit-rtc1.XyZ… --wait --timeout 5m`,
      )
      .action(
        ctx.action<[string]>(async (input, opts, cmd) => {
          const { dataDir } = ctx.globals(cmd)
          const code = await readCode(ctx, input)
          const { withApi } = await import('../api.js')
          await withApi(dataDir, async (api) => {
            // Only a running holder can take an answer: in-process nothing holds an offer.
            if (api.where === 'in-process') {
              const { WebRtcError } = await import('../../../core/errors.js')
              throw new WebRtcError('no `orbit serve` runs on this data dir to hold an offer: paste the answer into the waiting `orbit webrtc offer`', {
                code: 'NO_DAEMON',
              })
            }
            const timeout = opts.timeout as number | undefined
            if (opts.wait === true) {
              // The daemon aborts the session at timeoutMs.
              report(ctx, cmd, await api.webrtc.acceptAndWait(code, { timeoutMs: timeout ?? 120_000 }))
              return
            }
            const result = await api.webrtc.accept(code, timeout === undefined ? {} : { timeoutMs: timeout })
            ctx.emit(cmd, result, () => `Connected to ${result.deviceId}; the daemon is syncing (see \`orbit status\`).`)
          })
        }),
      )

    const ice = webrtc.command('ice').description('the ICE (STUN/TURN) servers stored in this data dir (config key webrtc.iceServers)')
    ice.addHelpText(
      'after',
      `
Examples:
  $ orbit webrtc ice add stun:stun.example.org:3478
  $ orbit webrtc ice add turn:orbit:secret@turn.example.org:3478
  $ orbit webrtc ice list --json
  $ orbit webrtc ice clear`,
    )
    ice
      .command('add')
      .description('store an ICE server used by every offer and answer (unless --ice is given)')
      .argument('<url>', 'stun:HOST:PORT or turn:USER:PASS@HOST:PORT')
      .action(
        ctx.action<[string]>(async (url, _opts, cmd) => {
          const list = await withStored(ctx, cmd, (api) => api.iceServers({ add: url }))
          ctx.emit(cmd, { iceServers: list }, () => `ICE servers: ${list.map(redact).join(', ')}`)
        }),
      )
    ice
      .command('list')
      .description('list the stored ICE servers')
      .action(
        ctx.action(async (_opts, cmd) => {
          const list = await withStored(ctx, cmd, (api) => api.iceServers())
          ctx.emit(cmd, { iceServers: list }, () => (list.length === 0 ? 'No ICE servers (host candidates only).' : list.map(redact).join('\n')))
        }),
      )
    ice
      .command('clear')
      .description('remove every stored ICE server')
      .action(
        ctx.action(async (_opts, cmd) => {
          await withStored(ctx, cmd, (api) => api.iceServers({ clear: true }))
          ctx.emit(cmd, { iceServers: [] }, () => 'No ICE servers (host candidates only).')
        }),
      )

    const host = webrtc
      .command('host')
      .description('local addresses used for host candidates, stored in this data dir (config key webrtc.hostAddresses; default every interface)')
    host.addHelpText(
      'after',
      `
Examples:
  $ orbit webrtc host add 192.168.1.20
  $ orbit webrtc host list --json
  $ orbit webrtc host clear            # back to every interface`,
    )
    host
      .command('add')
      .description('use this local address for host candidates (with the others added)')
      .argument('<address>', 'an IPv4 or IPv6 address of this machine')
      .action(
        ctx.action<[string]>(async (address, _opts, cmd) => {
          const list = await withStored(ctx, cmd, (api) => api.hostAddresses({ add: address }))
          ctx.emit(cmd, { hostAddresses: list }, () => `Host candidates from: ${list.join(', ')}`)
        }),
      )
    host
      .command('list')
      .description('list the stored host addresses')
      .action(
        ctx.action(async (_opts, cmd) => {
          const list = await withStored(ctx, cmd, (api) => api.hostAddresses())
          ctx.emit(cmd, { hostAddresses: list }, () => (list.length === 0 ? 'Host candidates from every interface.' : list.join('\n')))
        }),
      )
    host
      .command('clear')
      .description('use every interface again')
      .action(
        ctx.action(async (_opts, cmd) => {
          await withStored(ctx, cmd, (api) => api.hostAddresses({ clear: true }))
          ctx.emit(cmd, { hostAddresses: [] }, () => 'Host candidates from every interface.')
        }),
      )
  },
}

/** TURN passwords are not echoed to the terminal. */
function redact(spec: string): string {
  return spec.replace(/^(turns?:[^:@]+:)[^@]*@/i, '$1***@')
}

/**
 * The stored WebRTC settings through the data dir's `OrbitApi` (src/apps/cli/api.ts): the running
 * `orbit serve` changes them (and uses them for its next offer or answer), else this process.
 */
async function withStored<T>(ctx: CliContext, cmd: Command, fn: (api: import('../../node/api.js').OrbitApi) => Promise<T>): Promise<T> {
  const { dataDir } = ctx.globals(cmd)
  const { withApi } = await import('../api.js')
  return withApi(dataDir, fn)
}

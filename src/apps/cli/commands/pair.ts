import type { CommandModule } from '../command-module.js'
import { fields, when } from '../format.js'
import { durationOption } from '../options.js'
import { duration, hostPort } from '../lan-options.js'
import type { JoinResult } from '../../node/join.js'

export const pairCommands: CommandModule = {
  name: 'pair',
  register(program, ctx) {
    const pair = program.command('pair').description('pair devices: invite (on a device in the workspace), join (on the new one)')
    pair.addHelpText('after', "\nRun `orbit pair <command> --help` for a command's options.")

    pair
      .command('invite')
      .description('print a one-time invite code (and write it as a QR PNG); needs `orbit serve` running to accept the join, unless --offline')
      .option('--qr <file.png>', 'also write the invite as a QR code PNG')
      .option('--offline', 'pair by QR codes alone, no network: the joiner answers with an acceptance code for `orbit pair accept`')
      .addOption(durationOption('--ttl <duration>', 'how long the invite works, e.g. 10m, 1h', duration, 15 * 60_000))
      .addHelpText(
        'after',
        `
The code carries this device's id, key and addresses and a one-time secret; anyone who sees it can
join until it is used or expires, so show it only to the device you mean to add.

Examples:
  $ orbit pair invite
  $ orbit pair invite --qr invite.png --ttl 10m
  $ code=$(orbit pair invite --json | jq -r .code)
  $ orbit pair invite --offline --qr invite.png      # no network: see \`orbit pair accept --help\``,
      )
      .action(
        ctx.action(async (opts, cmd) => {
          const { dataDir } = ctx.globals(cmd)
          const { existsSync } = await import('node:fs')
          const { storePath } = await import('../../node/data-dir.js')
          const { notInitialised } = await import('../../node/device-config.js')
          if (!existsSync(storePath(dataDir))) throw notInitialised(dataDir)
          const { withApi } = await import('../api.js')
          if (opts.offline === true) {
            // The invite is pending in the store of whoever answers: the running `orbit serve`, or this process.
            const invite = await withApi(dataDir, (api) => api.createOfflineInvite(opts.ttl as number))
            const qr = await writeQr(opts.qr, invite.code)
            ctx.emit(cmd, { ...invite, ...(qr === undefined ? {} : { qr }) }, () => invite.code)
            ctx.hint(
              cmd,
              `On the other device: orbit pair join ${qr ?? 'CODE'} --offline --qr acceptance.png\n` +
                `then here: orbit pair accept acceptance.png   (works once, until ${when(invite.expiresAt)})`,
            )
            return
          }
          // In-process this refuses (PairingError DAEMON_NOT_RUNNING): only a running device can answer the joiner.
          const invite = await withApi(dataDir, (api) => api.createInvite(opts.ttl as number))
          const qr = await writeQr(opts.qr, invite.code)
          ctx.emit(cmd, { ...invite, ...(qr === undefined ? {} : { qr }) }, () => invite.code)
          ctx.hint(
            cmd,
            `On the other device: orbit pair join ${qr ?? 'CODE'}\n(works once, until ${when(invite.expiresAt)}; reachable at ${invite.addresses.join(', ')})`,
          )
        }),
      )

    pair
      .command('join')
      .description("join the inviting device's workspace with its invite code or QR image")
      .argument('<code|file.png>', 'the invite code (orbit-invite:...) or a PNG of its QR code')
      .option('--address <host:port>', "reach the inviting device here instead of the invite's addresses", hostPort)
      .addOption(durationOption('--timeout <duration>', 'how long the first sync may take', duration, 60_000))
      .option('--offline', 'no network: print an acceptance code for the inviter (`orbit pair accept`); the workspace arrives by `orbit qr import`')
      .option('--qr <file.png>', 'with --offline: also write the acceptance code as a QR code PNG')
      .addHelpText(
        'after',
        `
Run it on a device initialised with \`orbit init --name NAME\` that has no data of its own yet
(it adopts the inviter's workspace). When \`orbit serve\` runs on this data dir, it does the join
and restarts into the joined workspace.

Examples:
  $ orbit pair join orbit-invite:AQAAAAB...
  $ orbit pair join invite.png
  $ orbit pair join invite.png --address 192.168.1.20:7878 --json

Offline (QR codes only; the invite was made with \`orbit pair invite --offline\`):
  $ orbit pair join invite.png --offline --qr acceptance.png     # show acceptance.png to the inviter
  $ orbit qr import ./qr-from-inviter --reply ./qr-reply           # after it ran \`orbit pair accept\``,
      )
      .action(
        ctx.action<[string]>(async (arg, opts, cmd) => {
          const { dataDir } = ctx.globals(cmd)
          if (opts.offline !== true && opts.qr !== undefined) {
            cmd.error('error: --qr writes the acceptance code of an offline join: add --offline', { exitCode: 2, code: 'commander.qrWithoutOffline' })
          }
          const code = await readCode(arg, 'orbit-invite:')
          if (opts.offline === true) {
            const { startOfflineJoin } = await import('../../node/pair-offline.js')
            const started = await startOfflineJoin(dataDir, code)
            const qr = await writeQr(opts.qr, started.code)
            ctx.emit(cmd, { ...started, ...(qr === undefined ? {} : { qr }) }, () => started.code)
            ctx.hint(
              cmd,
              `Show ${qr ?? 'this code'} to ${started.inviter.name}; it runs: orbit pair accept ${qr ?? 'CODE'}\n` +
                `then: orbit qr export --out DIR --for ${started.deviceId}\nand here: orbit qr import DIR --reply REPLY_DIR`,
            )
            return
          }
          const address = opts.address as { host: string; port: number } | undefined
          const join = { ...(address === undefined ? {} : { address: `${address.host}:${address.port}` }), timeoutMs: opts.timeout as number }
          // A running `orbit serve` joins by restarting its node (control op `pair.join`); else here.
          const { callDaemonIfRunning } = await import('../../control/client.js')
          const routed = await callDaemonIfRunning(dataDir, 'pair.join', { code, ...join })
          const result = routed === undefined ? await (await import('../../node/join.js')).joinWorkspace(dataDir, code, join) : (routed.result as JoinResult)
          ctx.emit(cmd, result, () =>
            [
              `Joined workspace ${result.workspace.name} (${result.workspace.id}) from ${result.inviter.name} at ${result.inviter.address}.`,
              fields([
                ['members', result.members.map((m) => m.name).join(', ')],
                ['contacts', String(result.contacts)],
                ['organizations', String(result.organizations)],
              ]),
              '',
              routed === undefined ? 'Next: orbit serve   (keeps this device in sync)' : 'orbit serve on this data dir restarted into it and keeps it in sync.',
            ].join('\n'),
          )
        }),
      )

    pair
      .command('accept')
      .description("offline pairing, last step on the inviting device: admit the joiner from its acceptance code or QR image")
      .argument('<code|file.png>', 'the acceptance code (orbit-accept:...) or a PNG of its QR code')
      .addHelpText(
        'after',
        `
Pairing by QR codes alone, with no network:
  inviter $ orbit pair invite --offline --qr invite.png
  joiner  $ orbit pair join invite.png --offline --qr acceptance.png
  inviter $ orbit pair accept acceptance.png
  inviter $ orbit qr export --out ./qr --for <joiner device id>
  joiner  $ orbit qr import ./qr --reply ./qr-reply
  inviter $ orbit qr import ./qr-reply

The acceptance works once, only with an invite of this device that has not expired. With
\`orbit serve\` running on this data dir, the invite and the acceptance go through it.

Examples:
  $ orbit pair accept acceptance.png
  $ orbit pair accept orbit-accept:AQAAAAB... --json`,
      )
      .action(
        ctx.action<[string]>(async (arg, _opts, cmd) => {
          const { dataDir } = ctx.globals(cmd)
          const code = await readCode(arg, 'orbit-accept:')
          const { withApi } = await import('../api.js')
          const result = await withApi(dataDir, (api) => api.acceptOfflineJoin(code))
          ctx.emit(cmd, result, () => `Added ${result.joiner.name} (${result.joiner.deviceId}) to workspace ${result.workspace.name}.`)
          ctx.hint(cmd, `Next: orbit qr export --out DIR --for ${result.joiner.deviceId}   (the joiner runs: orbit qr import DIR)`)
        }),
      )
  },
}

/** Writes `text` as a QR code PNG at `file` when given; returns the file. */
async function writeQr(file: unknown, text: string): Promise<string | undefined> {
  if (typeof file !== 'string') return undefined
  const { writeFileSync } = await import('node:fs')
  const { renderQrPng } = await import('../../../adapters/qr-image/index.js')
  writeFileSync(file, renderQrPng(new TextEncoder().encode(text)))
  return file
}

/** The code itself (starting with `prefix`), or the text of the QR code in a PNG file. */
async function readCode(arg: string, prefix: string): Promise<string> {
  if (arg.trim().startsWith(prefix)) return arg.trim()
  const { existsSync, readFileSync } = await import('node:fs')
  if (!existsSync(arg)) {
    const { PairingError } = await import('../../../core/errors.js')
    throw new PairingError(`"${arg.slice(0, 40)}" is neither a code (${prefix}...) nor a readable file`, { code: 'MALFORMED' })
  }
  const { decodeQrPng } = await import('../../../adapters/qr-image/index.js')
  const bytes = decodeQrPng(new Uint8Array(readFileSync(arg)))
  return new TextDecoder('utf-8', { fatal: false }).decode(bytes)
}

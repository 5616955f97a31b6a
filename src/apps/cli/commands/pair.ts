import type { CommandModule } from '../command-module.js'
import { fields, when } from '../format.js'
import { duration, hostPort } from '../../daemon/cli-options.js'

export const pairCommands: CommandModule = {
  name: 'pair',
  register(program, ctx) {
    const pair = program.command('pair').description('pair devices: invite (on a device in the workspace), join (on the new one)')
    pair.addHelpText('after', "\nRun `orbit pair <command> --help` for a command's options.")

    pair
      .command('invite')
      .description('print a one-time invite code (and write it as a QR PNG); needs `orbit serve` running to accept the join')
      .option('--qr <file.png>', 'also write the invite as a QR code PNG')
      .option('--ttl <duration>', 'how long the invite works, e.g. 10m, 1h', duration, 15 * 60_000)
      .addHelpText(
        'after',
        `
The code carries this device's id, key and addresses and a one-time secret; anyone who sees it can
join until it is used or expires, so show it only to the device you mean to add.

Examples:
  $ orbit pair invite
  $ orbit pair invite --qr invite.png --ttl 10m
  $ code=$(orbit pair invite --json | jq -r .code)`,
      )
      .action(
        ctx.action(async (opts, cmd) => {
          const { dataDir } = ctx.globals(cmd)
          const { existsSync, writeFileSync } = await import('node:fs')
          const { storePath } = await import('../../node/data-dir.js')
          const { notInitialised } = await import('../../node/device-config.js')
          if (!existsSync(storePath(dataDir))) throw notInitialised(dataDir)
          const { callDaemonIfRunning } = await import('../../node/daemon-client.js')
          const answer = await callDaemonIfRunning(dataDir, 'pair.invite', { ttlMs: opts.ttl as number })
          if (answer === undefined) {
            const { PairingError } = await import('../../../core/errors.js')
            throw new PairingError(
              `no daemon is running on ${dataDir}: an invite can only be accepted by a running device. Start it with \`orbit serve\` (in another terminal), then run \`orbit pair invite\` again`,
              { code: 'DAEMON_NOT_RUNNING' },
            )
          }
          const invite = answer.result as { code: string; expiresAt: number; addresses: string[] }
          let qr: string | undefined
          if (typeof opts.qr === 'string') {
            const { renderQrPng } = await import('../../../adapters/qr-image/index.js')
            writeFileSync(opts.qr, renderQrPng(new TextEncoder().encode(invite.code)))
            qr = opts.qr
          }
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
      .option('--timeout <duration>', 'how long the first sync may take', duration, 60_000)
      .addHelpText(
        'after',
        `
Run it on a device initialised with \`orbit init --name NAME\` that has no data of its own yet
(it adopts the inviter's workspace). Stop \`orbit serve\` on this data dir first, start it again after.

Examples:
  $ orbit pair join orbit-invite:AQAAAAB...
  $ orbit pair join invite.png
  $ orbit pair join invite.png --address 192.168.1.20:7878 --json`,
      )
      .action(
        ctx.action<[string]>(async (arg, opts, cmd) => {
          const { dataDir } = ctx.globals(cmd)
          const code = await readCode(arg)
          const address = opts.address as { host: string; port: number } | undefined
          const { joinWorkspace } = await import('../../daemon/join.js')
          const result = await joinWorkspace(dataDir, code, {
            ...(address === undefined ? {} : { address: `${address.host}:${address.port}` }),
            timeoutMs: opts.timeout as number,
          })
          ctx.emit(cmd, result, () =>
            [
              `Joined workspace ${result.workspace.name} (${result.workspace.id}) from ${result.inviter.name} at ${result.inviter.address}.`,
              fields([
                ['members', result.members.map((m) => m.name).join(', ')],
                ['contacts', String(result.contacts)],
                ['organizations', String(result.organizations)],
              ]),
              '',
              'Next: orbit serve   (keeps this device in sync)',
            ].join('\n'),
          )
        }),
      )
  },
}

/** The code itself, or the text of the QR code in a PNG file. */
async function readCode(arg: string): Promise<string> {
  if (arg.trim().startsWith('orbit-invite:')) return arg.trim()
  const { existsSync, readFileSync } = await import('node:fs')
  if (!existsSync(arg)) {
    const { PairingError } = await import('../../../core/errors.js')
    throw new PairingError(`"${arg.slice(0, 40)}" is neither an invite code (orbit-invite:...) nor a readable file`, { code: 'MALFORMED' })
  }
  const { decodeQrPng } = await import('../../../adapters/qr-image/index.js')
  const bytes = decodeQrPng(new Uint8Array(readFileSync(arg)))
  return new TextDecoder('utf-8', { fatal: false }).decode(bytes)
}

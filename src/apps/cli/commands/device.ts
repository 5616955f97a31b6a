import type { CommandModule } from '../command-module.js'
import { withApi } from '../api.js'
import { table, when } from '../format.js'
import type { DeviceRow } from '../../node/members.js'

export const deviceCommands: CommandModule = {
  name: 'device',
  register(program, ctx) {
    const device = program.command('device').description("this workspace's devices: list, revoke")
    device.addHelpText('after', "\nRun `orbit device <command> --help` for a command's options.")

    device
      .command('list')
      .description('list the devices of this workspace (members and revoked ones)')
      .addHelpText(
        'after',
        `
Examples:
  $ orbit device list
  $ orbit device list --json`,
      )
      .action(
        ctx.action(async (_opts, cmd) => {
          const { dataDir } = ctx.globals(cmd)
          const devices: DeviceRow[] = await withApi(dataDir, (api) => api.listDevices())
          ctx.emit(cmd, { devices }, () =>
            table(
              ['ID', 'NAME', 'STATUS', 'ADDED'],
              devices.map((d) => [
                d.id,
                d.name + (d.self ? ' (this device)' : ''),
                d.status === 'revoked' ? `revoked ${when(d.revokedAt ?? 0)}` : 'member',
                when(d.addedAt),
              ]),
            ),
          )
        }),
      )

    device
      .command('revoke')
      .description('revoke a device: it is refused from then on, on every tier (cannot be undone)')
      .argument('<id>', 'device id (or a unique prefix of at least 4 characters)')
      .addHelpText(
        'after',
        `
The revocation is part of the workspace: it reaches the other members with the next sync, and
each of them refuses the device from then on. Nothing un-revokes a device; to bring it back,
re-initialise it (a new key) and pair it again.

Examples:
  $ orbit device revoke k3f9x2ab
  $ orbit device revoke k3f9-x2ab-... --json`,
      )
      .action(
        ctx.action<[string]>(async (id, _opts, cmd) => {
          const { dataDir } = ctx.globals(cmd)
          const row: DeviceRow = await withApi(dataDir, (api) => api.revokeDevice(id))
          ctx.emit(cmd, row, () => `Revoked ${row.id} (${row.name}). It is refused from now on.`)
        }),
      )
  },
}

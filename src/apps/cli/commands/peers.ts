import type { CommandModule } from '../command-module.js'
import { table } from '../format.js'
import { ago } from '../lan-options.js'
import { withApi } from '../api.js'

export const peersCommands: CommandModule = {
  name: 'peers',
  register(program, ctx) {
    program
      .command('peers')
      .description('devices discovered on the LAN and paired devices, with addresses and when they were last seen')
      .addHelpText(
        'after',
        `
Discovery runs inside \`orbit serve\`; without it only paired devices and their remembered
addresses are listed.

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
                  ['ID', 'NAME', 'STATE', 'ADDRESSES', 'LAST SEEN'],
                  peers.map((p) => [
                    p.deviceId,
                    p.name,
                    [p.revoked ? 'revoked' : p.paired ? 'paired' : 'not paired', p.connected ? 'connected' : '', p.discovered ? 'discovered' : '']
                      .filter(Boolean)
                      .join(', '),
                    p.addresses.join(' '),
                    ago(p.lastSeen),
                  ]),
                ),
          )
        }),
      )
  },
}

import type { CommandModule } from '../command-module.js'
import { table } from '../format.js'
import { ago } from '../../daemon/cli-options.js'
import type { PeerRow } from '../../daemon/daemon.js'

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
          const { callDaemonIfRunning } = await import('../../node/daemon-client.js')
          const viaDaemon = await callDaemonIfRunning(dataDir, 'peers', {})
          let peers: PeerRow[]
          if (viaDaemon !== undefined) peers = (viaDaemon.result as { peers: PeerRow[] }).peers
          else {
            const { openDevice } = await import('../../node/device.js')
            const { readKnownPeers } = await import('../../daemon/known-peers.js')
            const d = await openDevice(dataDir)
            try {
              const ws = d.workspace
              const known = readKnownPeers(d.config)
              peers = ws
                .listDevices()
                .filter((m) => m.id !== d.identity.deviceId)
                .map((m) => {
                  const status = ws.memberStatus(m.id)
                  return {
                    deviceId: m.id,
                    name: m.name,
                    addresses: known[m.id] ?? [],
                    lastSeen: null,
                    paired: status === 'member',
                    revoked: status === 'revoked',
                    connected: false,
                    discovered: false,
                  }
                })
            } finally {
              await d.close()
            }
            ctx.hint(cmd, '(orbit serve is not running on this data dir: no discovery; paired devices only)')
          }
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

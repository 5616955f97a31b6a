import type { CommandModule } from '../command-module.js'
import { bytes, fields } from '../format.js'

export const statusCommands: CommandModule = {
  name: 'status',
  register(program, ctx) {
    program
      .command('status')
      .description('show this device, its workspace, what the store holds and where')
      .addHelpText(
        'after',
        `
Examples:
  $ orbit status
  $ orbit status --json`,
      )
      .action(
        ctx.action(async (_opts, cmd) => {
          const { dataDir } = ctx.globals(cmd)
          const { openReadView } = await import('../../node/read-view.js')
          const view = await openReadView(dataDir)
          try {
            const status = view.status()
            ctx.emit(cmd, status, () =>
              fields([
                ['device', `${status.device.name} (${status.device.id})`],
                ['workspace', `${status.workspace.name ?? '?'} (${status.workspace.id ?? '?'})`],
                ['contacts', `${status.counts.contacts} (+${status.counts.removedContacts} removed)`],
                ['organizations', String(status.counts.orgs)],
                ['devices', String(status.counts.devices)],
                ['data dir', status.dataDir],
                ['store', `${status.store.file} (${bytes(status.store.bytes)})`],
              ]),
            )
          } finally {
            view.close()
          }
        }),
      )
  },
}

import type { CommandModule } from '../command-module.js'
import { fields } from '../format.js'

export const initCommands: CommandModule = {
  name: 'init',
  register(program, ctx) {
    program
      .command('init')
      .description('create this device (a new key pair) and a new, empty workspace in the data dir')
      .requiredOption('--name <name>', 'a name for this device, shown to your other devices, e.g. "My laptop"')
      .option('--workspace <name>', 'a name for the new workspace', 'My CRM')
      .addHelpText(
        'after',
        `
Refuses to run on a data dir that is already initialised; nothing is overwritten.

Examples:
  $ orbit init --name "My laptop"
  $ orbit --data ~/orbit-work init --name "Work laptop" --workspace "Acme sales"`,
      )
      .action(
        ctx.action(async (opts, cmd) => {
          const { dataDir } = ctx.globals(cmd)
          // Validate before touching the disk: bad input writes nothing.
          const { parseName } = await import('../../../core/model/validate.js')
          const name = parseName(opts.name, 'name')
          const workspaceName = parseName(opts.workspace, 'workspace')
          const { initDevice } = await import('../../node/device.js')
          const info = await initDevice(dataDir, { name, workspaceName })
          ctx.emit(cmd, info, () =>
            [
              `Initialised Orbit in ${info.dataDir}`,
              fields([
                ['device', `${info.deviceName} (${info.deviceId})`],
                ['workspace', `${info.workspaceName} (${info.workspaceId})`],
              ]),
              '',
              'Next: orbit contact add --name "Ada Lovelace" --email ada@example.com',
            ].join('\n'),
          )
        }),
      )
  },
}

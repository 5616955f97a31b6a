import type { CommandModule } from '../command-module.js'
import { table, when } from '../format.js'
import { checkLogoLimit, readLogo } from './logo.js'

export const orgCommands: CommandModule = {
  name: 'org',
  register(program, ctx) {
    const org = program.command('org').description('organizations: add, list')
    org.addHelpText('after', '\nRun `orbit org <command> --help` for a command\'s options.')

    org
      .command('add')
      .description('add an organization; prints its id')
      .requiredOption('--name <name>', 'the organization\'s name')
      .option('--logo <file>', 'a PNG, JPEG, GIF or WebP image (≤ 5 MiB)')
      .addHelpText(
        'after',
        `
Examples:
  $ orbit org add --name "Acme Corp"
  $ orbit org add --name "Acme Corp" --logo ./acme.png --json`,
      )
      .action(
        ctx.action(async (opts, cmd) => {
          const { dataDir } = ctx.globals(cmd)
          const { parseOrgInput } = await import('../../../core/model/validate.js')
          const logo = opts.logo === undefined ? undefined : await readLogo(String(opts.logo))
          const input = parseOrgInput({ name: opts.name, ...(logo === undefined ? {} : { logo: logo.hash }) })
          const { withApi } = await import('../api.js')
          const created = await withApi(dataDir, async (api) => {
            if (logo !== undefined) {
              checkLogoLimit(logo, await api.blobLimit())
              await api.putBlob(logo.bytes)
            }
            return api.workspace.addOrg(input)
          })
          ctx.emit(cmd, created, () => created.id)
        }),
      )

    org
      .command('list')
      .description('list organizations')
      .addHelpText(
        'after',
        `
Examples:
  $ orbit org list
  $ orbit org list --json`,
      )
      .action(
        ctx.action(async (_opts, cmd) => {
          const { dataDir } = ctx.globals(cmd)
          const { openReadView } = await import('../../node/read-view.js')
          const view = await openReadView(dataDir)
          try {
            const orgs = view.listOrgs()
            ctx.emit(cmd, { orgs }, () =>
              orgs.length === 0
                ? 'No organizations yet. Add one with `orbit org add --name "Acme Corp"`.'
                : table(['ID', 'NAME', 'CREATED'], orgs.map((o) => [o.id, o.name, when(o.createdAt)])),
            )
          } finally {
            view.close()
          }
        }),
      )
  },
}

/**
 * `orbit ui`: the web UI's secret link, asked of the `orbit serve` running on the data dir (control
 * op `ui.url`, docs/protocol/control.md; the UI itself: docs/protocol/http.md).
 */
import type { CommandModule } from '../command-module.js'

export const uiCommands: CommandModule = {
  name: 'ui',
  register(program, ctx) {
    program
      .command('ui')
      .description('print the link that opens the web UI (the Sync screen) of the running `orbit serve`')
      .addHelpText(
        'after',
        `
The link carries this device's secret: opening it once keeps the secret in the browser (a cookie),
so show it to nobody else. It needs \`orbit serve\` running on the data dir (started without
--no-http).

Examples:
  $ orbit ui
  $ xdg-open "$(orbit ui)"
  $ orbit ui --json | jq -r .url`,
      )
      .action(
        ctx.action(async (_opts, cmd) => {
          const { dataDir } = ctx.globals(cmd)
          const { callDaemonIfRunning } = await import('../../control/client.js')
          const answer = await callDaemonIfRunning(dataDir, 'ui.url', {})
          if (answer === undefined) {
            const { StoreError } = await import('../../../core/errors.js')
            throw new StoreError(`orbit serve is not running on ${dataDir}; start it with \`orbit serve\``, { code: 'DAEMON_NOT_RUNNING' })
          }
          const ui = answer.result as { url: string; note?: string; built?: boolean }
          ctx.emit(cmd, ui, () => ui.url)
          if (ui.built === false) ctx.hint(cmd, 'note: the page is not built (`npm run build`); the API under /api/v1/ works')
        }),
      )
  },
}

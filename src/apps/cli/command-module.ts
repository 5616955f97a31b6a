import type { Command } from 'commander'
import type { CliContext } from './context.js'

/**
 * One group of CLI commands. A module registers its commands on the program; its action handlers
 * `import()` heavy dependencies lazily so that `orbit contact list` stays fast.
 *
 * @example
 * export const qrCommands: CommandModule = {
 *   name: 'qr',
 *   register(program, ctx) {
 *     program.command('qr').description('...').command('export')
 *       .action(ctx.action(async (opts, cmd) => { ... }))
 *   },
 * }
 * // then list it in commands/index.ts
 */
export interface CommandModule {
  readonly name: string
  register(program: Command, ctx: CliContext): void
}

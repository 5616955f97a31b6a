/** The `orbit` program: global options, and every command module registered on it. */
import { Command } from 'commander'
import type { CliContext } from './context.js'
import type { CommandModule } from './command-module.js'

export const PROGRAM_NAME = 'orbit'

/**
 * Builds the commander program. Errors are not printed nor turned into exits here: `runCli` does
 * that, so that `--json` can shape them.
 */
export function createProgram(ctx: CliContext, modules: readonly CommandModule[], options: { json?: boolean } = {}): Command {
  const program = new Command(PROGRAM_NAME)
  program
    .description('Orbit Sync: a local-first CRM on your own devices, synced with no server.')
    .option('--data <dir>', 'data directory (default: $ORBIT_HOME, else ~/.orbit)')
    .option('--json', 'print data as JSON on stdout, errors as JSON on stderr')
    .version(VERSION, '-V, --version')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.io.stdout(s),
      // With --json, stderr carries only the JSON error (no help text on a usage error).
      writeErr: (s) => {
        if (options.json !== true) ctx.io.stderr(s)
      },
      // runCli prints errors itself (human or JSON).
      outputError: () => {},
    })
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      `
Global options work before or after the command: \`orbit contact list --json\`.

Examples:
  $ orbit init --name "My laptop"
  $ orbit contact add --name "Ada Lovelace" --email ada@example.com
  $ orbit contact list --limit 20
  $ orbit --data /tmp/other status --json`,
    )
  for (const mod of modules) mod.register(program, ctx)
  return program
}

const VERSION = '0.1.0'

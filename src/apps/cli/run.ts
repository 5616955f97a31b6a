/** Runs the CLI on an argv and returns the exit code; never throws. */
import { CliContext, type CliIo } from './context.js'
import { mapError } from './exit.js'
import { createProgram, PROGRAM_NAME } from './program.js'
import { COMMAND_MODULES } from './commands/index.js'
import type { Command } from 'commander'
import type { CommandModule } from './command-module.js'

/**
 * @param argv the arguments after the executable and script (`process.argv.slice(2)`)
 * @returns the exit code: 0 ok, 1 failure, 2 usage error
 */
export async function runCli(argv: readonly string[], io: CliIo, modules: readonly CommandModule[] = COMMAND_MODULES): Promise<number> {
  const ctx = new CliContext(io)
  const json = wantsJson(argv)
  const program = createProgram(ctx, modules, { json })
  try {
    await program.parseAsync([...argv], { from: 'user' })
    return 0
  } catch (err) {
    return reportError(err, commandPathFor(program, argv), json, io)
  }
}

/**
 * Prints a command's error on stderr (one JSON line with `json`, else for people) and returns
 * its exit code; `commandPath` (e.g. `orbit contact add`) points at the right `--help`.
 */
export function reportError(err: unknown, commandPath: string, json: boolean, io: CliIo): number {
  const mapped = mapError(err, commandPath)
  if (mapped.exitCode !== 0) {
    if (json) io.stderr(JSON.stringify(mapped.json) + '\n')
    else io.stderr(mapped.human + '\n')
    // What the "looks like a bug" message promises: the stack, when asked for.
    if (mapped.json.error.code === 'INTERNAL' && /^(debug|trace)$/.test(io.env.ORBIT_LOG_LEVEL ?? '') && err instanceof Error && err.stack !== undefined) {
      io.stderr(err.stack + '\n')
    }
  }
  return mapped.exitCode
}

// Before parsing succeeded we cannot ask commander, so look at the raw arguments.
function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--')
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json')
}

/** The deepest known command named in `argv`, e.g. `orbit contact add`, for "--help" hints. */
function commandPathFor(program: Command, argv: readonly string[]): string {
  const path = [PROGRAM_NAME]
  let current = program
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] ?? ''
    if (token === '--') break
    if (token === '--data') {
      i++
      continue
    }
    if (token.startsWith('-')) continue
    const next = current.commands.find((c) => c.name() === token || c.aliases().includes(token))
    if (next === undefined) continue
    path.push(next.name())
    current = next
  }
  return path.join(' ')
}

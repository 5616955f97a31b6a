/**
 * What every command needs: the process's I/O, the global options (`--data`, `--json`), and one
 * way to print results and to wrap actions.
 */
import type { Command } from 'commander'
import { resolveDataDir } from '../node/data-dir.js'

/** The process around the CLI, injectable for in-process use. */
export interface CliIo {
  stdout(text: string): void
  stderr(text: string): void
  env: Record<string, string | undefined>
  cwd: string
}

/** Global options, resolved. */
export interface GlobalOptions {
  /** Absolute path of the data dir. */
  dataDir: string
  json: boolean
}

/** Options as commander hands them to an action. */
export type ActionOptions = Record<string, unknown>

export class CliContext {
  constructor(readonly io: CliIo) {}

  /** The global options as seen from `cmd` (they may appear before or after the command). */
  globals(cmd: Command): GlobalOptions {
    const all = cmd.optsWithGlobals<{ data?: string; json?: boolean }>()
    return { dataDir: resolveDataDir(all.data, this.io.env, this.io.cwd), json: all.json === true }
  }

  /**
   * Prints a result: `data` as one line of JSON on stdout with `--json`, else `human()`.
   * Data is always printed whole; commands choose what to put in it.
   */
  emit(cmd: Command, data: unknown, human: () => string): void {
    if (this.globals(cmd).json) this.io.stdout(JSON.stringify(data) + '\n')
    else {
      const text = human()
      if (text !== '') this.io.stdout(text.endsWith('\n') ? text : text + '\n')
    }
  }

  /** A human-only note on stderr (never in `--json` mode), e.g. "Next: ...". */
  hint(cmd: Command, text: string): void {
    if (!this.globals(cmd).json) this.io.stderr(text + '\n')
  }

  /**
   * Wraps an async action for commander: it gets the positional arguments, the command's own
   * options and the command. Errors propagate to `runCli`, which maps them to exit codes.
   */
  action<A extends unknown[] = []>(fn: (...args: [...A, ActionOptions, Command]) => Promise<void>): (...args: unknown[]) => Promise<void> {
    return (...args: unknown[]) => fn(...(args as [...A, ActionOptions, Command]))
  }
}

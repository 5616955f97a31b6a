/**
 * Mapping errors to exit codes and to what the user reads.
 *
 * - 0: success (also `--help`, `--version`)
 * - 1: failure: validation, unknown id, store errors, anything unexpected
 * - 2: usage: unknown command or option, missing argument, bad option value
 */
import { CommanderError } from 'commander'
import { OrbitError, ValidationError } from '../../core/errors.js'

export const EXIT_OK = 0
export const EXIT_FAILURE = 1
export const EXIT_USAGE = 2

/** The JSON written to stderr with `--json`. */
export interface JsonError {
  error: { name: string; code: string; message: string; field?: string }
}

export interface MappedError {
  exitCode: number
  json: JsonError
  /** Lines for people (no trailing newline). */
  human: string
}

/** `commandPath` is e.g. `orbit contact add`, used to point at the right `--help`. */
export function mapError(err: unknown, commandPath: string): MappedError {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') {
      return { exitCode: EXIT_OK, json: { error: { name: 'Help', code: 'HELP', message: '' } }, human: '' }
    }
    const message = err.code === 'commander.help' ? `missing command for \`${commandPath}\`` : err.message.replace(/^error:\s*/, '')
    return {
      exitCode: EXIT_USAGE,
      json: { error: { name: 'UsageError', code: 'USAGE', message } },
      human: `error: ${message}\nRun \`${commandPath} --help\` for usage.`,
    }
  }
  if (err instanceof OrbitError) {
    const field = err instanceof ValidationError ? err.field : undefined
    const hint = hintFor(err)
    return {
      exitCode: EXIT_FAILURE,
      json: { error: { name: err.name, code: err.code, message: err.message, ...(field === undefined ? {} : { field }) } },
      human: `error: ${err.message}${hint === undefined ? '' : `\n${hint}`}`,
    }
  }
  const e = err instanceof Error ? err : new Error(String(err))
  return {
    exitCode: EXIT_FAILURE,
    json: { error: { name: e.name || 'Error', code: 'INTERNAL', message: e.message } },
    human: `error: ${e.message}\nThis looks like a bug in Orbit; run with ORBIT_LOG_LEVEL=debug for details.`,
  }
}

function hintFor(err: OrbitError): string | undefined {
  switch (err.code) {
    case 'UNKNOWN_ID':
      return 'Run `orbit contact list` (or `orbit org list`) to see the ids.'
    case 'CORRUPT_STORE':
      return 'The store cannot be read. Restore it from a backup, or sync from another device into a new data dir (`orbit --data NEWDIR init`).'
    case 'FOREIGN_STORE':
      return 'This file belongs to another application; Orbit left it untouched. Use another data dir with `--data DIR`.'
    case 'NEWER_STORE':
      return 'Upgrade Orbit to open this store.'
    case 'DISK_FULL':
      return 'See what fills the disk with `df -h DIR` (DIR: the data dir, `--data`). Nothing that was acknowledged is lost; the store stays readable.'
    default:
      return undefined
  }
}

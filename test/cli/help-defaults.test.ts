/**
 * `--help` says every default a person would type as they would type it: durations as durations
 * (`(default: 15m)`, next to examples in `10m`), never a count of milliseconds.
 */
import { describe, expect, it } from 'vitest'
import { formatDuration } from '../../src/apps/cli/options.js'
import { duration } from '../../src/apps/cli/lan-options.js'
import { orbit, requireBuiltCli } from './helpers.js'

/** The subcommand names listed in a help text's "Commands:" section. */
function subcommands(help: string): string[] {
  const section = help.split(/^Commands:$/m)[1]?.split(/^\S/m)[0] ?? ''
  return section
    .split('\n')
    .map((l) => /^ {2}([a-z][a-z-]*)/.exec(l)?.[1])
    .filter((n): n is string => n !== undefined && n !== 'help')
}

describe('--help defaults', () => {
  it('formatDuration writes what duration() reads back', () => {
    expect([900_000, 60_000, 30_000, 90_000, 7_200_000, 1500].map(formatDuration)).toEqual(['15m', '1m', '30s', '90s', '2h', '1500ms'])
    for (const ms of [900_000, 60_000, 30_000, 90_000, 7_200_000, 1500]) expect(duration(formatDuration(ms))).toBe(ms)
  })

  it('no command prints a default in milliseconds; every <duration> default reads as a duration', () => {
    requireBuiltCli()
    const seen: string[] = []
    const durationDefaults: string[] = []
    const visit = (path: string[]): void => {
      const r = orbit([...path, '--help'])
      expect(r.code, path.join(' ')).toBe(0)
      seen.push(path.join(' '))
      // Options are wrapped over lines: join an option's lines before reading its default.
      const options = r.stdout.replace(/\n {20,}/g, ' ').split('\n').filter((l) => /^ {2}-/.test(l))
      // A bare number of 4+ digits as a default is a duration (or size) nobody can read at a glance;
      // a count (`<n>`, e.g. `contact import --batch-size`) reads as it is.
      for (const line of options.filter((l) => !l.includes('<n>'))) expect(line, `orbit ${path.join(' ')} --help`).not.toMatch(/\(default: \d{4,}\)/)
      for (const line of options.filter((l) => l.includes('<duration>'))) {
        const d = /\(default: ([^)]*)\)/.exec(line)?.[1]
        if (d !== undefined) {
          durationDefaults.push(`${path.join(' ')}: ${d}`)
          expect(d, line).toMatch(/^\d+(ms|s|m|h)$/)
        }
      }
      for (const sub of subcommands(r.stdout)) visit([...path, sub])
    }
    visit([])
    // The walk reached the commands whose defaults were milliseconds before.
    expect(seen).toEqual(expect.arrayContaining(['pair invite', 'pair join', 'sync', 'contact add', 'qr export']))
    expect(durationDefaults).toEqual(expect.arrayContaining(['pair invite: 15m', 'pair join: 1m', 'sync: 30s']))
  }, 180_000)
})

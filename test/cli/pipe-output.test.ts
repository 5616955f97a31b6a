/**
 * A long answer written to a pipe that is read slowly arrives whole: the CLI waits for stdout to
 * drain before it exits (a pipe write is asynchronous on POSIX; exiting at once cut `--json`
 * output at the pipe's 64 KiB buffer). A reader that goes away (`| head -1`) does not crash the
 * command with an unhandled EPIPE: its work still completes and it exits with its own code.
 */
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { ORBIT_BIN, orbit, requireBuiltCli, tempDir } from './helpers.js'

describe('output to a slow pipe', () => {
  beforeAll(() => requireBuiltCli())

  it('contact list --all --json of 600 contacts arrives whole when the reader starts late', () => {
    const data = tempDir()
    expect(orbit(['--data', data, 'init', '--name', 'Pipe']).code).toBe(0)
    const csv = join(data, 'contacts.csv')
    writeFileSync(csv, ['name,email', ...Array.from({ length: 600 }, (_, i) => `Person ${i},person${i}@example.com`)].join('\n') + '\n')
    expect(orbit(['--data', data, 'contact', 'import', csv]).code).toBe(0)
    const direct = orbit(['--data', data, 'contact', 'list', '--all', '--json'])
    expect(direct.code).toBe(0)
    expect(direct.stdout.length).toBeGreaterThan(64 * 1024)
    // The reader sleeps first, so the pipe's buffer fills while the CLI is already done.
    const piped = spawnSync('sh', ['-c', `"${process.execPath}" "${ORBIT_BIN}" --data "${data}" contact list --all --json | (sleep 1; cat)`], {
      encoding: 'utf8',
      env: { ...process.env, ORBIT_LOG_LEVEL: 'silent' },
      maxBuffer: 16 * 1024 * 1024,
      timeout: 60_000,
    })
    expect(piped.status).toBe(0)
    expect(piped.stdout).toBe(direct.stdout)
    expect((JSON.parse(piped.stdout) as { contacts: unknown[] }).contacts).toHaveLength(600)
  })

  it('a reader that closes the pipe early: no EPIPE crash, and an import still commits', () => {
    const data = tempDir()
    expect(orbit(['--data', data, 'init', '--name', 'Pipe']).code).toBe(0)
    const csv = join(data, 'contacts.csv')
    writeFileSync(csv, ['name,email', ...Array.from({ length: 300 }, (_, i) => `Person ${i},person${i}@example.com`)].join('\n') + '\n')
    // The CLI's output goes to `reader`; bash reports the CLI's own exit status.
    const piped = (args: string, reader: string) =>
      spawnSync('bash', ['-c', `"${process.execPath}" "${ORBIT_BIN}" --data "${data}" ${args} | ${reader}; exit \${PIPESTATUS[0]}`], {
        encoding: 'utf8',
        env: { ...process.env, ORBIT_LOG_LEVEL: 'silent' },
        timeout: 60_000,
      })
    // `true` exits before the CLI writes a byte: the import's report goes nowhere.
    const imported = piped(`--json contact import "${csv}"`, 'true')
    expect(imported.stderr).not.toMatch(/EPIPE|Unhandled/)
    expect(imported.status).toBe(0)
    const listed = piped('contact list --all', 'head -1')
    expect(listed.stderr).not.toMatch(/EPIPE|Unhandled/)
    expect(listed.status).toBe(0)
    expect(listed.stdout).toMatch(/^ID\s+NAME\s/)
    expect(listed.stdout.trim().split('\n')).toHaveLength(1)
    // Every row of the import whose report nobody read is there.
    const json = orbit(['--data', data, 'contact', 'list', '--all', '--json'])
    expect((JSON.parse(json.stdout) as { contacts: unknown[] }).contacts).toHaveLength(300)
  })
})

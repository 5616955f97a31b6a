/**
 * Logs are for whoever reads them: plain lines on a terminal, JSON lines for a pipe, a file or a
 * log collector, or when `ORBIT_LOG_FORMAT=json` asks for them.
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { formatPretty, logFormat } from '../../src/adapters/log/pino.js'
import { ORBIT_BIN, REPO_ROOT, requireBuiltCli } from '../cli/helpers.js'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})
const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0

describe('log format', () => {
  it('is pretty on a terminal, JSON otherwise, and ORBIT_LOG_FORMAT decides when set', () => {
    expect(logFormat({}, true)).toBe('pretty')
    expect(logFormat({}, false)).toBe('json')
    expect(logFormat({ ORBIT_LOG_FORMAT: 'json' }, true)).toBe('json')
    expect(logFormat({ ORBIT_LOG_FORMAT: 'JSON ' }, true)).toBe('json')
    expect(logFormat({ ORBIT_LOG_FORMAT: 'pretty' }, false)).toBe('pretty')
    expect(logFormat({ ORBIT_LOG_FORMAT: 'text' }, false)).toBe('pretty')
    expect(logFormat({ ORBIT_LOG_FORMAT: 'nonsense' }, false)).toBe('json')
  })

  it('a pretty line says level, component, message and the fields, without pino bookkeeping', () => {
    const record = JSON.stringify({ level: 40, time: 1, pid: 2, hostname: 'h', name: 'orbit', component: 'orbit:daemon', peer: 'abc', error: 'it broke', listen: { port: 1 }, msg: 'mDNS is off' })
    expect(formatPretty(record)).toBe('warn   orbit:daemon  mDNS is off  peer=abc  error="it broke"  listen={"port":1}\n')
    expect(formatPretty(JSON.stringify({ level: 50, name: 'orbit', msg: 'x' }))).toBe('error  orbit  x\n')
    expect(formatPretty('not json')).toBe('not json\n')
  })

  it('`orbit serve` on a terminal prints plain log lines and its greeting, no JSON', async () => {
    if (!hasScript) return // needs util-linux `script` for a pseudo-terminal
    requireBuiltCli()
    const home = mkdtempSync(join(tmpdir(), 'orbit-log-tty-'))
    dirs.push(home)
    // `script` runs the command on a pseudo-terminal: stdout and stderr are both a TTY, as for a person.
    const child = spawn('script', ['-qfec', `${process.execPath} ${ORBIT_BIN} serve --listen 127.0.0.1:0 --no-mdns`, '/dev/null'], {
      cwd: REPO_ROOT,
      env: { ...process.env, ORBIT_HOME: join(home, 'data'), ORBIT_LOG_LEVEL: 'info', ORBIT_LOG_FORMAT: '' },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let out = ''
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()))
    await new Promise<void>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (s: string) => {
        out += s
        if (out.includes('Stop with Ctrl-C.')) resolve()
      })
      child.once('close', () => reject(new Error(`serve ended before its greeting:\n${out}`)))
    })
    child.stdin.write('\x03') // Ctrl-C on the terminal: the daemon stops cleanly
    await exited
    const lines = out.split(/\r?\n/).filter((l) => l.trim() !== '')
    expect(lines.filter((l) => l.trimStart().startsWith('{'))).toEqual([])
    expect(lines).toContainEqual(expect.stringMatching(/^info +orbit:daemon +daemon started/))
    expect(lines.findIndex((l) => l.includes('daemon started'))).toBeLessThan(lines.findIndex((l) => l.startsWith('Orbit is running.')))
  }, 60_000)

  it('the same command with stderr on a pipe logs JSON lines (for machines)', async () => {
    requireBuiltCli()
    const home = mkdtempSync(join(tmpdir(), 'orbit-log-pipe-'))
    dirs.push(home)
    const child = spawn(process.execPath, [ORBIT_BIN, 'serve', '--listen', '127.0.0.1:0', '--no-mdns'], {
      cwd: REPO_ROOT,
      env: { ...process.env, ORBIT_HOME: join(home, 'data'), ORBIT_LOG_LEVEL: 'info', ORBIT_LOG_FORMAT: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()))
    let err = ''
    await new Promise<void>((resolve, reject) => {
      child.stderr.setEncoding('utf8').on('data', (s: string) => {
        err += s
        if (err.includes('daemon started')) resolve()
      })
      child.once('close', () => reject(new Error(`serve ended before it logged:\n${err}`)))
    })
    child.kill('SIGTERM')
    await exited
    const started = err.split('\n').find((l) => l.includes('daemon started')) as string
    expect(JSON.parse(started)).toMatchObject({ level: 30, component: 'orbit:daemon', msg: 'daemon started' })
  }, 60_000)
})

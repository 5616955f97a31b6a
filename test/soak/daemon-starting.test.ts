/**
 * Found by the soak (docs/soak.md): a CLI write run while `orbit serve` restarts found the new
 * daemon's lock (taken before it opens the store) and no control socket yet, and failed with
 * `DAEMON_UNREACHABLE`. The CLI now waits for a starting daemon (docs/protocol/control.md,
 * "Finding the daemon"): here a live lock whose socket appears only 1.5 s later — the write the
 * CLI sent then is answered — and a live lock whose socket never appears fails, typed, after the wait.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { callDaemon } from '../../src/apps/control/client.js'
import { initDevice } from '../../src/apps/node/device.js'
import { controlSocketPath, lockPath } from '../../src/apps/node/lock.js'
import { orbit } from '../daemon/helpers.js'

describe('a command run while the daemon starts', () => {
  const cleanups: Array<() => void> = []
  afterEach(() => {
    for (const c of cleanups.splice(0)) c()
  })

  /** A data dir whose lock names a live process (a sleeping child) and the dir's control socket path. */
  async function startingDaemon(): Promise<{ dir: string; control: string }> {
    const root = mkdtempSync(join(tmpdir(), 'orbit-starting-'))
    const dir = join(root, 'data')
    await initDevice(dir, { name: 'Starting' })
    const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' })
    cleanups.push(() => {
      sleeper.kill('SIGKILL')
      rmSync(root, { recursive: true, force: true })
    })
    const control = controlSocketPath(dir)
    writeFileSync(lockPath(dir), JSON.stringify({ pid: sleeper.pid, control, startedAt: Date.now() }), { mode: 0o600 })
    return { dir, control }
  }

  /** A control socket that answers every request line with `result`. */
  function listen(control: string, result: unknown): Server {
    const server = createServer((socket) => {
      socket.setEncoding('utf8').on('data', (line: string) => {
        const { id } = JSON.parse(line.split('\n')[0]!) as { id: string }
        socket.end(JSON.stringify({ v: 1, id, ok: true, result }) + '\n')
      })
    })
    server.listen(control)
    cleanups.push(() => server.close())
    return server
  }

  it('orbit contact add waits for the socket of a live lock and gets its answer', async () => {
    const { dir, control } = await startingDaemon()
    const contact = { id: 'ct_abcdefghijklmnop', name: 'Ada', emails: [], phones: [], tags: {}, notes: {}, createdAt: 1, updatedAt: 1 }
    const timer = setTimeout(() => listen(control, contact), 1500)
    cleanups.push(() => clearTimeout(timer))
    const r = await orbit(['--data', dir, '--json', 'contact', 'add', '--name', 'Ada'])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ id: contact.id, name: 'Ada' })
  }, 60_000)

  it('a live lock whose socket never comes fails with DAEMON_UNREACHABLE after the wait', async () => {
    const { control } = await startingDaemon()
    await expect(callDaemon({ control, pid: process.pid }, 'ping', {}, { startWaitMs: 800 })).rejects.toMatchObject({ name: 'WireError', code: 'DAEMON_UNREACHABLE' })
  })
})

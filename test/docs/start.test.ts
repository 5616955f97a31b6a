/**
 * The README's main command, `npm start` (= `orbit serve` on the default data dir), run as the
 * README says: the first run initialises the device and prints an invite for a second one; that
 * invite pairs a second device; Ctrl-C stops it cleanly; the next start reuses the data dir.
 * `npm start` runs the built CLI: `npm run build` (or `npm install`) first.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { REPO_ROOT, orbitEnv, orbitJson, requireBuilt } from '../daemon/helpers.js'

interface Started {
  child: ChildProcess
  events: Record<string, unknown>[]
  ready: Promise<Record<string, unknown>>
  exited: Promise<void>
}

const started: ChildProcess[] = []
const dirs: string[] = []
afterEach(() => {
  // Only what this file started: its own process groups (npm and the orbit it runs).
  for (const child of started.splice(0)) {
    try {
      process.kill(-child.pid!, 'SIGKILL')
    } catch {
      // the whole group has already exited
    }
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

/** `npm start -- …` with ORBIT_HOME as the default data dir, in its own process group (like a terminal). */
function npmStart(home: string): Started {
  const child = spawn('npm', ['start', '--', '--listen', '127.0.0.1:0', '--no-mdns', '--json'], {
    cwd: REPO_ROOT,
    env: { ...orbitEnv(), ORBIT_HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  started.push(child)
  const events: Record<string, unknown>[] = []
  let out = ''
  let err = ''
  let onReady: (e: Record<string, unknown>) => void = () => undefined
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    onReady = resolve
    child.once('exit', (code) => reject(new Error(`npm start exited ${code} before it was ready:\n${out}\n${err}`)))
  })
  ready.catch(() => undefined)
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk
    // npm prints its own banner lines; the device's events are the JSON lines.
    for (const line of chunk.split('\n')) {
      if (!line.startsWith('{')) continue
      const event = JSON.parse(line) as Record<string, unknown>
      events.push(event)
      if (event.event === 'ready') onReady(event)
    }
  })
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s))
  // 'close': every process writing to the pipes (npm and the orbit it started) has exited.
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()))
  return { child, events, ready, exited }
}

describe('npm start (the README main command)', () => {
  it('starts this device on the default data dir, initialising it once, with an invite that pairs a second device', async () => {
    requireBuilt()
    const root = mkdtempSync(join(tmpdir(), 'orbit-npm-start-'))
    dirs.push(root)
    const home = join(root, 'home')

    const first = npmStart(home)
    const ready = await first.ready
    expect(ready).toMatchObject({ initialised: true, dataDir: home })
    expect(existsSync(join(home, 'orbit.sqlite'))).toBe(true)
    const invite = ready.invite as { code: string }
    expect(invite.code).toMatch(/^orbit-invite:/)

    // The second device, as the printed instructions say.
    const phone = join(root, 'phone')
    await orbitJson(phone, ['init', '--name', 'Phone'])
    const joined = await orbitJson<{ members: { name: string }[] }>(phone, ['pair', 'join', invite.code])
    expect(joined.members).toHaveLength(2)
    const onMain = await orbitJson<{ devices: { status: string }[] }>(home, ['device', 'list'])
    expect(onMain.devices.map((d) => d.status)).toEqual(['member', 'member'])

    // Ctrl-C (SIGINT to the terminal's process group) stops it cleanly: npm dies of the signal,
    // the device finishes its shutdown and says so.
    process.kill(-first.child.pid!, 'SIGINT')
    await first.exited
    expect(first.events.at(-1)).toEqual({ event: 'stopped' })

    // The next start reuses the device: not initialised again, and no invite (it has a partner).
    const second = npmStart(home)
    const again = await second.ready
    expect(again).toMatchObject({ initialised: false, deviceId: ready.deviceId, workspace: ready.workspace })
    expect(again.invite).toBeUndefined()
    process.kill(-second.child.pid!, 'SIGINT')
    await second.exited
    expect(second.events.at(-1)).toEqual({ event: 'stopped' })
  }, 120_000)
})

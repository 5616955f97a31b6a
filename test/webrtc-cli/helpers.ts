/**
 * Running the built `orbit` CLI with the WebRTC commands as real child processes: one-shot runs,
 * and long-running ones (`webrtc offer` / `answer`) whose stdout is read line by line and whose
 * stdin can be written. Every child is stopped by pid in `cleanup()`.
 */
import { spawn } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { toBase64Url } from '../../src/core/crypto/bytes.js'
import { generateIdentity } from '../../src/core/crypto/identity.js'
import { saveIdentity } from '../../src/adapters/identity-fs/index.js'
import { ConfigStore, openOrbitDatabase } from '../../src/adapters/storage-sqlite/index.js'
import { CONFIG_KEYS, storePath } from '../../src/apps/node/data-dir.js'
import { openDevice } from '../../src/apps/node/device.js'
import { LineChild } from '../helpers/line-child.js'

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const ENTRY = join(REPO_ROOT, 'test/webrtc-cli/fixtures/orbit-webrtc.mjs')
const BUILT = join(REPO_ROOT, 'dist/src/apps/cli/commands/webrtc.js')

export function requireBuilt(): void {
  if (!existsSync(BUILT)) throw new Error(`${BUILT} is missing: run \`npm run build\` before these tests`)
}

export interface Run {
  code: number | null
  stdout: string
  stderr: string
}

function env(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, ORBIT_LOG_LEVEL: process.env.ORBIT_TEST_LOG ?? 'silent' }
  delete e.ORBIT_HOME
  return e
}

/** A running `orbit` child: stdout lines as they come, stdin to write, its exit. */
export class OrbitProcess extends LineChild {
  constructor(args: readonly string[]) {
    super(spawn(process.execPath, [ENTRY, ...args], { env: env(), stdio: 'pipe', cwd: REPO_ROOT }))
  }

  endInput(): void {
    this.child.stdin!.end()
  }

  /** SIGTERM, then SIGKILL after 5 s; by pid, only this child. */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000)
    this.child.kill('SIGTERM')
    await this.exited
    clearTimeout(timer)
  }
}

/** Temp dirs and children a test made. */
export class Scratch {
  readonly dirs: string[] = []
  readonly procs: OrbitProcess[] = []

  root(): string {
    const d = mkdtempSync(join(tmpdir(), 'orbit-webrtc-cli-'))
    this.dirs.push(d)
    return d
  }

  start(args: readonly string[]): OrbitProcess {
    const p = new OrbitProcess(args)
    this.procs.push(p)
    return p
  }

  async run(args: readonly string[], options: { timeoutMs?: number } = {}): Promise<Run> {
    const p = this.start(args)
    p.endInput()
    const timer = setTimeout(() => void p.kill(), options.timeoutMs ?? 90_000)
    const r = await p.exited
    clearTimeout(timer)
    return r
  }

  async json<T = Record<string, unknown>>(dir: string, args: readonly string[]): Promise<T> {
    const r = await this.run(['--data', dir, '--json', ...args])
    if (r.code !== 0) throw new Error(`orbit ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
    return JSON.parse(r.stdout) as T
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.procs.splice(0).map((p) => p.kill()))
    for (const d of this.dirs.splice(0)) rmSync(d, { recursive: true, force: true })
  }
}

/** The JSON error of a failed `--json` run. */
export function jsonError(r: Run): { name: string; code: string; message: string } {
  return (JSON.parse(r.stderr.trim().split('\n').at(-1)!) as { error: { name: string; code: string; message: string } }).error
}

/**
 * Makes `to` a second member device of `from`'s workspace the way pairing leaves it (as
 * test/qr/qr-sync.test.ts does): its own key, both devices in the member list, the same documents.
 */
export async function addMemberCopy(from: string, to: string, name: string): Promise<string> {
  const identity = generateIdentity()
  const device = await openDevice(from)
  try {
    await device.workspace.addDevice({
      id: identity.deviceId,
      publicKey: toBase64Url(identity.publicKey),
      name,
      addedAt: Date.now(),
      addedBy: device.identity.deviceId,
    })
  } finally {
    await device.close()
  }
  cpSync(from, to, { recursive: true })
  unlinkSync(join(to, 'identity.key'))
  saveIdentity(to, identity)
  const db = openOrbitDatabase(storePath(to), { create: false })
  try {
    const config = new ConfigStore(db)
    config.set(CONFIG_KEYS.deviceId, identity.deviceId)
    config.set(CONFIG_KEYS.deviceName, name)
  } finally {
    db.close()
  }
  return identity.deviceId
}

/** Contact names a device lists, sorted. */
export async function contactNames(scratch: Scratch, dir: string): Promise<string[]> {
  const page = await scratch.json<{ contacts: { name: string }[] }>(dir, ['contact', 'list', '--all'])
  return page.contacts.map((c) => c.name).sort()
}

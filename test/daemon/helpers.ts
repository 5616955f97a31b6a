/**
 * Running the built `orbit` CLI (with the LAN commands) as real child processes: one-shot
 * commands, and `orbit serve` daemons that are stopped by pid (SIGTERM, then SIGKILL) in cleanup.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
/** The real `orbit` executable (runs the built CLI in dist/). */
export const ORBIT_ENTRY = join(REPO_ROOT, 'bin/orbit.js')
const BUILT = join(REPO_ROOT, 'dist/src/apps/cli/commands/serve.js')

export function requireBuilt(): void {
  if (!existsSync(BUILT)) throw new Error(`${BUILT} is missing: run \`npm run build\` before these tests`)
}

export interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** Spawns the CLI; `wrap` lets namespace tests run it via `ip netns exec`. */
export type Spawner = (cmd: string, args: string[], options: SpawnOptions) => ChildProcess

const defaultSpawner: Spawner = (cmd, args, options) => spawn(cmd, args, options)

export function orbitEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ORBIT_LOG_LEVEL: process.env.ORBIT_TEST_LOG ?? 'silent', ...extra }
  delete env.ORBIT_HOME
  return env
}

/** Runs `orbit ...args` to completion. */
export function orbit(args: readonly string[], options: { spawner?: Spawner; timeoutMs?: number } = {}): Promise<Run> {
  const child = (options.spawner ?? defaultSpawner)(process.execPath, [ORBIT_ENTRY, ...args], { env: orbitEnv(), stdio: 'pipe', cwd: REPO_ROOT })
  let stdout = ''
  let stderr = ''
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s))
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s))
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`orbit ${args.join(' ')} timed out\nstdout: ${stdout}\nstderr: ${stderr}`))
    }, options.timeoutMs ?? 90_000)
    child.once('error', reject)
    child.once('exit', (code) => {
      clearTimeout(timer)
      resolvePromise({ code, stdout, stderr })
    })
  })
}

/** `orbit --data dir --json ...args`, parsed; throws with the output on a non-zero exit. */
export async function orbitJson<T = Record<string, unknown>>(dir: string, args: readonly string[], options: { spawner?: Spawner } = {}): Promise<T> {
  const r = await orbit(['--data', dir, '--json', ...args], options)
  if (r.code !== 0) throw new Error(`orbit ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  return JSON.parse(r.stdout) as T
}

/** The JSON error of a failed `--json` run. */
export function jsonError(r: Run): { name: string; code: string; message: string } {
  return (JSON.parse(r.stderr.trim().split('\n').at(-1)!) as { error: { name: string; code: string; message: string } }).error
}

/** A running `orbit serve`. */
export class ServeProcess {
  readonly child: ChildProcess
  readonly lines: Record<string, unknown>[] = []
  stderr = ''
  readonly exited: Promise<number | null>
  readonly ready: Promise<Record<string, unknown>>

  constructor(dir: string, args: readonly string[], spawner: Spawner = defaultSpawner) {
    this.child = spawner(process.execPath, [ORBIT_ENTRY, '--data', dir, '--json', 'serve', ...args], { env: orbitEnv(), stdio: 'pipe', cwd: REPO_ROOT })
    let buffered = ''
    let onReady: (line: Record<string, unknown>) => void = () => {}
    this.ready = new Promise((resolvePromise, reject) => {
      onReady = resolvePromise
      this.child.once('exit', (code) => reject(new Error(`orbit serve exited ${code} before it was ready: ${this.stderr}`)))
    })
    this.ready.catch(() => undefined)
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk
      let nl
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = JSON.parse(buffered.slice(0, nl)) as Record<string, unknown>
        buffered = buffered.slice(nl + 1)
        this.lines.push(line)
        if (line.event === 'ready') onReady(line)
      }
    })
    this.child.stderr!.setEncoding('utf8').on('data', (s: string) => (this.stderr += s))
    this.exited = new Promise((resolvePromise) => this.child.once('exit', (code) => resolvePromise(code)))
  }

  /** SIGTERM and wait for the exit code. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode
    this.child.kill('SIGTERM')
    return this.exited
  }

  /** Last resort for cleanup: SIGTERM, then SIGKILL after 5 s. */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000)
    this.child.kill('SIGTERM')
    await this.exited
    clearTimeout(timer)
  }
}

/** Temp dirs and daemons a test made; `cleanup()` from afterEach. */
export class Scratch {
  readonly dirs: string[] = []
  readonly daemons: ServeProcess[] = []

  dir(prefix = 'orbit-lan-'): string {
    const d = mkdtempSync(join(tmpdir(), prefix))
    this.dirs.push(d)
    return join(d, 'data')
  }

  serve(dir: string, args: readonly string[], spawner?: Spawner): ServeProcess {
    const p = new ServeProcess(dir, args, spawner)
    this.daemons.push(p)
    return p
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.daemons.splice(0).map((d) => d.kill()))
    for (const d of this.dirs.splice(0)) rmSync(d, { recursive: true, force: true })
  }
}

/** Contact names a device lists, sorted. */
export async function contactNames(dir: string, options: { spawner?: Spawner } = {}): Promise<string[]> {
  const page = await orbitJson<{ contacts: { name: string }[] }>(dir, ['contact', 'list', '--all'], options)
  return page.contacts.map((c) => c.name).sort()
}

/** The module tracer: a resolve hook that writes every module a process loads to ORBIT_TRACE_MODULES. */
const TRACER = join(REPO_ROOT, 'test/cli/fixtures/trace-modules.mjs')

/** A CLI run with the modules it loaded. */
export interface TracedRun extends Run {
  modules: string[]
}

/** Runs `orbit --data dir ...args` with module tracing: its output, exit code and the modules it loaded. */
export async function tracedOrbit(dir: string, args: readonly string[]): Promise<TracedRun> {
  const trace = join(dirname(dir), `trace-${Math.random().toString(36).slice(2)}.txt`)
  const child = spawn(process.execPath, ['--import', TRACER, ORBIT_ENTRY, '--data', dir, ...args], { env: orbitEnv({ ORBIT_TRACE_MODULES: trace }), stdio: 'pipe', cwd: REPO_ROOT })
  let stdout = ''
  let stderr = ''
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s))
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s))
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  return { code, stdout, stderr, modules: readFileSync(trace, 'utf8').split('\n').filter(Boolean) }
}

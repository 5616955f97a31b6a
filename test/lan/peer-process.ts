/**
 * Drives a child process of test/lan/peers/*.mjs inside a namespace: collects its JSON-line
 * events, waits for one matching a predicate, sends commands and awaits their answers.
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ChildProcess } from 'node:child_process'
import type { Lan } from '../helpers/netns.js'

export type PeerEvent = { event: string; t: number; id?: number } & Record<string, unknown>

const here = fileURLToPath(new URL('.', import.meta.url))
export const PEERS_DIR = `${here}peers`

/**
 * Checks that the part of dist/ the child processes import is built and not older than its
 * sources. It never builds: other test files run children from dist/ at the same time, and a
 * rebuild would hand them half-written modules. `npm test` builds first; by hand, `npm run build`
 * (or `npx tsc -p test/lan/tsconfig.lan.json` for just these files).
 */
export async function assertBuiltForChildren(): Promise<void> {
  const root = join(here, '..', '..')
  const entries = (JSON.parse(readFileSync(join(here, 'tsconfig.lan.json'), 'utf8')) as { files: string[] }).files
  for (const entry of entries) {
    const source = join(here, entry)
    const built = join(root, 'dist', source.slice(root.length + 1).replace(/\.ts$/, '.js'))
    if (!existsSync(built) || statSync(built).mtimeMs < statSync(source).mtimeMs) {
      throw new Error(`${built} is missing or older than ${source}: run \`npm run build\` first (npm test does)`)
    }
  }
}

export class PeerProcess {
  readonly events: PeerEvent[] = []
  readonly stderr: string[] = []
  readonly child: ChildProcess
  #waiters = new Set<{ match: (e: PeerEvent) => boolean; resolve: (e: PeerEvent) => void }>()
  #nextId = 1
  #exited: Promise<number | null>

  constructor(lan: Lan, ns: string, script: string, config: unknown) {
    this.child = lan.spawnIn(ns, process.execPath, [`${PEERS_DIR}/${script}`, JSON.stringify(config)], {
      env: { ...process.env, ORBIT_LOG_LEVEL: process.env.ORBIT_LAN_LOG ?? 'silent' },
    })
    let buffered = ''
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk
      let nl
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        let event: PeerEvent
        try {
          event = JSON.parse(line) as PeerEvent
        } catch {
          this.stderr.push(`stdout: ${line}`)
          continue
        }
        this.events.push(event)
        for (const w of [...this.#waiters]) {
          if (w.match(event)) {
            this.#waiters.delete(w)
            w.resolve(event)
          }
        }
      }
    })
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => this.stderr.push(chunk))
    this.#exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)))
  }

  /** The first event (already seen or future) matching `match`. */
  waitFor(match: (e: PeerEvent) => boolean, what = 'event'): Promise<PeerEvent> {
    const seen = this.events.find(match)
    if (seen) return Promise.resolve(seen)
    return new Promise((resolve, reject) => {
      this.#waiters.add({ match, resolve })
      void this.#exited.then((code) =>
        reject(new Error(`peer exited (${code}) while waiting for ${what}; stderr: ${this.stderr.join('').slice(-2000)}`)),
      )
    })
  }

  /** Sends a command and resolves with its answer. */
  async command(cmd: Record<string, unknown>): Promise<PeerEvent> {
    const id = this.#nextId++
    this.child.stdin!.write(`${JSON.stringify({ ...cmd, id })}\n`)
    return this.waitFor((e) => e.id === id, `answer to ${String(cmd.cmd)}`)
  }

  exited(): Promise<number | null> {
    return this.#exited
  }
}

/**
 * Reads a child process's stdout line by line as it comes, for tests that talk to a long-running
 * CLI (print a code, wait for input, print a report). Works on any `ChildProcess`, whoever spawned
 * it — in the root namespace or through `NetnsResources.spawnIn` inside one. It never kills the
 * child: whoever spawned it stops it.
 *
 * @example
 * const offer = new LineChild(topology.spawnIn(ns, process.execPath, ['bin/orbit.js', 'webrtc', 'offer', '--json']))
 * const { code } = JSON.parse(await offer.line(0))
 * offer.write(answerCode + '\n')
 * const { code: exitCode } = await offer.exited
 */
import type { ChildProcess } from 'node:child_process'

export interface LineChildExit {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export class LineChild {
  readonly child: ChildProcess
  stdout = ''
  stderr = ''
  readonly exited: Promise<LineChildExit>
  #ended = false
  #waiters: Array<() => void> = []

  constructor(child: ChildProcess) {
    this.child = child
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk
      this.#wake()
    })
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk))
    // A child that exits before reading its input must not crash the runner with EPIPE.
    child.stdin?.on('error', () => undefined)
    this.exited = new Promise((resolve) =>
      child.once('close', (code, signal) => {
        this.#ended = true
        this.#wake()
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr })
      }),
    )
  }

  /** Complete stdout lines so far. */
  get lines(): string[] {
    return this.stdout.split('\n').slice(0, -1)
  }

  /** The n-th stdout line (0-based) once printed; rejects, with the output so far, if the child ends first. */
  async line(n: number): Promise<string> {
    for (;;) {
      const l = this.lines[n]
      if (l !== undefined) return l
      if (this.#ended) throw new Error(`child ${this.child.pid} ended before printing line ${n}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`)
      await new Promise<void>((resolve) => this.#waiters.push(resolve))
    }
  }

  write(text: string): void {
    this.child.stdin?.write(text)
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w()
  }
}

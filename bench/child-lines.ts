/**
 * A bench child process that reports JSON lines on stdout: the lines so far, the tail of its
 * stderr (for errors), and a wait for the first line that matches. Used by the namespace benches
 * (discovery, reappear), whose children run in other network namespaces.
 */
import type { ChildProcess } from 'node:child_process'

export interface ChildLines<L> {
  lines: L[]
  stderr(): string
  /** The first line (so far or to come) that matches; rejects when the child exits first or at the timeout. */
  next(pred: (l: L) => boolean, timeoutMs: number, what: string): Promise<L>
}

export function watchLines<L>(child: ChildProcess): ChildLines<L> {
  const lines: L[] = []
  const waiters = new Set<() => void>()
  let buffer = ''
  let err = ''
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (err = (err + s).slice(-4000)))
  child.stdout?.setEncoding('utf8').on('data', (s: string) => {
    buffer += s
    let nl
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const raw = buffer.slice(0, nl)
      buffer = buffer.slice(nl + 1)
      try {
        lines.push(JSON.parse(raw) as L)
      } catch {
        continue
      }
      for (const w of [...waiters]) w()
    }
  })
  child.once('exit', () => {
    for (const w of [...waiters]) w()
  })
  return {
    lines,
    stderr: () => err,
    next(pred, timeoutMs, what) {
      return new Promise((resolveLine, reject) => {
        const check = (): void => {
          const found = lines.find(pred)
          if (found !== undefined) {
            done()
            resolveLine(found)
          } else if (child.exitCode !== null || child.signalCode !== null) {
            done()
            reject(new Error(`child exited before ${what}: ${err.trim()}`))
          }
        }
        const timer = setTimeout(() => {
          done()
          reject(new Error(`timed out waiting for ${what}; child said: ${JSON.stringify(lines)} ${err.trim()}`))
        }, timeoutMs)
        const done = (): void => {
          clearTimeout(timer)
          waiters.delete(check)
        }
        waiters.add(check)
        check()
      })
    },
  }
}

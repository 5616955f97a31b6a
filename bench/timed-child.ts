/**
 * One child `node` process, timed from spawn to exit, with its peak resident memory (the
 * `children/report-rss.js` preload writes it when the child exits). What every bench that times
 * a whole command a user waits for runs through.
 */
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath, pathToFileURL } from 'node:url'

const RSS_REPORTER = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), 'children/report-rss.js')).href

export interface ChildRun {
  ms: number
  /** Peak RSS (VmHWM) in MB; NaN when the child exited before the reporter could write it. */
  rssMB: number
  stdout: string
}

let runCounter = 0

/**
 * Spawns `node ...args` (with `ORBIT_LOG_LEVEL=silent` and `env` added) and waits for it.
 * @throws Error with its stderr and stdout when it exits non-zero.
 */
export async function timedChild(tmp: string, args: string[], env: Record<string, string> = {}): Promise<ChildRun> {
  const rssFile = join(tmp, `rss-${runCounter++}.txt`)
  const t0 = performance.now()
  const child = spawn(process.execPath, ['--import', RSS_REPORTER, ...args], {
    env: { ...process.env, ORBIT_BENCH_RSS_FILE: rssFile, ORBIT_LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s))
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s))
  const code = await new Promise<number | null>((done) => child.on('close', done))
  const ms = performance.now() - t0
  if (code !== 0) throw new Error(`node ${args.join(' ')} exited ${code}: ${stderr}${stdout}`)
  return { ms, rssMB: existsSync(rssFile) ? Number(readFileSync(rssFile, 'utf8')) / 1024 : NaN, stdout }
}

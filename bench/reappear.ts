/**
 * Issue 10's bar: a paired LAN device whose daemon restarts is synced ≤ 2 s (median and worst of
 * ≥ 10 trials) after its mDNS announcement. For scale, Syncthing redials every 60 s.
 *
 * Two network namespaces on one veth link (bench/lan-netns.ts; nothing reaches eth0). A is a real
 * `orbit serve` (mDNS on its lan0); B is paired to it, and each trial: B is down, A gets an edit
 * (`orbit contact add`, through A's daemon), B's daemon starts again (bench/peers/reappear-serve.mjs
 * runs the daemon `orbit serve` runs, and reports when its announcement was sent and when A's edit
 * is in its workspace). The time measured: announcement sent → the edit is on B (the first sync
 * after the restart completed). B's downtime varies per trial, so A's backoff is caught in
 * different states.
 *
 * Two variants: `announce` — B knows no address for A (cleared before each start), so they meet
 * through mDNS alone: A hears B's announcement (discovery → orchestrator.poke → dial), and B hears
 * A's answer to its own query (the same poke on B's side) — whichever dials first;
 * `both` — B also remembers A's address, and its own loop dials A at once on start.
 * `dialledByRestarted` counts the trials in which B's own dial made the link (else A's did).
 * The bar is checked on each. Needs root; otherwise the values say why it was skipped.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ChildProcess } from 'node:child_process'
import { watchLines } from './child-lines.js'
import { createPairLan, netnsUnavailableReason, type PairLan } from './lan-netns.js'
import type { BarCheck, BenchModule, BenchOutcome } from './types.js'

const HERE = dirname(fileURLToPath(import.meta.url))
// dist/bench/ at run time: the scripts stay in the source tree and import from dist/.
const ROOT = resolve(HERE, '../..')
const ORBIT = join(ROOT, 'bin/orbit.js')
const PEER_SCRIPT = join(ROOT, 'bench/peers/reappear-serve.mjs')
const PORT = 7420
const BAR_MS = 2000

interface Line {
  event: string
  t?: number
  [k: string]: unknown
}

/** `orbit ...args` in a namespace, to completion; its JSON stdout. */
async function orbitIn(lan: PairLan, ns: string, args: string[]): Promise<Record<string, unknown>> {
  const child = lan.spawnIn(ns, process.execPath, [ORBIT, '--json', ...args])
  child.stdin?.end()
  let out = ''
  let err = ''
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s))
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s))
  const code = await new Promise<number | null>((done) => child.once('exit', (c) => done(c)))
  if (code !== 0) throw new Error(`orbit ${args.join(' ')} exited ${code}: ${err.trim()}`)
  return JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, unknown>
}

function stopChild(child: ChildProcess, how: 'stdin' | 'SIGTERM'): Promise<void> {
  return new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done()
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL')
    }, 10_000)
    child.once('exit', () => {
      clearTimeout(timer)
      done()
    })
    if (how === 'stdin') child.stdin!.end('stop\n')
    else if (child.pid !== undefined) process.kill(child.pid, 'SIGTERM')
  })
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

async function run(progress: (message: string) => void): Promise<BenchOutcome> {
  const skip = netnsUnavailableReason()
  if (skip !== undefined) {
    progress(`reappear: skipped (${skip})`)
    return { values: { 'reappear.skipped': skip } }
  }
  const trials = Math.max(10, Number(process.env.ORBIT_BENCH_REAPPEAR_TRIALS ?? 10))
  const lan = await createPairLan()
  const tmp = mkdtempSync(join(tmpdir(), 'orbit-bench-reappear-'))
  const [ipA, ipB] = [lan.devices[0]!.ip, lan.devices[1]!.ip]
  const [nsA, nsB] = [lan.devices[0]!.ns, lan.devices[1]!.ns]
  const dataA = join(tmp, 'a')
  const dataB = join(tmp, 'b')
  const values: BenchOutcome['values'] = { 'reappear.trials': trials, 'reappear.barMs': BAR_MS }
  const bars: BarCheck[] = []
  let serveA: ChildProcess | undefined
  try {
    serveA = lan.spawnIn(nsA, process.execPath, [ORBIT, '--data', dataA, '--json', 'serve', '--name', 'Alpha', '--listen', `${ipA}:${PORT}`, '--interface', ipA])
    const a = watchLines<Line>(serveA)
    const ready = await a.next((l) => l.event === 'ready', 60_000, "A's ready line")
    const invite = (ready.invite as { code: string } | undefined)?.code
    if (invite === undefined) throw new Error(`A printed no invite: ${JSON.stringify(ready)}`)
    await orbitIn(lan, nsB, ['--data', dataB, 'init', '--name', 'Beta'])
    await orbitIn(lan, nsB, ['--data', dataB, 'pair', 'join', invite])
    progress(`reappear: A serves on ${ipA}:${PORT} (mDNS on lan0); B paired`)

    for (const variant of ['announce', 'both'] as const) {
      const fromAnnouncement: number[] = []
      const fromReady: number[] = []
      let dialledByB = 0
      for (let i = 0; i < trials; i++) {
        // The edit B lacks, made on A (through its daemon) while B is down.
        const contact = await orbitIn(lan, nsA, ['--data', dataA, 'contact', 'add', '--name', `Reappear ${variant} ${i}`])
        // Downtime 0.5 to 4 s: A's redial backoff is at a different step each trial.
        await sleep(500 + ((i * 1300) % 3600))
        const b = lan.spawnIn(nsB, process.execPath, [PEER_SCRIPT, JSON.stringify({ dataDir: dataB, ip: ipB, port: PORT, watchFor: contact.id, forgetPeers: variant === 'announce' })])
        const out = watchLines<Line>(b)
        try {
          const synced = await out.next((l) => l.event === 'synced', 60_000, `trial ${i}: A's edit on B`)
          const readyLine = await out.next((l) => l.event === 'ready', 1000, 'ready')
          const announced = out.lines.find((l) => l.event === 'announced')
          if (announced === undefined) throw new Error(`trial ${i}: no announcement seen in B's log (did the discovery's 'mDNS started' line change?)`)
          const ms = synced.t! - announced.t!
          fromAnnouncement.push(ms)
          fromReady.push(synced.t! - readyLine.t!)
          if (out.lines.some((l) => l.event === 'linked')) dialledByB++
          progress(`  reappear ${variant} ${i + 1}/${trials}: synced ${ms} ms after the announcement (${synced.t! - readyLine.t!} ms after ready)`)
        } finally {
          await stopChild(b, 'stdin')
        }
      }
      const med = median(fromAnnouncement)
      const worst = Math.max(...fromAnnouncement)
      values[`reappear.${variant}.medianMs`] = med
      values[`reappear.${variant}.worstMs`] = worst
      values[`reappear.${variant}.fromReadyMedianMs`] = median(fromReady)
      values[`reappear.${variant}.fromReadyWorstMs`] = Math.max(...fromReady)
      values[`reappear.${variant}.dialledByRestarted`] = dialledByB
      bars.push({ metric: `reappear.${variant}.medianMs`, value: med, unit: 'ms', bar: `≤ ${BAR_MS}`, pass: med <= BAR_MS })
      bars.push({ metric: `reappear.${variant}.worstMs`, value: worst, unit: 'ms', bar: `≤ ${BAR_MS}`, pass: worst <= BAR_MS })
    }
  } finally {
    if (serveA !== undefined) await stopChild(serveA, 'SIGTERM')
    await lan.destroy()
    rmSync(tmp, { recursive: true, force: true })
  }
  return { values, bars }
}

export const reappearBench: BenchModule = {
  name: 'reappear (issue 10): a restarted LAN device, mDNS announcement to first completed sync',
  run,
}

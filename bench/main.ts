/**
 * `npm run bench`: runs every bench module and prints its values and bar checks. Ratios are
 * against baselines measured in the same run (these machines are noisy).
 *
 *   npm run bench                       # everything
 *   npm run bench -- foundation qr      # only modules whose name starts with one of these words
 *   ORBIT_BENCH_SIZES=10000 npm run bench -- foundation   # skip the 100k data set
 *
 * Each module runs in a fresh node process (this file again, with ORBIT_BENCH_MODULE set), so one
 * module's heap cannot tax the next: the 100k-contact foundation bench peaks near 1.7 GB, and the
 * LAN sync measured after it in the same process drifted from ~1.03x to ~1.29x of its baseline.
 *
 * To add a bench, export a {@link BenchModule} and list it in BENCH_MODULES.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { foundationBench } from './foundation.js'
import { importBench } from './import.js'
import { lanBench } from './lan.js'
import { meshBench } from './mesh.js'
import { runQrBenchWithBars } from './qr.js'
import { reappearBench } from './reappear.js'
import { runWebRtcBench } from './webrtc.js'
import { serveScaleBench } from './serve-scale.js'
import { lanDeviceBench } from './lan-device.js'
import { blobsBench } from './blobs.js'
import { webBench } from './web.js'
import type { BarCheck, BenchModule, BenchOutcome } from './types.js'

export const BENCH_MODULES: readonly BenchModule[] = [
  foundationBench,
  lanBench,
  lanDeviceBench,
  { name: 'webrtc (issue 5): set-up, blobs, 10k CRM sync vs LAN', run: (progress) => runWebRtcBench(progress) },
  { name: 'qr (issue 4): frames, loss, bc-ur', run: async () => runQrBenchWithBars() },
  serveScaleBench,
  importBench,
  meshBench,
  reappearBench,
  blobsBench,
  webBench,
]

const started = Number(process.env.ORBIT_BENCH_STARTED ?? Date.now())
const progress = (message: string) => {
  process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${message}\n`)
}

/** What a module's process reports: its outcome, or why it failed. */
type ModuleResult = { outcome: BenchOutcome } | { error: string }

async function runHere(mod: BenchModule): Promise<ModuleResult> {
  try {
    const result = await mod.run(progress)
    return { outcome: 'values' in result && typeof result.values === 'object' ? (result as BenchOutcome) : { values: result as BenchOutcome['values'] } }
  } catch (err) {
    return { error: (err as Error).stack ?? String(err) }
  }
}

/** Runs module `index` in a child process (same node flags), which prints its result as the last line of stdout. */
function runInChild(index: number): Promise<ModuleResult> {
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
    env: { ...process.env, ORBIT_BENCH_MODULE: String(index), ORBIT_BENCH_STARTED: String(started) },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s))
  return new Promise((resolve) => {
    child.once('error', (err) => resolve({ error: String(err) }))
    child.once('close', (code, signal) => {
      const last = out.trim().split('\n').at(-1) ?? ''
      try {
        resolve(JSON.parse(last) as ModuleResult)
      } catch {
        resolve({ error: `the module's process exited (${signal ?? code}) without a result:\n${out}` })
      }
    })
  })
}

if (process.env.ORBIT_BENCH_MODULE !== undefined) {
  const result = await runHere(BENCH_MODULES[Number(process.env.ORBIT_BENCH_MODULE)]!)
  process.stdout.write('\n' + JSON.stringify(result) + '\n')
  process.exit(0)
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n')
}

const filters = process.argv.slice(2).map((s) => s.toLowerCase())
const chosen = BENCH_MODULES.filter((m) => filters.length === 0 || filters.some((f) => m.name.toLowerCase().startsWith(f)))
const allBars: BarCheck[] = []
let failed = false
for (const mod of chosen) {
  progress(`${mod.name}: start`)
  const result = await runInChild(BENCH_MODULES.indexOf(mod))
  if ('error' in result) {
    failed = true
    process.stdout.write(`\n## ${mod.name}\nFAILED: ${result.error}\n`)
    continue
  }
  const { outcome } = result
  process.stdout.write(`\n## ${mod.name}\n`)
  process.stdout.write(table([['metric', 'value'], ...Object.entries(outcome.values).map(([k, v]) => [k, String(v)])]) + '\n')
  allBars.push(...(outcome.bars ?? []))
}
if (allBars.length > 0) {
  process.stdout.write('\n## bars\n')
  process.stdout.write(
    table([['bar', 'measured', 'target', 'verdict'], ...allBars.map((b) => [b.metric, `${b.value} ${b.unit}`, `${b.bar} ${b.unit}`, b.pass ? 'PASS' : 'FAIL'])]) + '\n',
  )
}
process.stdout.write(`\nbench finished in ${((Date.now() - started) / 1000).toFixed(0)} s\n`)
// Benches report, they do not gate: a module that crashed is the only failure.
process.exit(failed ? 1 : 0)

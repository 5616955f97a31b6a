/**
 * `npm run bench`: runs every bench module and prints its values and bar checks. Ratios are
 * against baselines measured in the same run (these machines are noisy).
 *
 *   npm run bench                       # everything
 *   npm run bench -- foundation qr      # only modules whose name starts with one of these words
 *   ORBIT_BENCH_SIZES=10000 npm run bench -- foundation   # skip the 100k data set
 *
 * To add a bench, export a {@link BenchModule} and list it in BENCH_MODULES.
 */
import { performance } from 'node:perf_hooks'
import { foundationBench } from './foundation.js'
import { lanBench } from './lan.js'
import { runQrBenchWithBars } from './qr.js'
import { runWebRtcBench } from './webrtc.js'
import type { BarCheck, BenchModule, BenchOutcome } from './types.js'

export const BENCH_MODULES: readonly BenchModule[] = [
  foundationBench,
  lanBench,
  { name: 'webrtc (issue 5): set-up, blobs, 10k CRM sync vs LAN', run: (progress) => runWebRtcBench(progress) },
  { name: 'qr (issue 4): frames, loss, bc-ur', run: async () => runQrBenchWithBars() },
]

const started = performance.now()
const progress = (message: string) => {
  process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${message}\n`)
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
  let outcome: BenchOutcome
  try {
    const result = await mod.run(progress)
    outcome = 'values' in result && typeof result.values === 'object' ? (result as BenchOutcome) : { values: result as BenchOutcome['values'] }
  } catch (err) {
    failed = true
    process.stdout.write(`\n## ${mod.name}\nFAILED: ${(err as Error).stack ?? String(err)}\n`)
    continue
  }
  process.stdout.write(`\n## ${mod.name}\n`)
  process.stdout.write(table([['metric', 'value'], ...Object.entries(outcome.values).map(([k, v]) => [k, String(v)])]) + '\n')
  allBars.push(...(outcome.bars ?? []))
}
if (allBars.length > 0) {
  process.stdout.write('\n## bars (DESIGN.md §6)\n')
  process.stdout.write(
    table([['bar', 'measured', 'target', 'verdict'], ...allBars.map((b) => [b.metric, `${b.value} ${b.unit}`, `${b.bar} ${b.unit}`, b.pass ? 'PASS' : 'FAIL'])]) + '\n',
  )
}
process.stdout.write(`\nbench finished in ${((performance.now() - started) / 1000).toFixed(0)} s\n`)
// Benches report, they do not gate: a module that crashed is the only failure.
process.exit(failed ? 1 : 0)

/**
 * Seeded random convergence: many small worlds of 3–5 devices with conflicting
 * edits, deletes against edits, restores, notes and tags, over links that cut, reorder and
 * duplicate; after healing, all replicas must be equal and no acknowledged edit lost.
 *
 *   ORBIT_FUZZ_SCENARIOS=N   how many scenarios (default 500; `npm run test:fuzz` runs 20000)
 *   ORBIT_FUZZ_BASE_SEED=S   the base seed the scenario seeds derive from (default fixed, so CI is reproducible)
 *   ORBIT_SEED=S             run only scenario S (as printed by a failure)
 *
 * Every scenario checks each device's contact listing (the product's SQLite projection) against
 * the documents' state, with no tolerance. The known Automerge bug (automerge-known-bugs.test.ts:
 * a materialized document object keeps a stale value) cannot reach the listing, which reads the
 * state; the scenarios where an object showed it are counted and printed.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { scenarioSeed } from '../helpers/prng.js'
import { runScenario, type ScenarioResult } from './scenario.js'
import { unseedRandomness, useFakeTime } from './world.js'

const single = process.env.ORBIT_SEED
const total = Number(process.env.ORBIT_FUZZ_SCENARIOS ?? 500)
const baseSeed = Number(process.env.ORBIT_FUZZ_BASE_SEED ?? 0x0b17)
const BATCH = 50

describe('seeded random convergence', () => {
  beforeEach(() => useFakeTime())
  afterEach(() => {
    vi.useRealTimers()
  })

  if (single !== undefined) {
    it(`scenario ${single}`, async () => {
      const result = await runScenario(Number(single))
      expect(result.seed).toBe(Number(single))
      // Same seed, same run: the final heads match across processes and machines.
      console.log(`scenario ${single}: ${result.devices} devices, ${result.ops} changes, final heads ${result.fingerprint.slice(0, 40)}…` +
          (result.staleObjects.length > 0 ? `; known Automerge bug in the objects of ${result.staleObjects.join(', ')} (listings right)` : ''))
    })
    return
  }

  it('a scenario replays exactly from its seed', async () => {
    const seed = scenarioSeed(baseSeed, 7)
    const first = await runScenario(seed)
    const again = await runScenario(seed)
    expect(again).toEqual(first)
  })

  it('the scenario that reaches the known Automerge bug lists what the documents hold', async () => {
    // Base seed 20261124, scenario 1757517300: a device's materialized shard object keeps a stale
    // `deletedAt` (automerge-known-bugs.test.ts); checkWorld fails if any listing shows it.
    const result = await runScenario(1757517300)
    // If this fails, the run no longer reaches the bug: upstream fixed it (then the pinned test in
    // automerge-known-bugs.test.ts fails as well), or the scenario replays differently after a
    // change of ours — then find a seed that reaches it with ORBIT_FUZZ_SCENARIOS=2000 (printed at the end).
    expect(result.staleObjects).not.toEqual([])
  })

  const results: ScenarioResult[] = []
  const staleObjects: string[] = []
  const started = performance.now()
  const cpuStarted = process.cpuUsage()
  for (let from = 0; from < total; from += BATCH) {
    const to = Math.min(total, from + BATCH)
    it(`scenarios ${from}..${to - 1} (base seed ${baseSeed})`, async () => {
      let ran = 0
      for (let i = from; i < to; i++, ran++) {
        const result = await runScenario(scenarioSeed(baseSeed, i))
        results.push(result)
        for (const where of result.staleObjects) staleObjects.push(`scenario ${result.seed}: ${where}`)
      }
      expect(ran).toBe(to - from)
    }, 600_000)
  }

  afterAll(() => {
    unseedRandomness()
    // The listings were right in these: the known Automerge bug showed only in the document objects.
    if (staleObjects.length > 0) console.log(`known Automerge stale-materialization bug seen ${staleObjects.length} times (listings right):\n  ${staleObjects.join('\n  ')}`)
    if (results.length === 0) return
    const seconds = (performance.now() - started) / 1000
    const cpu = process.cpuUsage(cpuStarted)
    const cpuSeconds = (cpu.user + cpu.system) / 1e6
    const sum = (k: 'ops' | 'delivered' | 'reordered' | 'duplicated' | 'dropped' | 'restarts') => results.reduce((s, r) => s + r[k], 0)
    console.log(
      `convergence: ${results.length} scenarios in ${seconds.toFixed(1)} s (${(results.length / seconds).toFixed(1)}/s), ` +
        `${cpuSeconds.toFixed(1)} s CPU (${((cpuSeconds * 1000) / results.length).toFixed(0)} ms/scenario); ` +
        `${sum('ops')} acknowledged changes, ${sum('delivered')} messages delivered, ${sum('reordered')} reordered, ` +
        `${sum('duplicated')} duplicated, ${sum('dropped')} dropped by cuts, ${sum('restarts')} device restarts; heal rounds max ${Math.max(...results.map(r => r.healRounds))}`,
    )
  })
})

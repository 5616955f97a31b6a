/**
 * Issue 2's bars, measured against baselines in the same run:
 * - cold open: process start → first page of 50 contacts printed, `orbit contact list` vs a child
 *   that does a plain `Automerge.load` of the same contacts saved as ONE document and sorts out
 *   the first page; 10k (bar: ≤ 0.5×) and 100k (bar: ≤ 2 s, ≤ 600 MB peak RSS) contacts;
 *   Also the floor: a child that reads the same first page from the store's SQLite index with
 *   better-sqlite3 and nothing else (`children/sqlite-list.ts`), reported as a ratio;
 * - cold open with a stale projection (the full Automerge open + re-projection), as its own ratio
 *   against `Automerge.load`;
 * - one committed edit: `editContact` + flush to SQLite (and the projection) vs a plain
 *   `Automerge.change` + `saveIncremental` + one SQLite insert with the same durability settings.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import * as Automerge from '@automerge/automerge'
import { initDevice, openDevice } from '../src/apps/node/device.js'
import type { Contact } from '../src/core/model/types.js'
import { fakeContact } from './fake-contacts.js'
import { timedChild, type ChildRun } from './timed-child.js'
import type { BarCheck, BenchModule, BenchOutcome } from './types.js'

const HERE = dirname(fileURLToPath(import.meta.url))
const REPO = resolve(HERE, '../..')
const ORBIT_BIN = join(REPO, 'bin/orbit.js')
const AUTOMERGE_LIST = join(HERE, 'children/automerge-list.js')
const SQLITE_LIST = join(HERE, 'children/sqlite-list.js')
const PAGE = 50

interface BaselineDoc {
  contacts: Record<string, Contact>
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}
const r1 = (x: number) => Math.round(x * 10) / 10
const r3 = (x: number) => Math.round(x * 1000) / 1000

export interface Dataset {
  n: number
  dataDir: string
  baselineFile: string
  ids: string[]
}

/**
 * Fills a fresh data dir with `n` contacts through `addContacts`, and the same contacts in one plain
 * Automerge document (unless `baseline: false`; `baselineFile` is then not written).
 */
export async function buildDataset(tmp: string, n: number, progress: (m: string) => void, options: { baseline?: boolean } = {}): Promise<Dataset> {
  const withBaseline = options.baseline !== false
  const dataDir = join(tmp, `orbit-${n}`)
  await initDevice(dataDir, { name: `bench ${n}` })
  const device = await openDevice(dataDir)
  let baseline = Automerge.change(Automerge.init<BaselineDoc>(), (d) => {
    d.contacts = {}
  })
  const ids: string[] = []
  const batch = 10_000
  const t0 = performance.now()
  try {
    for (let start = 0; start < n; start += batch) {
      const inputs = Array.from({ length: Math.min(batch, n - start) }, (_, k) => fakeContact(start + k))
      const added = await device.workspace.addContacts(inputs)
      await device.flush()
      if (withBaseline) {
        baseline = Automerge.change(baseline, (d) => {
          for (const c of added) d.contacts[c.id] = c
        })
      }
      for (const c of added) ids.push(c.id)
      progress(`  ${n}: ${start + inputs.length} contacts written (${Math.round((performance.now() - t0) / 1000)} s)`)
    }
  } finally {
    await device.close()
  }
  const baselineFile = join(tmp, `automerge-${n}.bin`)
  if (withBaseline) writeFileSync(baselineFile, Automerge.save(baseline))
  return { n, dataDir, baselineFile, ids }
}

async function coldOpen(tmp: string, ds: Dataset, runs: number, baselineRuns: number, progress: (m: string) => void) {
  const ours: ChildRun[] = []
  const theirs: ChildRun[] = []
  const floor: ChildRun[] = []
  const oursArgs = [ORBIT_BIN, '--data', ds.dataDir, 'contact', 'list', '--limit', String(PAGE)]
  const theirArgs = [AUTOMERGE_LIST, ds.baselineFile, String(PAGE)]
  const floorArgs = [SQLITE_LIST, join(ds.dataDir, 'orbit.sqlite'), String(PAGE)]
  // One warm-up each (page cache, compiled code cache), then alternate so noise hits both.
  // (The baseline's warm-up is skipped at 100k, where one load takes about a minute here.)
  await timedChild(tmp, oursArgs)
  await timedChild(tmp, floorArgs)
  if (baselineRuns > 0 && ds.n < 100_000) await timedChild(tmp, theirArgs)
  for (let i = 0; i < Math.max(runs, baselineRuns); i++) {
    const parts: string[] = []
    if (i < runs) {
      ours.push(await timedChild(tmp, oursArgs))
      floor.push(await timedChild(tmp, floorArgs))
      parts.push(`orbit ${r1(ours.at(-1)!.ms)} ms`, `SQLite floor ${r1(floor.at(-1)!.ms)} ms`)
    }
    if (i < baselineRuns) {
      theirs.push(await timedChild(tmp, theirArgs))
      parts.push(`Automerge.load ${r1(theirs.at(-1)!.ms)} ms`)
    }
    progress(`  ${ds.n}: cold open run ${i + 1}: ${parts.join(', ')}`)
  }
  const firstLine = (s: string) => s.split('\n')[1]?.split(/\s+/)[0]
  const theirFirst = theirs[0]?.stdout.split('\n')[0]?.split(/\s+/)[0]
  // Both must list the same first contact (same order: lower-cased name, then id).
  if (theirFirst !== undefined && firstLine(ours[0]!.stdout) !== theirFirst) {
    throw new Error(`first page differs: orbit ${firstLine(ours[0]!.stdout)} vs baseline ${theirFirst}`)
  }
  const floorFirst = floor[0]?.stdout.split('\n')[0]?.split(/\s+/)[0]
  if (firstLine(ours[0]!.stdout) !== floorFirst) throw new Error(`first page differs: orbit ${firstLine(ours[0]!.stdout)} vs SQLite floor ${floorFirst}`)
  return {
    floorMs: median(floor.map((r) => r.ms)),
    oursMs: median(ours.map((r) => r.ms)),
    oursRssMB: Math.max(...ours.map((r) => r.rssMB)),
    theirMs: theirs.length > 0 ? median(theirs.map((r) => r.ms)) : NaN,
    theirRssMB: theirs.length > 0 ? Math.max(...theirs.map((r) => r.rssMB)) : NaN,
  }
}

/** Cold open once with every shard's projection stale: the full Automerge open and re-projection. */
async function staleOpen(tmp: string, ds: Dataset): Promise<number> {
  const db = new Database(join(ds.dataDir, 'orbit.sqlite'))
  db.exec(`UPDATE doc_gen SET gen = gen + 1`)
  db.close()
  const run = await timedChild(tmp, [ORBIT_BIN, '--data', ds.dataDir, 'contact', 'list', '--limit', String(PAGE)])
  return run.ms
}

async function editLatency(tmp: string, ds: Dataset, edits: number): Promise<{ oursMs: number; theirMs: number }> {
  const device = await openDevice(ds.dataDir)
  await device.workspace.loadAllShards()
  let doc = Automerge.load<BaselineDoc>(new Uint8Array(readFileSync(ds.baselineFile)))
  const db = new Database(join(tmp, 'baseline-edits.sqlite'))
  // The same durability as our store: WAL, fsync at every commit.
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.exec(`CREATE TABLE chunks (key TEXT PRIMARY KEY, data BLOB NOT NULL)`)
  const insert = db.prepare(`INSERT INTO chunks (key, data) VALUES (?, ?)`)
  const ours: number[] = []
  const theirs: number[] = []
  try {
    for (let i = 0; i < edits + 2; i++) {
      const id = ds.ids[(i * 7919) % ds.ids.length]!
      const t0 = performance.now()
      await device.workspace.editContact(id, { title: `Title ${i}` })
      await device.flush()
      const t1 = performance.now()
      doc = Automerge.change(doc, (d) => {
        d.contacts[id]!.title = `Title ${i}`
      })
      insert.run(`incremental-${i}`, Automerge.saveIncremental(doc))
      const t2 = performance.now()
      // The first two edits warm up both paths.
      if (i >= 2) {
        ours.push(t1 - t0)
        theirs.push(t2 - t1)
      }
    }
  } finally {
    await device.close()
    db.close()
  }
  return { oursMs: median(ours), theirMs: median(theirs) }
}

export const foundationBench: BenchModule = {
  name: 'foundation (issue 2): cold open, memory, committed edit',
  async run(progress): Promise<BenchOutcome> {
    const sizes = (process.env.ORBIT_BENCH_SIZES ?? '10000,100000').split(',').map(Number).filter((n) => n > 0)
    const tmp = mkdtempSync(join(tmpdir(), 'orbit-bench-'))
    const values: Record<string, number | string> = {}
    const bars: BarCheck[] = []
    try {
      for (const n of sizes) {
        progress(`building ${n} contacts (addContacts in batches of 10,000) ...`)
        const ds = await buildDataset(tmp, n, progress)
        const big = n >= 100_000
        // The baseline runs as often as Orbit's side (at 100k one Automerge.load takes about a minute here).
        const runs = big ? 3 : 5
        const res = await coldOpen(tmp, ds, runs, big ? Number(process.env.ORBIT_BENCH_BASELINE_RUNS_100K ?? runs) : runs, progress)
        const key = `coldOpen.${n}`
        values[`${key}.orbitMs`] = r1(res.oursMs)
        values[`${key}.automergeLoadMs`] = r1(res.theirMs)
        values[`${key}.ratio`] = r3(res.oursMs / res.theirMs)
        values[`${key}.sqliteFloorMs`] = r1(res.floorMs)
        values[`${key}.vsSqliteFloor`] = r3(res.oursMs / res.floorMs)
        values[`${key}.orbitPeakRssMB`] = r1(res.oursRssMB)
        values[`${key}.automergeLoadPeakRssMB`] = r1(res.theirRssMB)
        values[`${key}.rssRatio`] = r3(res.oursRssMB / res.theirRssMB)
        if (n === 10_000) {
          bars.push({ metric: 'cold open 10k vs Automerge.load', value: r3(res.oursMs / res.theirMs), unit: '×', bar: '≤ 0.5', pass: res.oursMs / res.theirMs <= 0.5 })
        }
        if (n === 100_000) {
          bars.push({ metric: 'cold open 100k', value: Math.round(res.oursMs), unit: 'ms', bar: '≤ 2000', pass: res.oursMs <= 2000 })
          bars.push({ metric: 'cold open 100k peak RSS', value: r1(res.oursRssMB), unit: 'MB', bar: '≤ 600', pass: res.oursRssMB <= 600 })
        }
        progress(`  ${n}: cold open with a stale projection (full open + re-projection) ...`)
        const staleMs = await staleOpen(tmp, ds)
        values[`${key}.staleProjectionMs`] = r1(staleMs)
        values[`${key}.staleProjectionVsAutomergeLoad`] = r3(staleMs / res.theirMs)
        if (n === sizes[0]) {
          progress(`  ${n}: committed edit latency ...`)
          const edit = await editLatency(tmp, ds, 30)
          values[`edit.${n}.orbitMs`] = r3(edit.oursMs)
          values[`edit.${n}.automergeSqliteMs`] = r3(edit.theirMs)
          values[`edit.${n}.ratio`] = r3(edit.oursMs / edit.theirMs)
        }
        rmSync(ds.dataDir, { recursive: true, force: true })
        rmSync(ds.baselineFile, { force: true })
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true })
    }
    return { values, bars }
  },
}

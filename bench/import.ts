/**
 * Issue 13's import bars, measured against a baseline in the same run:
 * - `orbit contact import 10k.csv` through the real CLI (a child process: start, open, parse,
 *   validate, dedupe, batches committed to SQLite with the listing projection) vs the floor of the
 *   same work: ONE Automerge change holding the same contact records, its `save`, and the SQLite
 *   insert (WAL, fsync at commit, like our store) of the document and of the records' index rows.
 *   Bar: ≤ 2×.
 * - 100,000 contacts from CSV: ≤ 30 s, peak RSS reported.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import * as Automerge from '@automerge/automerge'
import { initDevice } from '../src/apps/node/device.js'
import { newContactId } from '../src/core/ids.js'
import { buildContact } from '../src/core/model/records.js'
import type { Contact } from '../src/core/model/types.js'
import { parseContactInput } from '../src/core/model/validate.js'
import { formatCsvRow } from '../src/core/contacts-io/csv.js'
import { fakeContact } from './fake-contacts.js'
import { timedChild } from './timed-child.js'
import type { BarCheck, BenchModule, BenchOutcome } from './types.js'

const HERE = dirname(fileURLToPath(import.meta.url))
const REPO = resolve(HERE, '../..')
const ORBIT_BIN = join(REPO, 'bin/orbit.js')

const r1 = (x: number) => Math.round(x * 10) / 10
const r3 = (x: number) => Math.round(x * 1000) / 1000
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

function writeCsv(file: string, n: number): void {
  const parts = [formatCsvRow(['name', 'email', 'phone', 'title', 'tags'])]
  for (let i = 0; i < n; i++) {
    const c = fakeContact(i)
    parts.push(formatCsvRow([c.name, c.emails.join(';'), c.phones.join(';'), c.title, c.tags.join(';')]))
  }
  writeFileSync(file, parts.join(''))
}

let runs = 0

/** `orbit contact import` in a fresh data dir, timed from spawn to exit, with its peak RSS. */
async function orbitImport(tmp: string, csv: string, n: number): Promise<{ ms: number; rssMB: number; batches: number }> {
  const dataDir = join(tmp, `orbit-${runs++}`)
  await initDevice(dataDir, { name: 'bench import' })
  // ORBIT_BENCH_IMPORT_BATCH=N tries another batch size (default: the command's own).
  const batch = process.env.ORBIT_BENCH_IMPORT_BATCH === undefined ? [] : ['--batch-size', process.env.ORBIT_BENCH_IMPORT_BATCH]
  const { ms, rssMB, stdout } = await timedChild(tmp, [ORBIT_BIN, '--data', dataDir, '--json', 'contact', 'import', csv, ...batch])
  const report = JSON.parse(stdout) as { imported: number; batches: number }
  if (report.imported !== n) throw new Error(`imported ${report.imported} of ${n}`)
  rmSync(dataDir, { recursive: true, force: true })
  return { ms, rssMB, batches: report.batches }
}

/** The floor: one Automerge change with the same records, its save, and the SQLite insert. */
function baseline(tmp: string, n: number): number {
  const file = join(tmp, `baseline-${runs++}.sqlite`)
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.exec(`CREATE TABLE chunks (key TEXT PRIMARY KEY, data BLOB NOT NULL);
    CREATE TABLE entity_index (rid INTEGER PRIMARY KEY, kind TEXT NOT NULL, id TEXT NOT NULL, shard INTEGER NOT NULL, sort_name TEXT NOT NULL,
      deleted INTEGER NOT NULL, updated_at INTEGER NOT NULL, search TEXT NOT NULL, json TEXT NOT NULL, UNIQUE (kind, id));
    CREATE INDEX entity_index_all ON entity_index (kind, sort_name, id);
    CREATE INDEX entity_index_live ON entity_index (kind, sort_name, id) WHERE deleted = 0;
    CREATE INDEX entity_index_shard ON entity_index (kind, shard);`)
  const insertChunk = db.prepare(`INSERT INTO chunks (key, data) VALUES (?, ?)`)
  const insertRow = db.prepare(`INSERT INTO entity_index (kind, id, shard, sort_name, deleted, updated_at, search, json) VALUES ('contact', ?, 0, ?, 0, ?, ?, ?)`)
  const now = Date.now()
  // Building the records (validation + ids) is counted: the import does it too.
  const t0 = performance.now()
  const records: Contact[] = []
  for (let i = 0; i < n; i++) records.push(buildContact(newContactId(), parseContactInput(fakeContact(i)), now))
  const doc = Automerge.change(Automerge.init<{ contacts: Record<string, Contact> }>(), (d) => {
    d.contacts = {}
    for (const c of records) d.contacts[c.id] = c
  })
  const bytes = Automerge.save(doc)
  db.transaction(() => {
    insertChunk.run('snapshot', Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
    for (const c of records) insertRow.run(c.id, c.name.toLowerCase(), c.updatedAt, [c.name, ...c.emails].join('\n').toLowerCase(), JSON.stringify(c))
  })()
  const ms = performance.now() - t0
  db.close()
  rmSync(file, { force: true })
  rmSync(`${file}-wal`, { force: true })
  rmSync(`${file}-shm`, { force: true })
  return ms
}

export const importBench: BenchModule = {
  name: 'import (issue 13): orbit contact import from CSV vs one Automerge change + save + SQLite insert',
  async run(progress): Promise<BenchOutcome> {
    const sizes = (process.env.ORBIT_BENCH_SIZES ?? '10000,100000').split(',').map(Number).filter((n) => n > 0)
    const tmp = mkdtempSync(join(tmpdir(), 'orbit-bench-import-'))
    const values: Record<string, number | string> = {}
    const bars: BarCheck[] = []
    try {
      for (const n of sizes) {
        const csv = join(tmp, `contacts-${n}.csv`)
        writeCsv(csv, n)
        const big = n >= 100_000
        const rounds = big ? 1 : Number(process.env.ORBIT_BENCH_IMPORT_RUNS ?? 3)
        const ours: { ms: number; rssMB: number; batches: number }[] = []
        const theirs: number[] = []
        // Alternate, so that load on this shared machine hits both sides alike.
        for (let i = 0; i < rounds; i++) {
          if (!big || process.env.ORBIT_BENCH_IMPORT_BASELINE_100K === '1') {
            theirs.push(baseline(tmp, n))
            progress(`  ${n}: baseline run ${i + 1}: ${r1(theirs.at(-1)!)} ms`)
          }
          ours.push(await orbitImport(tmp, csv, n))
          progress(`  ${n}: orbit contact import run ${i + 1}: ${r1(ours.at(-1)!.ms)} ms, peak RSS ${r1(ours.at(-1)!.rssMB)} MB`)
        }
        const oursMs = median(ours.map((r) => r.ms))
        const key = `import.${n}`
        values[`${key}.orbitMs`] = r1(oursMs)
        values[`${key}.orbitPeakRssMB`] = r1(Math.max(...ours.map((r) => r.rssMB)))
        values[`${key}.batches`] = ours[0]!.batches
        if (theirs.length > 0) {
          const theirMs = median(theirs)
          values[`${key}.baselineMs`] = r1(theirMs)
          values[`${key}.ratio`] = r3(oursMs / theirMs)
          if (n === 10_000) bars.push({ metric: 'import 10k CSV vs one change + save + SQLite insert', value: r3(oursMs / theirMs), unit: '×', bar: '≤ 2', pass: oursMs / theirMs <= 2 })
        }
        if (n === 100_000) {
          bars.push({ metric: 'import 100k CSV', value: Math.round(oursMs), unit: 'ms', bar: '≤ 30000', pass: oursMs <= 30_000 })
          bars.push({ metric: 'import 100k CSV peak RSS (reported)', value: r1(Math.max(...ours.map((r) => r.rssMB))), unit: 'MB', bar: 'report', pass: true })
        }
        rmSync(csv, { force: true })
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true })
    }
    return { values, bars }
  },
}

/**
 * Per-document storage generations (`doc_gen`): how projections know they are stale.
 */
import type Database from 'better-sqlite3'
import type { OrbitDatabase } from './database.js'

const statements = new WeakMap<Database.Database, { read: Database.Statement<[string], { gen: number }>; bump: Database.Statement<[string]> }>()

function stmts(db: OrbitDatabase) {
  let s = statements.get(db.sqlite)
  if (s === undefined) {
    s = {
      read: db.sqlite.prepare(`SELECT gen FROM doc_gen WHERE doc_id = ?`),
      bump: db.sqlite.prepare(`INSERT INTO doc_gen (doc_id, gen) VALUES (?, 1) ON CONFLICT (doc_id) DO UPDATE SET gen = gen + 1`),
    }
    statements.set(db.sqlite, s)
  }
  return s
}

/** The current generation of `docId` (0 when its content was never stored). */
export function readDocGen(db: OrbitDatabase, docId: string): number {
  return stmts(db).read.get(docId)?.gen ?? 0
}

/** Advance the generation of `docId`; call inside the transaction that changes its chunks. */
export function bumpDocGen(db: OrbitDatabase, docId: string): void {
  stmts(db).bump.run(docId)
}

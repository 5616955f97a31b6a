/**
 * Each document's heads as last flushed (`doc_heads`), readable without loading Automerge: what a
 * sync compares with a peer's summary to load only the documents that differ. Format and validity
 * rule: docs/protocol/storage.md (`doc_heads`).
 */
import type Database from 'better-sqlite3'
import type { OrbitDatabase } from './database.js'

/** At most this many heads are recorded for one document; more are left unknown (the document is then loaded when a peer needs it). */
export const MAX_RECORDED_HEADS = 64

const HEX_HEAD = /^[0-9a-f]{64}$/

/**
 * The `doc_heads` table. A row is valid only while its `gen` equals the document's current stored
 * generation (`doc_gen`): any later save or removal of the document's chunks makes it stale, and a
 * stale or missing row reads as unknown. It is a cache: a wrong answer could only come from a row
 * written against content that is not the stored one, which `flushAndRecordHeads` (record-heads.ts)
 * rules out.
 *
 * @example
 * const cache = new DocHeadsStore(db)
 * cache.heads(docId)   // ['3f…', …] or undefined (never recorded, or the document changed since)
 */
export class DocHeadsStore {
  readonly #read: Database.Statement<[string], { heads: string; gen: number; current: number }>
  readonly #write: Database.Statement<[string, number, string]>

  constructor(db: OrbitDatabase) {
    const s = db.sqlite
    this.#read = s.prepare(
      `SELECT h.heads, h.gen, coalesce(g.gen, 0) AS current FROM doc_heads h LEFT JOIN doc_gen g ON g.doc_id = h.doc_id WHERE h.doc_id = ?`,
    )
    this.#write = s.prepare(`INSERT INTO doc_heads (doc_id, gen, heads) VALUES (?, ?, ?) ON CONFLICT (doc_id) DO UPDATE SET gen = excluded.gen, heads = excluded.heads`)
  }

  /** The heads (sorted hex) recorded for `documentId` at its current generation, or undefined. */
  heads(documentId: string): string[] | undefined {
    const row = this.#read.get(documentId)
    if (row === undefined || row.gen !== row.current) return undefined
    return parseHeads(row.heads)
  }

  /** The generation the recorded row was written at (valid or not), for tests and diagnostics. */
  recordedGeneration(documentId: string): number | undefined {
    return this.#read.get(documentId)?.gen
  }

  /**
   * Record that the stored content of `documentId` at generation `gen` has exactly `heads`.
   * Callers must know that (see `flushAndRecordHeads`); a row for any other content is wrong.
   */
  put(documentId: string, gen: number, heads: readonly string[]): void {
    this.#write.run(documentId, gen, JSON.stringify([...heads].sort()))
  }
}

/** A damaged row is unknown, not an error: the cache is only a shortcut. */
function parseHeads(json: string): string[] | undefined {
  try {
    const value: unknown = JSON.parse(json)
    if (!Array.isArray(value) || value.length === 0 || value.length > MAX_RECORDED_HEADS) return undefined
    if (!value.every((h) => typeof h === 'string' && HEX_HEAD.test(h))) return undefined
    return value as string[]
  } catch {
    return undefined
  }
}

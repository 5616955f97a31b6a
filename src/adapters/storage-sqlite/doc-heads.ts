/**
 * Each document's heads as last flushed (`doc_heads`), readable without loading Automerge: what a
 * sync compares with a peer's summary to load only the documents that differ. Format and validity
 * rule: docs/protocol/storage.md (`doc_heads`).
 */
import * as A from '@automerge/automerge'
import type { DocHandle, DocumentId, Repo } from '@automerge/automerge-repo'
import type Database from 'better-sqlite3'
import type { OrbitDatabase } from './database.js'
import { readDocGen } from './doc-gen.js'

/** At most this many heads are recorded for one document; more are left unknown (the document is then loaded when a peer needs it). */
export const MAX_RECORDED_HEADS = 64

const HEX_HEAD = /^[0-9a-f]{64}$/

/**
 * The `doc_heads` table. A row is valid only while its `gen` equals the document's current stored
 * generation (`doc_gen`): any later save or removal of the document's chunks makes it stale, and a
 * stale or missing row reads as unknown. It is a cache: a wrong answer could only come from a row
 * written against content that is not the stored one, which {@link flushAndRecordHeads} rules out.
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
   * Callers must know that (see {@link flushAndRecordHeads}); a row for any other content is wrong.
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

const sameHeads = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((h, i) => h === b[i])

/**
 * `repo.flush()`, then records in `doc_heads` the heads of every loaded, ready document among
 * `documentIds` whose stored content is now exactly its in-memory content. Returns how many rows
 * it wrote.
 *
 * Why this is exact: `flush` saves each document as it was when `flush` was called (heads `h0`),
 * so afterwards storage holds at least `h0`; storage never holds more than memory (heads `h1`,
 * read synchronously after the flush, together with the generation). If `h0 = h1`, the stored
 * content at that generation is exactly `h1`. A document that changed during the flush is skipped:
 * its row stays stale until a later flush.
 */
export async function flushAndRecordHeads(repo: Repo, db: OrbitDatabase, documentIds: Iterable<string>, store = new DocHeadsStore(db)): Promise<number> {
  const before = new Map<string, string[]>()
  for (const id of documentIds) {
    const heads = liveHeads(repo, id)
    if (heads !== undefined) before.set(id, heads)
  }
  await repo.flush()
  if (db.readonly || !db.sqlite.open) return 0
  // From here on synchronous: the generation and the heads are read at the same moment.
  let written = 0
  db.transaction(() => {
    for (const [id, h0] of before) {
      const h1 = liveHeads(repo, id)
      if (h1 === undefined || !sameHeads(h0, h1) || h1.length > MAX_RECORDED_HEADS) continue
      const gen = readDocGen(db, id)
      // Generation 0: never stored (nothing to describe).
      if (gen === 0) continue
      const previous = store.heads(id)
      if (previous !== undefined && store.recordedGeneration(id) === gen && sameHeads(previous, h1)) continue
      store.put(id, gen, h1)
      written++
    }
  })
  return written
}

/** The sorted hex heads of a loaded, ready document, or undefined. */
function liveHeads(repo: Repo, documentId: string): string[] | undefined {
  const handle = repo.handles[documentId as DocumentId] as DocHandle<unknown> | undefined
  if (handle === undefined || !handle.isReady()) return undefined
  return [...A.getHeads(handle.doc() as A.Doc<unknown>)].sort()
}

/**
 * Blob bookkeeping in the store (docs/protocol/storage.md, schema 4): which blob hashes the
 * workspace references, read from the `entity_index.logo` generated column (deleted rows
 * included), and the `blob_state` table of when each held blob was first seen unreferenced — the
 * facts `blobManifest` (src/core/blobs/manifest.ts) decides garbage collection from.
 */
import type Database from 'better-sqlite3'
import { StoreError } from '../../core/errors.js'
import type { BlobHash } from '../../core/ids.js'
import type { OrbitDatabase } from './database.js'

const BLOB_HASH = /^[0-9a-f]{64}$/

const statements = new WeakMap<Database.Database, { all: Database.Statement<[], { logo: unknown }>; one: Database.Statement<[string], { n: number }> }>()

function prepared(db: OrbitDatabase): { all: Database.Statement<[], { logo: unknown }>; one: Database.Statement<[string], { n: number }> } {
  let s = statements.get(db.sqlite)
  if (s === undefined) {
    s = {
      // Both go through the partial index entity_index_logo: rows without a logo are never read
      // (100k rows, half with a logo: ~8 ms, against ~100 ms for a scan of the JSON).
      all: db.sqlite.prepare(`SELECT DISTINCT logo FROM entity_index WHERE logo IS NOT NULL`),
      one: db.sqlite.prepare(`SELECT count(*) AS n FROM (SELECT 1 FROM entity_index WHERE logo IS NOT NULL AND logo = ? LIMIT 1)`),
    }
    statements.set(db.sqlite, s)
  }
  return s
}

/**
 * Every blob hash a projected contact or organization references as its logo, tombstoned ones
 * included (a restore must find its logo). Values that are not blob hashes are skipped. Reads the
 * projection: call it once the projection is caught up with the documents.
 * @example
 * const referenced = referencedBlobs(db) // Set<BlobHash>
 */
export function referencedBlobs(db: OrbitDatabase): Set<BlobHash> {
  const out = new Set<BlobHash>()
  for (const { logo } of prepared(db).all.all()) if (typeof logo === 'string' && BLOB_HASH.test(logo)) out.add(logo as BlobHash)
  return out
}

/** Whether any projected entity (deleted ones included) references `hash`: one index lookup. */
export function isBlobReferenced(db: OrbitDatabase, hash: BlobHash): boolean {
  return prepared(db).one.get(hash)!.n > 0
}

/**
 * The `blob_state` table: when each blob held here was first seen unreferenced.
 * @example
 * const state = new BlobStateStore(db)
 * const m = blobManifest({ ..., unreferencedSince: state.unreferencedSince(), now })
 * state.apply(m.state, now)
 */
export class BlobStateStore {
  readonly #db: OrbitDatabase
  readonly #all: Database.Statement<[], { hash: string; unreferenced_since: number }>
  readonly #get: Database.Statement<[string], { unreferenced_since: number }>
  readonly #mark: Database.Statement<[string, number]> | undefined
  readonly #unmark: Database.Statement<[string]> | undefined

  constructor(db: OrbitDatabase) {
    this.#db = db
    const s = db.sqlite
    this.#all = s.prepare(`SELECT hash, unreferenced_since FROM blob_state ORDER BY hash`)
    this.#get = s.prepare(`SELECT unreferenced_since FROM blob_state WHERE hash = ?`)
    // An existing mark keeps its earlier time: the grace period runs from the first sighting.
    this.#mark = db.readonly ? undefined : s.prepare(`INSERT OR IGNORE INTO blob_state (hash, unreferenced_since) VALUES (?, ?)`)
    this.#unmark = db.readonly ? undefined : s.prepare(`DELETE FROM blob_state WHERE hash = ?`)
  }

  /** Every mark: hash → ms since the epoch it was first seen unreferenced. */
  unreferencedSince(): Map<BlobHash, number> {
    return new Map(this.#all.all().map((r) => [r.hash as BlobHash, r.unreferenced_since]))
  }

  /** When `hash` was first seen unreferenced, or `undefined` when it is not marked. */
  get(hash: BlobHash): number | undefined {
    return this.#get.get(hash)?.unreferenced_since
  }

  /** Marks `hashes` unreferenced since `at` (a hash already marked keeps its time). */
  mark(hashes: Iterable<BlobHash>, at: number): void {
    this.apply({ mark: hashes, unmark: [] }, at)
  }

  /** Drops the marks of `hashes` (referenced again, or collected). */
  unmark(hashes: Iterable<BlobHash>): void {
    this.apply({ mark: [], unmark: hashes }, 0)
  }

  /**
   * Applies a manifest's `state` changes in one transaction.
   * @throws StoreError `READ_ONLY` on a store opened read-only.
   */
  apply(changes: { mark: Iterable<BlobHash>; unmark: Iterable<BlobHash> }, at: number): void {
    const mark = this.#mark
    const unmark = this.#unmark
    if (mark === undefined || unmark === undefined) throw new StoreError('blob state: the store is open read-only', { code: 'READ_ONLY' })
    this.#db.transaction(() => {
      for (const h of changes.unmark) unmark.run(h)
      for (const h of changes.mark) mark.run(h, at)
    })
  }
}

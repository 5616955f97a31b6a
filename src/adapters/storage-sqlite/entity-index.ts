/**
 * A SQLite projection of CRM entities (contacts, orgs), so lists and lookups need no Automerge.
 */
import type Database from 'better-sqlite3'
import type { OrbitDatabase } from './database.js'

/** What the projection needs from an entity; the whole entity is kept as JSON. */
export interface IndexableEntity {
  id: string
  name: string
  updatedAt: number
  deletedAt?: number
}

export interface PageOptions {
  /** Rows to skip, in `(lower-cased name, id)` order. Default 0. */
  offset?: number
  /** Maximum rows. Default 50. */
  limit?: number
  /** Include tombstoned entities (`deletedAt` set). Default false. */
  includeDeleted?: boolean
  /** Case-insensitive substring of the name (contacts: or of an email). */
  query?: string
}

/** Which stored document generation a shard's projection was built from; see `markClean`. */
export interface ShardSource {
  shard: number
  /** The automerge-repo DocumentId the shard was projected from. */
  docId: string
}

export interface CleanMark extends ShardSource {
  /** `readDocGen(db, docId)` read after `repo.flush()` and before loading the document. */
  gen: number
}

type Row = { json: string }

/**
 * One kind of entity in the `entity_index` table.
 *
 * Staleness: every save of a document's chunks bumps its generation (`doc_gen`) in the same
 * transaction. A shard is clean when the generation recorded by `markClean` equals the
 * document's current one. Protocol for writers: change the document, `await repo.flush()`,
 * read `gen = readDocGen(db, docId)`, then write the rows and the mark in one call
 * (`upsertMany(shard, rows, { shard, docId, gen })`). Readers: `dirtyShards(sources)`, and
 * re-project (`replaceShard`) only those.
 */
export class EntityIndex<T extends IndexableEntity> {
  readonly #db: OrbitDatabase
  readonly #kind: string
  readonly #searchText: (entity: T) => string
  readonly #upsert: Database.Statement<[string, string, number, string, number, number, string, string]>
  readonly #deleteId: Database.Statement<[string, string]>
  readonly #deleteShard: Database.Statement<[string, number]>
  readonly #get: Database.Statement<[string, string], Row>
  readonly #pages: Record<'live' | 'all' | 'liveQuery' | 'allQuery', Database.Statement<unknown[], Row>>
  readonly #counts: Record<'live' | 'all' | 'liveQuery' | 'allQuery', Database.Statement<unknown[], { n: number }>>
  readonly #mark: Database.Statement<[string, number, string, number]>
  readonly #state: Database.Statement<[string, number], { doc_id: string; gen: number; current: number }>

  /**
   * @param kind the entity kind stored in the shared table (`contact`, `org`).
   * @param searchText what `query` matches against, before lower-casing.
   */
  constructor(db: OrbitDatabase, kind: string, searchText: (entity: T) => string) {
    this.#db = db
    this.#kind = kind
    this.#searchText = searchText
    const s = db.sqlite
    this.#upsert = s.prepare(
      `INSERT INTO entity_index (kind, id, shard, sort_name, deleted, updated_at, search, json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (kind, id) DO UPDATE SET shard = excluded.shard, sort_name = excluded.sort_name, deleted = excluded.deleted,
         updated_at = excluded.updated_at, search = excluded.search, json = excluded.json`,
    )
    this.#deleteId = s.prepare(`DELETE FROM entity_index WHERE kind = ? AND id = ?`)
    this.#deleteShard = s.prepare(`DELETE FROM entity_index WHERE kind = ? AND shard = ?`)
    this.#get = s.prepare(`SELECT json FROM entity_index WHERE kind = ? AND id = ?`)
    // `deleted = 0` is a literal so that SQLite picks the partial index entity_index_live.
    const live = `kind = ? AND deleted = 0`
    const all = `kind = ?`
    const q = ` AND instr(search, ?) > 0`
    // Skip OFFSET rows inside the index (rowids only), then read the JSON of the page alone.
    const paged = (where: string) =>
      s.prepare<unknown[], Row>(
        `SELECT e.json FROM (SELECT rid FROM entity_index WHERE ${where} ORDER BY sort_name, id LIMIT ? OFFSET ?) AS p
         JOIN entity_index AS e ON e.rid = p.rid ORDER BY e.sort_name, e.id`,
      )
    this.#pages = { live: paged(live), all: paged(all), liveQuery: paged(live + q), allQuery: paged(all + q) }
    const counted = (where: string) => s.prepare<unknown[], { n: number }>(`SELECT count(*) AS n FROM entity_index WHERE ${where}`)
    this.#counts = { live: counted(live), all: counted(all), liveQuery: counted(live + q), allQuery: counted(all + q) }
    this.#mark = s.prepare(
      `INSERT INTO index_state (kind, shard, doc_id, gen) VALUES (?, ?, ?, ?)
       ON CONFLICT (kind, shard) DO UPDATE SET doc_id = excluded.doc_id, gen = excluded.gen`,
    )
    this.#state = s.prepare(
      `SELECT s.doc_id, s.gen, coalesce(g.gen, 0) AS current FROM index_state s LEFT JOIN doc_gen g ON g.doc_id = s.doc_id
       WHERE s.kind = ? AND s.shard = ?`,
    )
  }

  /** Insert or replace `entities` (all of `shard`) in one transaction, optionally marking it clean. */
  upsertMany(shard: number, entities: readonly T[], clean?: CleanMark): void {
    this.#db.transaction(() => {
      for (const e of entities) this.#put(shard, e)
      if (clean !== undefined) this.markClean(clean.shard, clean.docId, clean.gen)
    })
  }

  /** Forget these ids (a projection detail: tombstones are rows with `deletedAt`, not removals). */
  removeIds(ids: readonly string[]): void {
    this.#db.transaction(() => {
      for (const id of ids) this.#deleteId.run(this.#kind, id)
    })
  }

  /** Make `shard` hold exactly `entities`, in one transaction, optionally marking it clean. */
  replaceShard(shard: number, entities: readonly T[], clean?: CleanMark): void {
    this.#db.transaction(() => {
      this.#deleteShard.run(this.#kind, shard)
      for (const e of entities) this.#put(shard, e)
      if (clean !== undefined) this.markClean(clean.shard, clean.docId, clean.gen)
    })
  }

  /** One page in `(lower-cased name, id)` order. */
  page(options: PageOptions = {}): T[] {
    const offset = Math.max(0, Math.floor(options.offset ?? 0))
    const limit = Math.max(0, Math.floor(options.limit ?? 50))
    const variant = pick(options)
    const params: unknown[] = [this.#kind]
    if (options.query) params.push(options.query.toLowerCase())
    params.push(limit, offset)
    return this.#pages[variant].all(...params).map((r) => JSON.parse(r.json) as T)
  }

  /** The entity, or undefined when it is not in the projection. */
  get(id: string): T | undefined {
    const row = this.#get.get(this.#kind, id)
    return row === undefined ? undefined : (JSON.parse(row.json) as T)
  }

  /** How many rows `page` can return with these filters. */
  count(options: Pick<PageOptions, 'includeDeleted' | 'query'> = {}): number {
    const params: unknown[] = [this.#kind]
    if (options.query) params.push(options.query.toLowerCase())
    return this.#counts[pick(options)].get(...params)?.n ?? 0
  }

  /** Record that `shard` now reflects document `docId` at generation `gen`. */
  markClean(shard: number, docId: string, gen: number): void {
    this.#mark.run(this.#kind, shard, docId, gen)
  }

  /** True iff `shard` was last projected from `docId` at its current generation. */
  isClean(shard: number, docId: string): boolean {
    const st = this.#state.get(this.#kind, shard)
    return st !== undefined && st.doc_id === docId && st.gen === st.current
  }

  /** The shards among `sources` that must be re-projected, in the order given. */
  dirtyShards(sources: readonly ShardSource[]): number[] {
    return this.#db.sqlite.transaction(() => sources.filter((s) => !this.isClean(s.shard, s.docId)).map((s) => s.shard))()
  }

  #put(shard: number, e: T): void {
    this.#upsert.run(
      this.#kind,
      e.id,
      shard,
      e.name.toLowerCase(),
      e.deletedAt === undefined ? 0 : 1,
      e.updatedAt,
      this.#searchText(e).toLowerCase(),
      JSON.stringify(e),
    )
  }
}

function pick(options: Pick<PageOptions, 'includeDeleted' | 'query'>): 'live' | 'all' | 'liveQuery' | 'allQuery' {
  const base = options.includeDeleted ? 'all' : 'live'
  return options.query ? `${base}Query` : base
}

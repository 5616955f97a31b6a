/**
 * automerge-repo's StorageAdapter over one SQLite table.
 */
import type { Chunk, StorageAdapterInterface, StorageKey } from '@automerge/automerge-repo'
import type Database from 'better-sqlite3'
import type { OrbitDatabase } from './database.js'
import { bumpDocGen, readDocGen } from './doc-gen.js'
import { isDiskFull } from './disk-full.js'
import { decodeKey, encodeKey, prefixRange } from './key-codec.js'

type Row = { key: string; data: Uint8Array }
type KeyRow = { rid: number; key: string }

/**
 * Stores automerge-repo chunks in the `chunks` table of an Orbit store.
 *
 * Every method is one SQLite transaction: a range removal is all-or-nothing, and each save or
 * remove of a document's `snapshot`/`incremental` chunk bumps that document's generation
 * (`doc_gen`) in the same transaction (see {@link SqliteStorageAdapter.docGeneration}).
 * Prefixes match whole segments: `[docId]` never matches `[docIdX, ...]`.
 *
 * The adapter does not own the database: close the {@link OrbitDatabase} yourself after
 * `repo.shutdown()`.
 *
 * @example
 * const db = openOrbitDatabase(file, { create: true })
 * const repo = new Repo({ storage: new SqliteStorageAdapter(db), network: [] })
 */
export class SqliteStorageAdapter implements StorageAdapterInterface {
  readonly #db: OrbitDatabase
  readonly #load: Database.Statement<[string], Row>
  readonly #save: Database.Statement<[string, Uint8Array]>
  readonly #remove: Database.Statement<[string]>
  readonly #loadData: Database.Statement<[number], { data: Uint8Array }>
  readonly #keysInRange: Database.Statement<[string, string], KeyRow>
  readonly #allKeys: Database.Statement<[], KeyRow>
  readonly #removeRange: Database.Statement<[string, string]>
  readonly #removeAll: Database.Statement<[]>

  constructor(db: OrbitDatabase) {
    this.#db = db
    const s = db.sqlite
    this.#load = s.prepare(`SELECT key, data FROM chunks WHERE key = ?`)
    this.#save = s.prepare(`INSERT INTO chunks (key, data) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET data = excluded.data`)
    this.#remove = s.prepare(`DELETE FROM chunks WHERE key = ?`)
    // Keys come from the key index alone and are ordered by rowid (insertion order, as the
    // acceptance suite expects); the data is then read row by row. Ordering rows that carry
    // the data would copy every blob through a temporary sorter.
    this.#keysInRange = s.prepare(`SELECT rowid AS rid, key FROM chunks WHERE key >= ? AND key < ? ORDER BY rowid`)
    this.#allKeys = s.prepare(`SELECT rowid AS rid, key FROM chunks ORDER BY rowid`)
    this.#loadData = s.prepare(`SELECT data FROM chunks WHERE rowid = ?`)
    this.#removeRange = s.prepare(`DELETE FROM chunks WHERE key >= ? AND key < ?`)
    this.#removeAll = s.prepare(`DELETE FROM chunks`)
  }

  async load(key: StorageKey): Promise<Uint8Array | undefined> {
    const row = this.#load.get(encodeKey(key))
    return row === undefined ? undefined : plainBytes(row.data)
  }

  async save(key: StorageKey, data: Uint8Array): Promise<void> {
    // automerge-repo saves sync states on a throttle that `repo.shutdown()` does not wait for, so
    // one can arrive after the store was closed. A sync state only saves round trips on the next
    // connection, so dropping it is safe; anything else after close still fails loudly.
    if (!this.#db.sqlite.open && key[1] === 'sync-state') return
    const encoded = encodeKey(key)
    try {
      this.#db.transaction(() => {
        this.#save.run(encoded, asBindable(data))
        const doc = docOfKey(key)
        if (doc !== undefined) bumpDocGen(this.#db, doc)
      })
    } catch (error) {
      // The same reasoning on a full disk: a lost sync state costs round trips, never data, and
      // automerge-repo saves them from a timer whose rejection nobody handles.
      if (key[1] === 'sync-state' && isDiskFull(error)) return
      throw error
    }
  }

  async remove(key: StorageKey): Promise<void> {
    const encoded = encodeKey(key)
    this.#db.transaction(() => {
      const { changes } = this.#remove.run(encoded)
      const doc = docOfKey(key)
      if (changes > 0 && doc !== undefined) bumpDocGen(this.#db, doc)
    })
  }

  async loadRange(keyPrefix: StorageKey): Promise<Chunk[]> {
    const { lower, upper } = prefixRange(keyPrefix)
    // A read transaction: one consistent snapshot even if another process writes meanwhile.
    const read = () => {
      const keys = upper === undefined ? this.#allKeys.all() : this.#keysInRange.all(lower, upper)
      const chunks: Chunk[] = []
      for (const { rid, key } of keys) {
        const row = this.#loadData.get(rid)
        if (row !== undefined) chunks.push({ key: decodeKey(key), data: plainBytes(row.data) })
      }
      return chunks
    }
    return this.#db.sqlite.transaction(read)()
  }

  async removeRange(keyPrefix: StorageKey): Promise<void> {
    const { lower, upper } = prefixRange(keyPrefix)
    this.#db.transaction(() => {
      const keys = upper === undefined ? this.#allKeys.all() : this.#keysInRange.all(lower, upper)
      if (keys.length === 0) return
      const docs = new Set<string>()
      for (const { key } of keys) {
        const doc = docOfKey(decodeKey(key))
        if (doc !== undefined) docs.add(doc)
      }
      if (upper === undefined) this.#removeAll.run()
      else this.#removeRange.run(lower, upper)
      for (const doc of docs) bumpDocGen(this.#db, doc)
    })
  }

  /**
   * The document's storage generation: 0 if never stored, then +1 with every committed change
   * to its snapshot/incremental chunks. Equal generations mean identical stored content.
   */
  docGeneration(documentId: string): number {
    return readDocGen(this.#db, documentId)
  }
}

/**
 * The document whose content a key holds: automerge-repo stores a document as
 * `[documentId, "snapshot" | "incremental", hash]`. Sync states and the storage id do not
 * change a document's content, so they do not bump its generation.
 */
function docOfKey(key: StorageKey): string | undefined {
  const [doc, kind] = key
  return doc !== undefined && (kind === 'snapshot' || kind === 'incremental') ? doc : undefined
}

/** better-sqlite3 binds Buffers; wrap (no copy) any other Uint8Array. */
function asBindable(data: Uint8Array): Uint8Array {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
}

/** Callers (and the acceptance suite) expect a plain Uint8Array, not a Node Buffer. */
function plainBytes(buf: Uint8Array): Uint8Array {
  if (buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength) return new Uint8Array(buf.buffer)
  return Uint8Array.prototype.slice.call(buf)
}

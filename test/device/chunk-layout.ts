/** What a store holds of one document's content, read straight from SQLite (for the chunk-layout tests). */
import Database from 'better-sqlite3'
import { storePath } from '../../src/apps/node/data-dir.js'
import { decodeKey } from '../../src/adapters/storage-sqlite/key-codec.js'

/** The kinds of `docId`'s `snapshot` and `incremental` chunks in rowid order, and the bytes of each kind. */
export function chunkLayout(dataDir: string, docId: string): { kinds: string[]; snapshot: number; incremental: number } {
  const db = new Database(storePath(dataDir), { readonly: true })
  try {
    const rows = (db.prepare(`SELECT key, length(data) AS bytes FROM chunks ORDER BY rowid`).all() as { key: string; bytes: number }[])
      .map((r) => ({ key: decodeKey(r.key), bytes: r.bytes }))
      .filter((r) => r.key[0] === docId && (r.key[1] === 'snapshot' || r.key[1] === 'incremental'))
    const sum = (kind: string) => rows.filter((r) => r.key[1] === kind).reduce((n, r) => n + r.bytes, 0)
    return { kinds: rows.map((r) => r.key[1] as string), snapshot: sum('snapshot'), incremental: sum('incremental') }
  } finally {
    db.close()
  }
}

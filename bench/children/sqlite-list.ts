/**
 * Floor child process for the cold-open bench: the same first page straight from the store's
 * SQLite index with better-sqlite3 (one prepared query, no Orbit code) — what listing costs when
 * nothing but the read itself is done. Orbit's `contact list` adds its checks (data dir, schema,
 * whether the projection is current) and the CLI on top of this.
 *
 * Usage: node sqlite-list.js STORE.sqlite LIMIT
 */
import Database from 'better-sqlite3'

const [file, limitArg] = process.argv.slice(2)
if (file === undefined) throw new Error('usage: sqlite-list STORE.sqlite LIMIT')
const db = new Database(file, { readonly: true, fileMustExist: true })
const rows = db
  .prepare<[number], { json: string }>(`SELECT json FROM entity_index WHERE kind = 'contact' AND deleted = 0 ORDER BY sort_name, id LIMIT ?`)
  .all(Number(limitArg ?? 50))
db.close()
const page = rows.map((r) => JSON.parse(r.json) as { id: string; name: string; emails?: string[] })
process.stdout.write(page.map((c) => `${c.id}  ${c.name}  ${c.emails?.[0] ?? ''}`).join('\n') + '\n')

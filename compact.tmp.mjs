import * as A from '@automerge/automerge'
import Database from 'better-sqlite3'
import { createHash } from 'node:crypto'
const db = new Database(process.argv[2])
const rows = db.prepare(`SELECT rowid, key, data FROM chunks ORDER BY rowid`).all()
const docs = new Map()
for (const r of rows) { const k = JSON.parse('[' + r.key.replace(/,$/, '') + ']'); if (k[1] !== 'snapshot' && k[1] !== 'incremental') continue; const e = docs.get(k[0]) ?? { snap: [], inc: [] }; (k[1] === 'snapshot' ? e.snap : e.inc).push(r); docs.set(k[0], e) }
const enc = (k) => k.map((s) => JSON.stringify(s) + ',').join('')
let n = 0
db.transaction(() => {
  for (const [id, e] of docs) {
    const s = e.snap.reduce((a, r) => a + r.data.length, 0), i = e.inc.reduce((a, r) => a + r.data.length, 0)
    if (!(s < 1024 || i >= s) || e.inc.length === 0) continue
    const doc = A.load(Buffer.concat([...e.snap, ...e.inc].map((r) => r.data)))
    const heads = A.getHeads(doc)
    const hash = createHash('sha256').update(heads.join('')).digest('hex')
    for (const r of [...e.snap, ...e.inc]) db.prepare('DELETE FROM chunks WHERE rowid = ?').run(r.rowid)
    db.prepare('INSERT INTO chunks (key, data) VALUES (?, ?)').run(enc([id, 'snapshot', hash]), A.save(doc))
    const old = db.prepare('SELECT gen FROM doc_gen WHERE doc_id = ?').pluck().get(id)
    db.prepare('UPDATE doc_gen SET gen = gen + 1 WHERE doc_id = ?').run(id)
    db.prepare('UPDATE index_state SET gen = gen + 1 WHERE doc_id = ? AND gen = ?').run(id, old)
    db.prepare('UPDATE doc_heads SET gen = gen + 1 WHERE doc_id = ? AND gen = ?').run(id, old)
    n++
  }
})()
console.log('compacted', n)

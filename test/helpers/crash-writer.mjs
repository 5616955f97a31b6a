// A child process for test/storage-sqlite/crash.test.ts: writes to an Automerge document through
// a real Repo on the SQLite store, acknowledging each change on stdout only after repo.flush()
// resolved. The parent SIGKILLs it at random points and checks that every ACK survived.
//
// usage: node crash-writer.mjs STORE_FILE (DOC_URL | new) [MAX_CHANGES]
// stdout: "START <count already in the doc>", "DOC <url>", then "ACK <n>" per durable change.
// Plain .mjs: tests run TypeScript, children cannot; it imports the built adapter from dist/.
import { Repo } from '@automerge/automerge-repo'
import { openOrbitDatabase, SqliteStorageAdapter } from '../../dist/src/adapters/storage-sqlite/index.js'

const [file, url, maxArg] = process.argv.slice(2)
const max = Number(maxArg ?? 1_000_000)
// Linux pipes make process.stdout.write synchronous: once it returns, the parent will see it.
const say = (line) => process.stdout.write(`${line}\n`)

const db = openOrbitDatabase(file, { create: true })
const repo = new Repo({ storage: new SqliteStorageAdapter(db), network: [] })
const handle = url === 'new' ? repo.create({ count: 0, items: [], entries: {} }) : await repo.find(url)
let n = handle.doc().count
say(`START ${n}`)
await repo.flush()
say(`DOC ${handle.url}`)

while (n < max) {
  n += 1
  const value = n
  // Every 25th change is large, so that kills also land inside big chunk writes and compactions.
  const text = (value % 25 === 0 ? 'x'.repeat(40_000) : 'y'.repeat(120)) + value
  handle.change((d) => {
    d.count = value
    d.items.push(value)
    d.entries[`e${value}`] = { n: value, text }
  })
  await repo.flush()
  say(`ACK ${value}`)
}
await repo.shutdown()
db.close()

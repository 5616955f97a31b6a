// A child process for test/blobstore-fs/fs-writes-in-flight.test.ts, run under `ulimit -f` so that
// the file-system store's writes fail with EFBIG part-way through a receive (Node ignores
// SIGXFSZ). It appends the blob in 256 KiB pieces, each awaited, then tries to commit, and prints
// one line per outcome: "OK <offset>" for an append that resolved, "FAIL <offset> <code>" for the
// first call that threw, "COMMIT <ok|code>".
//
// usage: node efbig-child.mjs ROOT BLOB_FILE LIST_JSON_FILE
// Plain .mjs: tests run TypeScript, children cannot; it imports the built adapter from dist/.
import { readFileSync } from 'node:fs'
import { FsBlobStore } from '../../dist/src/adapters/blobstore-fs/index.js'

const [root, blobFile, listFile] = process.argv.slice(2)
const bytes = new Uint8Array(readFileSync(blobFile))
const list = JSON.parse(readFileSync(listFile, 'utf8'))
const say = (line) => process.stdout.write(`${line}\n`)
const PIECE = 256 * 1024

const incoming = await new FsBlobStore(root).receive(list)
let failed = false
for (let at = incoming.received; at < bytes.length && !failed; at += PIECE) {
  try {
    await incoming.append(at, bytes.subarray(at, Math.min(bytes.length, at + PIECE)))
    say(`OK ${at}`)
  } catch (error) {
    say(`FAIL ${at} ${error.code ?? error.name}`)
    failed = true
  }
}
try {
  await incoming.commit()
  say('COMMIT ok')
} catch (error) {
  say(`COMMIT ${error.code ?? error.name}`)
}
await incoming.close()

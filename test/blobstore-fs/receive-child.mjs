// A child process for test/blobstore-fs/fs-crash.test.ts: receives a synthetic blob into an
// FsBlobStore piece by piece, printing "CHUNK <n>" each time chunk n is appended and checked.
// The parent SIGKILLs it mid-receive and resumes the partial itself.
//
// usage: node receive-child.mjs ROOT CHUNKS LIST_JSON_FILE
// Plain .mjs: tests run TypeScript, children cannot; it imports the built adapter from dist/.
import { readFileSync } from 'node:fs'
import { FsBlobStore } from '../../dist/src/adapters/blobstore-fs/index.js'

const [root, chunksArg, listFile] = process.argv.slice(2)
const CHUNK = 1024 * 1024
const PIECE = 64 * 1024
const list = JSON.parse(readFileSync(listFile, 'utf8'))
const say = (line) => process.stdout.write(`${line}\n`)

/** Chunk i of the synthetic blob: a fixed pseudo-random MiB with i written into its first bytes. */
function chunkBytes(i) {
  const out = Buffer.alloc(CHUNK)
  let x = 0x9e3779b9
  for (let j = 0; j < CHUNK; j++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0
    out[j] = x & 0xff
  }
  out.writeUInt32BE(i, 0)
  return out
}

const store = new FsBlobStore(root)
const incoming = await store.receive(list)
say(`START ${incoming.received}`)
for (let i = Math.floor(incoming.received / CHUNK); i < Number(chunksArg); i++) {
  const bytes = chunkBytes(i)
  for (let at = 0; at < CHUNK; at += PIECE) await incoming.append(i * CHUNK + at, bytes.subarray(at, at + PIECE))
  say(`CHUNK ${i}`)
  // Slow down so the parent's kill lands mid-receive (never between receive and commit).
  await new Promise((resolve) => setTimeout(resolve, 30))
}
say('DONE')

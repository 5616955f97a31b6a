/**
 * The sending side of the blobs bench's raw baseline (bench/blobs.ts), in its own process as a
 * second device would be: connects to 127.0.0.1:PORT, waits for the receiver's one-byte "go", then
 * writes every file's bytes back to back on the plain socket and exits.
 *
 *   node dist/bench/children/raw-send.js PORT FILE...
 */
import { readFileSync } from 'node:fs'
import { connect } from 'node:net'

const [port, ...files] = process.argv.slice(2)
const blobs = files.map((f) => readFileSync(f))
const socket = connect(Number(port), '127.0.0.1')
socket.once('data', async () => {
  for (const b of blobs) if (!socket.write(b)) await new Promise<void>((resolve) => socket.once('drain', () => resolve()))
  socket.end()
})
socket.on('error', (error) => {
  console.error(error.message)
  process.exit(1)
})

/**
 * The synthetic blobs of the FS store tests, the same bytes receive-child.mjs produces: chunk i
 * is a fixed pseudo-random MiB with i in its first four bytes, so a blob of any size is made one
 * chunk at a time and never held whole.
 */
import { createHash } from 'node:crypto'
import { CHUNK_SIZE, type ChunkList } from '../../src/core/blobs/index.js'
import type { BlobHash } from '../../src/core/ids.js'
import { pseudoRandomBytes } from '../helpers/blob-store-suite.js'

let base: Buffer | undefined

/** Chunk `i` of the synthetic blob (a fresh buffer). */
export function syntheticChunk(i: number): Buffer {
  base ??= Buffer.from(pseudoRandomBytes(CHUNK_SIZE, 0x9e3779b9))
  const out = Buffer.from(base)
  out.writeUInt32BE(i, 0)
  return out
}

/** The chunk list of the synthetic blob of `chunks` whole chunks, computed one chunk at a time. */
export function syntheticList(chunks: number): ChunkList {
  const whole = createHash('sha256')
  const names: string[] = []
  for (let i = 0; i < chunks; i++) {
    const c = syntheticChunk(i)
    whole.update(c)
    names.push(createHash('sha256').update(c).digest('hex'))
  }
  return { hash: whole.digest('hex') as BlobHash, size: chunks * CHUNK_SIZE, chunkSize: CHUNK_SIZE, chunks: names }
}

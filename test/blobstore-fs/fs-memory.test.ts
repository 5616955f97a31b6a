import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FsBlobStore } from '../../src/adapters/blobstore-fs/index.js'
import { CHUNK_SIZE, PIECE_SIZE } from '../../src/core/blobs/index.js'
import { syntheticChunk, syntheticList } from './synthetic.js'

/**
 * Memory does not grow with blob size (docs/protocol/blobs.md, "Storage and manifest"): a 200 MB
 * blob is received, committed (whole-hash check), chunk-listed and read back in pieces while the
 * process's resident set grows by far less than the blob.
 */
const CHUNKS = 200
const BOUND = 64 * 1024 * 1024

describe('FsBlobStore memory', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'orbit-blobs-rss-'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it('receives, commits, lists the chunks of and reads a 200 MB blob with RSS growth under 64 MB', async () => {
    const list = syntheticList(CHUNKS)
    const store = new FsBlobStore(join(dir, 'blobs'))
    const gc = (globalThis as { gc?: () => void }).gc
    gc?.()
    const before = process.memoryUsage().rss
    let peak = before
    const sample = (): void => {
      peak = Math.max(peak, process.memoryUsage().rss)
    }
    const incoming = await store.receive(list)
    for (let i = 0; i < CHUNKS; i++) {
      const bytes = syntheticChunk(i)
      for (let at = 0; at < CHUNK_SIZE; at += PIECE_SIZE) await incoming.append(i * CHUNK_SIZE + at, bytes.subarray(at, at + PIECE_SIZE))
      if (i % 10 === 0) sample()
    }
    expect(await incoming.commit()).toEqual({ hash: list.hash, size: list.size })
    sample()
    // Forget the cached list so chunks() streams over the 200 MB again.
    rmSync(`${store.pathOf(list.hash)}.chunks`)
    expect(await store.chunks(list.hash)).toEqual(list)
    sample()
    for (let at = 0; at < list.size; at += 7 * PIECE_SIZE + 1) {
      const piece = await store.read(list.hash, at, PIECE_SIZE)
      expect(piece.length).toBe(Math.min(PIECE_SIZE, list.size - at))
    }
    sample()
    if (process.env.ORBIT_RSS_REPORT) console.log(`rss growth ${((peak - before) / 1048576).toFixed(1)} MiB`)
    expect(peak - before).toBeLessThan(BOUND)
  }, 240_000)
})

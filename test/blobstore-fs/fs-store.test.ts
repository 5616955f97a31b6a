import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FsBlobStore } from '../../src/adapters/blobstore-fs/index.js'
import { CHUNK_SIZE, chunkListOf } from '../../src/core/blobs/index.js'
import { appendPieces, blobStoreSuite, expectBytes, pseudoRandomBytes } from '../helpers/blob-store-suite.js'

blobStoreSuite('FsBlobStore', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'orbit-blobs-suite-'))
  const root = join(dir, 'blobs')
  return {
    store: new FsBlobStore(root),
    reopen: async () => new FsBlobStore(root),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  }
})

describe('FsBlobStore on disk', () => {
  let dir: string
  let root: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'orbit-blobs-'))
    root = join(dir, 'blobs')
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  const bytes = pseudoRandomBytes(CHUNK_SIZE + 1000, 3)

  it('opens a data dir of the earlier layout (<root>/ab/<hash>, no sidecars) and serves it', async () => {
    const list = chunkListOf(bytes)
    const { mkdirSync } = await import('node:fs')
    mkdirSync(join(root, list.hash.slice(0, 2)), { recursive: true })
    writeFileSync(join(root, list.hash.slice(0, 2), list.hash), bytes)
    const store = new FsBlobStore(root)
    expect(await store.list()).toEqual([{ hash: list.hash, size: bytes.length }])
    expect(await store.chunks(list.hash)).toEqual(list)
    expectBytes(await store.read(list.hash, CHUNK_SIZE - 10, 100), bytes.subarray(CHUNK_SIZE - 10, CHUNK_SIZE + 90))
  })

  it('caches the chunk list in a sidecar written by put, and recomputes it when the sidecar is missing or corrupt', async () => {
    const store = new FsBlobStore(root)
    const hash = await store.put(bytes)
    const sidecar = `${store.pathOf(hash)}.chunks`
    expect(JSON.parse(readFileSync(sidecar, 'utf8'))).toEqual(chunkListOf(bytes))
    rmSync(sidecar)
    const list = await store.chunks(hash)
    expect(list).toEqual(chunkListOf(bytes))
    expect(JSON.parse(readFileSync(sidecar, 'utf8'))).toEqual(list)
    for (const garbage of ['{not json', JSON.stringify({ ...list, size: 5 }), JSON.stringify({ ...list, chunks: ['00'] })]) {
      writeFileSync(sidecar, garbage)
      expect(await new FsBlobStore(root).chunks(hash)).toEqual(chunkListOf(bytes))
      expect(JSON.parse(readFileSync(sidecar, 'utf8'))).toEqual(chunkListOf(bytes))
    }
    // The sidecar is not a blob.
    expect(await store.list()).toEqual([{ hash, size: bytes.length }])
    expect(await store.delete(hash)).toBe(true)
    expect(existsSync(sidecar)).toBe(false)
    // One chunk: its list is its own hash, no sidecar.
    const small = await store.put(bytes.subarray(0, 1000))
    expect(existsSync(`${store.pathOf(small)}.chunks`)).toBe(false)
  })

  it('stores a small blob again after its prefix directory was removed by hand while the store was open', async () => {
    const store = new FsBlobStore(root)
    const first = await store.put(pseudoRandomBytes(1000, 10))
    // Another small blob whose hash starts with the same two hex digits: same directory.
    let second: Uint8Array | undefined
    for (let seed = 11; second === undefined; seed++) {
      const candidate = pseudoRandomBytes(1000, seed)
      if (createHash('sha256').update(candidate).digest('hex').slice(0, 2) === first.slice(0, 2)) second = candidate
    }
    rmSync(join(root, first.slice(0, 2)), { recursive: true })
    const hash = await store.put(second)
    expectBytes((await store.get(hash))!, second)
    expect(await store.has(first)).toBe(false)
  })

  it('refuses the chunk list of a blob whose bytes rotted on disk (CORRUPT_BLOB)', async () => {
    const store = new FsBlobStore(root)
    const hash = await store.put(bytes)
    writeFileSync(store.pathOf(hash), pseudoRandomBytes(bytes.length, 4))
    // The sidecar spares that pass over the bytes; without it, chunks() hashes them and finds the rot.
    rmSync(`${store.pathOf(hash)}.chunks`)
    await expect(store.chunks(hash)).rejects.toMatchObject({ name: 'StoreError', code: 'CORRUPT_BLOB' })
    await expect(store.get(hash)).rejects.toMatchObject({ name: 'StoreError', code: 'CORRUPT_BLOB' })
  })

  it('keeps a partial under .partial/<hash> with its list, and moves it into place on commit', async () => {
    const store = new FsBlobStore(root)
    const list = chunkListOf(bytes)
    const incoming = await store.receive(list)
    await appendPieces(incoming, bytes, 0, CHUNK_SIZE + 10)
    const partial = join(root, '.partial', list.hash)
    expect(readFileSync(partial).length).toBe(CHUNK_SIZE + 10)
    expect(JSON.parse(readFileSync(`${partial}.list`, 'utf8'))).toEqual(list)
    await appendPieces(incoming, bytes, CHUNK_SIZE + 10)
    await incoming.commit()
    expect(readdirSync(join(root, '.partial'))).toEqual([])
    expect(readdirSync(join(root, list.hash.slice(0, 2))).sort()).toEqual([list.hash, `${list.hash}.chunks`])
  })

  it('re-checks a kept partial on resume and truncates at the first chunk that rotted', async () => {
    const big = pseudoRandomBytes(3 * CHUNK_SIZE, 5)
    const list = chunkListOf(big)
    const store = new FsBlobStore(root)
    const first = await store.receive(list)
    await appendPieces(first, big, 0, 2 * CHUNK_SIZE + 500)
    await first.close()
    const partial = join(root, '.partial', list.hash)
    const onDisk = readFileSync(partial)
    onDisk[CHUNK_SIZE + 7] = onDisk[CHUNK_SIZE + 7]! ^ 1 // chunk 1 rots
    writeFileSync(partial, onDisk)
    const second = await new FsBlobStore(root).receive(list)
    expect(second.received).toBe(CHUNK_SIZE)
    expect(readFileSync(partial).length).toBe(CHUNK_SIZE)
    await appendPieces(second, big, CHUNK_SIZE)
    await second.commit()
    expectBytes(await store.get(list.hash), big)
  })

  it('ignores a partial whose list file is torn, and starts it over', async () => {
    const list = chunkListOf(bytes)
    const store = new FsBlobStore(root)
    const first = await store.receive(list)
    await appendPieces(first, bytes, 0, CHUNK_SIZE)
    await first.close()
    writeFileSync(join(root, '.partial', `${list.hash}.list`), '{"hash":')
    expect(await store.partials()).toEqual([])
    const second = await store.receive(list)
    expect(second.received).toBe(0)
    await second.discard()
    expect(readdirSync(join(root, '.partial'))).toEqual([])
  })
})

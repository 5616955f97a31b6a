/**
 * The BlobStore acceptance suite (docs/protocol/blobs.md, "Storage and manifest"): every
 * implementation of src/core/blobs/port.ts runs it through {@link blobStoreSuite}.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { CHUNK_SIZE, PIECE_SIZE, chunkListOf, type BlobStore, type ChunkList, type IncomingBlob } from '../../src/core/blobs/index.js'
import type { BlobHash } from '../../src/core/ids.js'

/** One store under test, and a way to open it again as a restarted process would. */
export interface BlobStoreFixture {
  store: BlobStore
  /** The same stored data seen by a fresh instance (the same instance for an in-memory store). */
  reopen(): Promise<BlobStore>
  cleanup(): Promise<void>
}

/** Deterministic pseudo-random bytes (xorshift32), so a failure reproduces. */
export function pseudoRandomBytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length)
  let x = seed >>> 0 || 1
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    out[i] = x & 0xff
  }
  return out
}

/** Appends `bytes[from..to)` to `incoming` in wire-sized pieces. */
export async function appendPieces(incoming: IncomingBlob, bytes: Uint8Array, from: number, to = bytes.length): Promise<void> {
  for (let at = from; at < to; at += PIECE_SIZE) await incoming.append(at, bytes.subarray(at, Math.min(to, at + PIECE_SIZE)))
}

/** Asserts byte equality without vitest's element-by-element diff of megabyte arrays. */
export function expectBytes(actual: Uint8Array | undefined, expected: Uint8Array): void {
  expect(actual).toBeInstanceOf(Uint8Array)
  expect(actual!.length).toBe(expected.length)
  expect(Buffer.compare(Buffer.from(actual!.buffer, actual!.byteOffset, actual!.byteLength), Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength))).toBe(0)
}

const TWO_AND_A_HALF = pseudoRandomBytes(2 * CHUNK_SIZE + CHUNK_SIZE / 2, 7)
const SMALL = new TextEncoder().encode('a small blob')
const BAD_HASHES = ['', 'zz', '../../etc/passwd', 'A'.repeat(64), `${'0'.repeat(63)}g`, '0'.repeat(65)] as BlobHash[]

/** Runs the acceptance suite against the stores `setup` makes (a fresh, empty one per test). */
export function blobStoreSuite(name: string, setup: () => Promise<BlobStoreFixture>): void {
  describe(`BlobStore acceptance: ${name}`, () => {
    let fx: BlobStoreFixture
    let store: BlobStore
    beforeEach(async () => {
      fx = await setup()
      store = fx.store
    })
    afterEach(async () => {
      await fx.cleanup()
    })

    it('puts bytes checked against an expected hash, and stores nothing when they differ (BLOB_MISMATCH)', async () => {
      const hash = chunkListOf(SMALL).hash
      expect(await store.put(SMALL, hash)).toBe(hash)
      expect(await store.get(hash)).toEqual(SMALL)
      const other = chunkListOf(TWO_AND_A_HALF).hash
      await expect(store.put(SMALL.subarray(1), other)).rejects.toMatchObject({ name: 'StoreError', code: 'BLOB_MISMATCH' })
      expect(await store.has(other)).toBe(false)
      expect(await store.has(chunkListOf(SMALL.subarray(1)).hash)).toBe(false)
      expect((await store.list()).map((b) => b.hash)).toEqual([hash])
    })

    it('puts, gets, has and stats by SHA-256, idempotently', async () => {
      const hash = await store.put(SMALL)
      expect(hash).toBe(chunkListOf(SMALL).hash)
      expect(await store.put(SMALL)).toBe(hash)
      expect(await store.get(hash)).toEqual(SMALL)
      expect(await store.has(hash)).toBe(true)
      expect(await store.stat(hash)).toEqual({ hash, size: SMALL.length })
      const absent = chunkListOf(new Uint8Array([1, 2, 3])).hash
      expect(await store.get(absent)).toBeUndefined()
      expect(await store.has(absent)).toBe(false)
      expect(await store.stat(absent)).toBeUndefined()
      expect(await store.chunks(absent)).toBeUndefined()
      await expect(store.read(absent, 0, 10)).rejects.toMatchObject({ name: 'StoreError', code: 'NOT_FOUND' })
    })

    it('reads ranges without the whole blob, shorter at its end', async () => {
      const hash = await store.put(TWO_AND_A_HALF)
      expectBytes(await store.read(hash, 0, 10), TWO_AND_A_HALF.subarray(0, 10))
      const mid = CHUNK_SIZE - 5
      expectBytes(await store.read(hash, mid, PIECE_SIZE), TWO_AND_A_HALF.subarray(mid, mid + PIECE_SIZE))
      const tail = TWO_AND_A_HALF.length - 100
      expectBytes(await store.read(hash, tail, PIECE_SIZE), TWO_AND_A_HALF.subarray(tail))
      expect((await store.read(hash, TWO_AND_A_HALF.length, 10)).length).toBe(0)
      await expect(store.read(hash, -1, 10)).rejects.toMatchObject({ name: 'ValidationError' })
    })

    it('gives the chunk list of a stored blob, the same after reopening', async () => {
      const hash = await store.put(TWO_AND_A_HALF)
      const expected = chunkListOf(TWO_AND_A_HALF)
      expect(expected.chunks).toHaveLength(3)
      expect(await store.chunks(hash)).toEqual(expected)
      expect(await store.chunks(hash)).toEqual(expected)
      expect(await (await fx.reopen()).chunks(hash)).toEqual(expected)
      const empty = await store.put(new Uint8Array(0))
      expect(await store.chunks(empty)).toEqual({ hash: empty, size: 0, chunkSize: CHUNK_SIZE, chunks: [] })
    })

    it('lists and deletes', async () => {
      expect(await store.list()).toEqual([])
      const a = await store.put(SMALL)
      const b = await store.put(TWO_AND_A_HALF)
      const listed = await store.list()
      expect(listed.sort((x, y) => (x.hash < y.hash ? -1 : 1))).toEqual(
        [{ hash: a, size: SMALL.length }, { hash: b, size: TWO_AND_A_HALF.length }].sort((x, y) => (x.hash < y.hash ? -1 : 1)),
      )
      expect(await store.delete(a)).toBe(true)
      expect(await store.delete(a)).toBe(false)
      expect(await store.has(a)).toBe(false)
      expect(await store.chunks(a)).toBeUndefined()
      expect(await store.list()).toEqual([{ hash: b, size: TWO_AND_A_HALF.length }])
    })

    it('receives a blob piece by piece and commits it', async () => {
      const list = chunkListOf(TWO_AND_A_HALF)
      const incoming = await store.receive(list)
      expect(incoming.received).toBe(0)
      expect(incoming.list).toEqual(list)
      await appendPieces(incoming, TWO_AND_A_HALF, 0)
      expect(incoming.received).toBe(TWO_AND_A_HALF.length)
      expect(await incoming.commit()).toEqual({ hash: list.hash, size: list.size })
      expectBytes(await store.get(list.hash), TWO_AND_A_HALF)
      expect(await store.chunks(list.hash)).toEqual(list)
      expect(await store.partials()).toEqual([])
      await expect(store.receive(list)).rejects.toMatchObject({ name: 'StoreError', code: 'ALREADY_STORED' })
    })

    it('receives an empty blob and a blob in one append spanning chunks', async () => {
      const empty = chunkListOf(new Uint8Array(0))
      const e = await store.receive(empty)
      expect(await e.commit()).toEqual({ hash: empty.hash, size: 0 })
      expect(await store.get(empty.hash)).toEqual(new Uint8Array(0))
      const list = chunkListOf(TWO_AND_A_HALF)
      const incoming = await store.receive(list)
      await incoming.append(0, TWO_AND_A_HALF)
      await incoming.commit()
      expectBytes(await store.get(list.hash), TWO_AND_A_HALF)
    })

    it('refuses an append out of order or past the size, keeping what it had', async () => {
      const list = chunkListOf(SMALL)
      const incoming = await store.receive(list)
      await incoming.append(0, SMALL.subarray(0, 4))
      await expect(incoming.append(2, SMALL.subarray(2, 6))).rejects.toMatchObject({ name: 'StoreError', code: 'OUT_OF_ORDER' })
      await expect(incoming.append(8, SMALL.subarray(8))).rejects.toMatchObject({ name: 'StoreError', code: 'OUT_OF_ORDER' })
      await expect(incoming.append(4, new Uint8Array(SMALL.length))).rejects.toMatchObject({ name: 'StoreError', code: 'TOO_LONG' })
      expect(incoming.received).toBe(4)
      await expect(incoming.commit()).rejects.toMatchObject({ name: 'StoreError', code: 'INCOMPLETE' })
      await incoming.append(4, SMALL.subarray(4))
      await incoming.commit()
      expect(await store.get(list.hash)).toEqual(SMALL)
    })

    it('drops only the chunk that fails its hash, then takes it again', async () => {
      const list = chunkListOf(TWO_AND_A_HALF)
      const incoming = await store.receive(list)
      await appendPieces(incoming, TWO_AND_A_HALF, 0, CHUNK_SIZE)
      const forged = TWO_AND_A_HALF.slice(CHUNK_SIZE, 2 * CHUNK_SIZE)
      forged[12345] = forged[12345]! ^ 0xff
      // Every piece of the forged chunk but its last is taken; the last completes it and fails.
      for (let at = 0; at < CHUNK_SIZE - PIECE_SIZE; at += PIECE_SIZE) await incoming.append(CHUNK_SIZE + at, forged.subarray(at, at + PIECE_SIZE))
      await expect(incoming.append(2 * CHUNK_SIZE - PIECE_SIZE, forged.subarray(CHUNK_SIZE - PIECE_SIZE))).rejects.toMatchObject({
        name: 'StoreError',
        code: 'CHUNK_MISMATCH',
      })
      expect(incoming.received).toBe(CHUNK_SIZE)
      expect(await store.partials()).toEqual([{ list, received: CHUNK_SIZE }])
      await appendPieces(incoming, TWO_AND_A_HALF, CHUNK_SIZE)
      await incoming.commit()
      expectBytes(await store.get(list.hash), TWO_AND_A_HALF)
    })

    it('discards a blob whose chunk list lied consistently (BLOB_MISMATCH)', async () => {
      const honest = chunkListOf(TWO_AND_A_HALF)
      const other = chunkListOf(SMALL)
      // Chunks that match the bytes, a hash that does not: self-consistent, and a lie.
      const lying: ChunkList = { ...honest, hash: other.hash }
      const incoming = await store.receive(lying)
      await appendPieces(incoming, TWO_AND_A_HALF, 0)
      await expect(incoming.commit()).rejects.toMatchObject({ name: 'StoreError', code: 'BLOB_MISMATCH' })
      expect(await store.has(other.hash)).toBe(false)
      expect(await store.has(honest.hash)).toBe(false)
      expect(await store.list()).toEqual([])
      expect(await store.partials()).toEqual([])
    })

    it('never shows an unverified blob through has, stat, get, read, chunks or list', async () => {
      const list = chunkListOf(TWO_AND_A_HALF)
      const incoming = await store.receive(list)
      await appendPieces(incoming, TWO_AND_A_HALF, 0)
      expect(await store.has(list.hash)).toBe(false)
      expect(await store.stat(list.hash)).toBeUndefined()
      expect(await store.get(list.hash)).toBeUndefined()
      expect(await store.chunks(list.hash)).toBeUndefined()
      await expect(store.read(list.hash, 0, 1)).rejects.toMatchObject({ code: 'NOT_FOUND' })
      expect(await store.list()).toEqual([])
      expect(await store.partials()).toEqual([{ list, received: list.size }])
      await incoming.close()
      expect(await (await fx.reopen()).has(list.hash)).toBe(false)
    })

    it('resumes a partial after close, from where it stopped', async () => {
      const list = chunkListOf(TWO_AND_A_HALF)
      const first = await store.receive(list)
      const stop = CHUNK_SIZE + CHUNK_SIZE / 2
      await appendPieces(first, TWO_AND_A_HALF, 0, stop)
      await first.close()
      await first.close()
      await expect(first.append(stop, TWO_AND_A_HALF.subarray(stop, stop + 1))).rejects.toMatchObject({ name: 'StoreError', code: 'CLOSED' })
      const again = await fx.reopen()
      expect(await again.partials()).toEqual([{ list, received: stop }])
      const second = await again.receive(list)
      expect(second.received).toBe(stop)
      await appendPieces(second, TWO_AND_A_HALF, stop)
      await second.commit()
      expectBytes(await again.get(list.hash), TWO_AND_A_HALF)
      expect(await again.partials()).toEqual([])
    })

    it('starts over when the kept partial was for another list of the hash, and after discard', async () => {
      const list = chunkListOf(TWO_AND_A_HALF)
      const first = await store.receive(list)
      await appendPieces(first, TWO_AND_A_HALF, 0, CHUNK_SIZE)
      await first.close()
      const otherList: ChunkList = { ...list, chunks: [list.chunks[1]!, list.chunks[0]!, list.chunks[2]!] }
      const second = await store.receive(otherList)
      expect(second.received).toBe(0)
      expect(await store.partials()).toEqual([{ list: otherList, received: 0 }])
      await second.discard()
      expect(await store.partials()).toEqual([])
      const third = await store.receive(list)
      expect(third.received).toBe(0)
      await third.discard()
    })

    it('supersedes an IncomingBlob still open when the same hash is received again', async () => {
      const list = chunkListOf(TWO_AND_A_HALF)
      const first = await store.receive(list)
      await appendPieces(first, TWO_AND_A_HALF, 0, PIECE_SIZE)
      const second = await store.receive(list)
      await expect(first.append(PIECE_SIZE, TWO_AND_A_HALF.subarray(PIECE_SIZE, 2 * PIECE_SIZE))).rejects.toMatchObject({ code: 'CLOSED' })
      await appendPieces(second, TWO_AND_A_HALF, second.received)
      await second.commit()
      expectBytes(await store.get(list.hash), TWO_AND_A_HALF)
    })

    it('takes appends issued without waiting, in the order they were issued', async () => {
      const list = chunkListOf(TWO_AND_A_HALF)
      const incoming = await store.receive(list)
      const appends: Array<Promise<void>> = []
      for (let at = 0; at < TWO_AND_A_HALF.length; at += PIECE_SIZE) appends.push(incoming.append(at, TWO_AND_A_HALF.subarray(at, at + PIECE_SIZE)))
      await Promise.all(appends)
      const [committed, late] = await Promise.allSettled([incoming.commit(), incoming.append(0, SMALL)])
      expect(committed).toMatchObject({ status: 'fulfilled', value: { hash: list.hash, size: list.size } })
      expect(late).toMatchObject({ status: 'rejected', reason: { name: 'StoreError', code: 'CLOSED' } })
      expectBytes(await store.get(list.hash), TWO_AND_A_HALF)
    })

    it('refuses malformed hashes and chunk lists with a ValidationError, writing nothing', async () => {
      for (const bad of BAD_HASHES) {
        await expect(store.has(bad)).rejects.toMatchObject({ name: 'ValidationError' })
        await expect(store.stat(bad)).rejects.toMatchObject({ name: 'ValidationError' })
        await expect(store.get(bad)).rejects.toMatchObject({ name: 'ValidationError' })
        await expect(store.read(bad, 0, 1)).rejects.toMatchObject({ name: 'ValidationError' })
        await expect(store.chunks(bad)).rejects.toMatchObject({ name: 'ValidationError' })
        await expect(store.delete(bad)).rejects.toMatchObject({ name: 'ValidationError' })
      }
      const list = chunkListOf(TWO_AND_A_HALF)
      const badLists = [
        { ...list, hash: '../x' },
        { ...list, size: -1 },
        { ...list, size: 1.5 },
        { ...list, chunkSize: 1024 },
        { ...list, chunks: list.chunks.slice(1) },
        { ...list, chunks: [...list.chunks.slice(1), 'nothex'] },
        null,
      ]
      for (const bad of badLists) await expect(store.receive(bad as unknown as ChunkList)).rejects.toMatchObject({ name: 'ValidationError' })
      expect(await store.partials()).toEqual([])
    })
  })
}

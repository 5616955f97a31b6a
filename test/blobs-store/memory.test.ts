import { describe, expect, it } from 'vitest'
import { CHUNK_SIZE, MemoryBlobStore, checkChunkList, chunkListOf } from '../../src/core/blobs/index.js'
import { blobStoreSuite, pseudoRandomBytes } from '../helpers/blob-store-suite.js'

blobStoreSuite('MemoryBlobStore', async () => {
  const store = new MemoryBlobStore()
  return { store, reopen: async () => store, cleanup: async () => undefined }
})

describe('MemoryBlobStore limits', () => {
  it('refuses a list above its maxBytes with ValidationError TOO_LARGE', async () => {
    const store = new MemoryBlobStore({ maxBytes: CHUNK_SIZE })
    const list = chunkListOf(pseudoRandomBytes(CHUNK_SIZE + 1))
    await expect(store.receive(list)).rejects.toMatchObject({ name: 'ValidationError', code: 'TOO_LARGE', field: 'size' })
    expect(await store.partials()).toEqual([])
  })
})

describe('chunk lists', () => {
  it('cuts at CHUNK_SIZE with a short last chunk, and checks lists', () => {
    const bytes = pseudoRandomBytes(CHUNK_SIZE * 2 + 1)
    const list = chunkListOf(bytes)
    expect(list.chunks).toHaveLength(3)
    expect(list.chunks[2]).toBe(chunkListOf(bytes.subarray(2 * CHUNK_SIZE)).hash)
    expect(list.hash).toMatch(/^[0-9a-f]{64}$/)
    expect(() => checkChunkList(list, bytes.length)).not.toThrow()
    expect(() => checkChunkList(list, bytes.length - 1)).toThrow(expect.objectContaining({ name: 'ValidationError', code: 'TOO_LARGE' }))
    expect(() => checkChunkList({ ...list, chunks: list.chunks.slice(0, 2) })).toThrow(expect.objectContaining({ code: 'BAD_CHUNK_LIST', field: 'chunks' }))
    expect(() => checkChunkList({ ...list, chunks: [...list.chunks, list.chunks[0]] })).toThrow(expect.objectContaining({ field: 'chunks' }))
    expect(() => checkChunkList(chunkListOf(bytes, 1000))).toThrow(expect.objectContaining({ field: 'chunkSize' }))
    expect(() => checkChunkList('x')).toThrow(expect.objectContaining({ name: 'ValidationError' }))
  })
})

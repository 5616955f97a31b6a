import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FsBlobStore, blobHashOf } from '../../src/adapters/blobstore-fs/index.js'
import { sniffImageType, validateImage } from '../../src/core/blobs/image.js'
import { DEFAULT_MAX_BLOB_BYTES } from '../../src/core/blobs/port.js'
import type { BlobHash } from '../../src/core/ids.js'

// A real 1×1 PNG, and minimal headers of the other types (test/blobs-store/image.test.ts decodes them in depth).
const PNG = new Uint8Array(Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=', 'base64'))
const JPEG = new Uint8Array([0xff, 0xd8, 0xff, 0xc0, 0, 11, 8, 0, 2, 0, 3, 1, 1, 0x11, 0, 0xff, 0xd9])
const GIF = new Uint8Array([...new TextEncoder().encode('GIF89a'), 4, 0, 5, 0, 0, 0, 0, 0x3b])
const WEBP = new Uint8Array([...new TextEncoder().encode('RIFF'), 22, 0, 0, 0, ...new TextEncoder().encode('WEBPVP8L'), 10, 0, 0, 0, 0x2f, 0, 0, 0, 0, 0, 0, 0, 0, 0])

describe('FsBlobStore', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'orbit-blobs-'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it('stores bytes under their SHA-256 and reads them back', async () => {
    const store = new FsBlobStore(join(dir, 'blobs'))
    const hash = await store.put(PNG)
    expect(hash).toBe(blobHashOf(PNG))
    expect(hash).toMatch(/^[0-9a-f]{64}$/)
    expect(store.pathOf(hash)).toBe(join(dir, 'blobs', hash.slice(0, 2), hash))
    expect(await store.get(hash)).toEqual(PNG)
    expect(await store.has(hash)).toBe(true)
    expect(await store.stat(hash)).toEqual({ hash, size: PNG.length })
  })

  it('is idempotent and leaves no temp files behind', async () => {
    const store = new FsBlobStore(join(dir, 'blobs'))
    const a = await store.put(JPEG)
    const b = await store.put(JPEG)
    expect(a).toBe(b)
    expect(readdirSync(join(dir, 'blobs', a.slice(0, 2)))).toEqual([a])
  })

  it('answers undefined for a blob it does not hold', async () => {
    const store = new FsBlobStore(join(dir, 'blobs'))
    const missing = blobHashOf(GIF)
    expect(await store.get(missing)).toBeUndefined()
    expect(await store.has(missing)).toBe(false)
    expect(await store.stat(missing)).toBeUndefined()
  })

  it('detects a blob whose bytes were altered on disk', async () => {
    const store = new FsBlobStore(join(dir, 'blobs'))
    const hash = await store.put(GIF)
    writeFileSync(store.pathOf(hash), 'tampered')
    await expect(store.get(hash)).rejects.toMatchObject({ name: 'StoreError', code: 'CORRUPT_BLOB' })
  })

  it('refuses a malformed hash', async () => {
    const store = new FsBlobStore(join(dir, 'blobs'))
    await expect(store.get('../../etc/passwd' as BlobHash)).rejects.toMatchObject({ name: 'ValidationError' })
  })
})

describe('validateImage', () => {
  it('accepts PNG, JPEG, GIF and WebP by their magic bytes', () => {
    expect(validateImage(PNG)).toEqual({ type: 'image/png', width: 1, height: 1 })
    expect(validateImage(JPEG)).toEqual({ type: 'image/jpeg', width: 3, height: 2 })
    expect(validateImage(GIF)).toEqual({ type: 'image/gif', width: 4, height: 5 })
    expect(validateImage(WEBP)).toEqual({ type: 'image/webp', width: 1, height: 1 })
    // The earlier (bytes, field, maxBytes) signature still works for its callers.
    expect(() => validateImage(PNG, { field: 'photo', maxBytes: 10 })).toThrow(expect.objectContaining({ field: 'photo', code: 'TOO_LARGE' }))
    expect(DEFAULT_MAX_BLOB_BYTES).toBe(10 * 1024 * 1024)
  })

  it('refuses text, empty files and oversized images with a ValidationError naming the field', () => {
    for (const bad of [new TextEncoder().encode('hello, not an image'), new Uint8Array(0), new Uint8Array(DEFAULT_MAX_BLOB_BYTES + 1).fill(0x89)]) {
      let error: unknown
      try {
        validateImage(bad)
      } catch (err) {
        error = err
      }
      expect(error).toMatchObject({ name: 'ValidationError', field: 'logo' })
    }
    const big = new Uint8Array(DEFAULT_MAX_BLOB_BYTES + 1)
    big.set(PNG)
    expect(() => validateImage(big)).toThrow(expect.objectContaining({ name: 'ValidationError', field: 'logo' }))
    expect(sniffImageType(new Uint8Array([0x89, 0x50]))).toBeUndefined()
  })
})

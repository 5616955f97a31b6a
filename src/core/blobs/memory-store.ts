/**
 * An in-memory {@link BlobStore}: the reference implementation of the port for tests and for
 * platforms without a file system. It keeps the same rules as the file-system store
 * (docs/protocol/blobs.md, "Storage and manifest"): a received blob is checked chunk by chunk,
 * becomes visible only after its whole SHA-256 matches, and a partial survives `close` for a later
 * `receive` to resume.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { StoreError, ValidationError } from '../errors.js'
import { parseBlobHash, type BlobHash } from '../ids.js'
import { checkChunkList, chunkListOf, sameChunkList, sha256Hex } from './chunks.js'
import type { BlobStat, BlobStore, ChunkList, IncomingBlob } from './port.js'

const mismatch = (hash: BlobHash): StoreError => new StoreError(`blob ${hash}: its bytes hash to something else`, { code: 'BLOB_MISMATCH' })

/** Options of {@link MemoryBlobStore}. */
export interface MemoryBlobStoreOptions {
  /** Largest blob `receive` accepts (ValidationError `TOO_LARGE` above it); unlimited by default. */
  maxBytes?: number
}

interface KeptPartial {
  list: ChunkList
  /** Kept bytes, contiguous from 0; its length is `received`. Grows by chunk. */
  bytes: Uint8Array
  received: number
  /** The one open IncomingBlob writing this partial; a newer `receive` replaces it. */
  owner: object | undefined
}

const checkRange = (offset: number, length: number): void => {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new ValidationError(`offset: not a non-negative integer (${offset})`, { field: 'offset' })
  if (!Number.isSafeInteger(length) || length < 0) throw new ValidationError(`length: not a non-negative integer (${length})`, { field: 'length' })
}

/**
 * @example
 * const store = new MemoryBlobStore()
 * const hash = await store.put(png)
 * const incoming = await other.receive((await store.chunks(hash))!)
 * await incoming.append(0, (await store.get(hash))!)
 * await incoming.commit()
 */
export class MemoryBlobStore implements BlobStore {
  readonly #blobs = new Map<BlobHash, Uint8Array>()
  readonly #lists = new Map<BlobHash, ChunkList>()
  readonly #partials = new Map<BlobHash, KeptPartial>()
  readonly #maxBytes: number

  /** An empty store; `options.maxBytes` bounds what `receive` accepts. */
  constructor(options: MemoryBlobStoreOptions = {}) {
    this.#maxBytes = options.maxBytes ?? Number.MAX_SAFE_INTEGER
  }

  /** Whether the blob is stored. */
  async has(hash: BlobHash): Promise<boolean> {
    return this.#blobs.has(parseBlobHash(hash, 'hash'))
  }

  /** The stored blob's size, or `undefined`. */
  async stat(hash: BlobHash): Promise<BlobStat | undefined> {
    const bytes = this.#blobs.get(parseBlobHash(hash, 'hash'))
    return bytes === undefined ? undefined : { hash, size: bytes.length }
  }

  /** Stores a copy of `bytes` (idempotent) and returns their hash; `expected`: see {@link BlobStore.put}. */
  async put(bytes: Uint8Array, expected?: BlobHash): Promise<BlobHash> {
    const hash = sha256Hex(bytes) as BlobHash
    if (expected !== undefined && hash !== expected) throw mismatch(expected)
    if (!this.#blobs.has(hash)) this.#blobs.set(hash, bytes.slice())
    return hash
  }

  /** A copy of the whole blob, or `undefined`. */
  async get(hash: BlobHash): Promise<Uint8Array | undefined> {
    const bytes = this.#blobs.get(parseBlobHash(hash, 'hash'))
    return bytes?.slice()
  }

  /**
   * `length` bytes at `offset` (fewer at the end).
   * @throws StoreError `NOT_FOUND` when the blob is absent; ValidationError for a bad range.
   */
  async read(hash: BlobHash, offset: number, length: number): Promise<Uint8Array> {
    checkRange(offset, length)
    const bytes = this.#blobs.get(parseBlobHash(hash, 'hash'))
    if (bytes === undefined) throw new StoreError(`blob ${hash} is not stored`, { code: 'NOT_FOUND' })
    return bytes.slice(offset, offset + length)
  }

  /** The stored blob's chunk list (computed on first use, then cached), or `undefined`. */
  async chunks(hash: BlobHash): Promise<ChunkList | undefined> {
    const bytes = this.#blobs.get(parseBlobHash(hash, 'hash'))
    if (bytes === undefined) return undefined
    let list = this.#lists.get(hash)
    if (list === undefined) {
      list = chunkListOf(bytes)
      this.#lists.set(hash, list)
    }
    return structuredClone(list)
  }

  /** Every stored blob, in hash order. */
  async list(): Promise<BlobStat[]> {
    return [...this.#blobs].map(([hash, bytes]) => ({ hash, size: bytes.length })).sort((a, b) => (a.hash < b.hash ? -1 : 1))
  }

  /** Removes a stored blob; false when absent. */
  async delete(hash: BlobHash): Promise<boolean> {
    this.#lists.delete(parseBlobHash(hash, 'hash'))
    return this.#blobs.delete(hash)
  }

  /**
   * Starts or resumes receiving the blob `list` describes. A partial kept for the same list is
   * resumed (its whole chunks re-verified); one kept for another list of the hash is dropped. An
   * IncomingBlob still open for the hash is superseded: its later calls throw StoreError `CLOSED`.
   */
  async receive(list: ChunkList): Promise<IncomingBlob> {
    checkChunkList(list, this.#maxBytes)
    const l = structuredClone(list)
    if (this.#blobs.has(l.hash)) throw new StoreError(`blob ${l.hash} is already stored`, { code: 'ALREADY_STORED' })
    let partial = this.#partials.get(l.hash)
    if (partial !== undefined && !sameChunkList(partial.list, l)) partial = undefined
    if (partial === undefined) {
      partial = { list: l, bytes: new Uint8Array(0), received: 0, owner: undefined }
      this.#partials.set(l.hash, partial)
    } else {
      // Nothing in memory rots, but resumption keeps the rule of the file-system store: whole
      // chunks are re-checked, and a failed one truncates the partial there.
      const whole = Math.floor(partial.received / l.chunkSize)
      for (let i = 0; i < whole; i++) {
        const chunk = partial.bytes.subarray(i * l.chunkSize, (i + 1) * l.chunkSize)
        if (sha256Hex(chunk) !== l.chunks[i]) {
          partial.received = i * l.chunkSize
          break
        }
      }
    }
    const owner = {}
    partial.owner = owner
    const kept = partial
    return new MemoryIncoming(kept, owner, {
      admit: (bytes) => {
        this.#partials.delete(kept.list.hash)
        this.#blobs.set(kept.list.hash, bytes)
        return { hash: kept.list.hash, size: bytes.length }
      },
      forget: () => {
        if (this.#partials.get(kept.list.hash) === kept) this.#partials.delete(kept.list.hash)
      },
    })
  }

  /** Partials kept for resumption. */
  async partials(): Promise<Array<{ list: ChunkList; received: number }>> {
    return [...this.#partials.values()].map((p) => ({ list: structuredClone(p.list), received: p.received }))
  }

}

class MemoryIncoming implements IncomingBlob {
  #closed = false

  constructor(
    private readonly partial: KeptPartial,
    private readonly owner: object,
    private readonly store: { admit(bytes: Uint8Array): BlobStat; forget(): void },
  ) {}

  get list(): ChunkList {
    return this.partial.list
  }

  get received(): number {
    return this.partial.received
  }

  #checkOpen(): void {
    if (this.#closed || this.partial.owner !== this.owner) {
      throw new StoreError(`the receive of blob ${this.partial.list.hash} is closed`, { code: 'CLOSED' })
    }
  }

  async append(offset: number, bytes: Uint8Array): Promise<void> {
    this.#checkOpen()
    const p = this.partial
    const { size, chunkSize, chunks, hash } = p.list
    if (offset !== p.received) {
      throw new StoreError(`blob ${hash}: append at ${offset}, expected ${p.received}`, { code: 'OUT_OF_ORDER' })
    }
    if (p.received + bytes.length > size) {
      throw new StoreError(`blob ${hash}: ${p.received + bytes.length} bytes is past its size ${size}`, { code: 'TOO_LONG' })
    }
    if (p.bytes.length < p.received + bytes.length) {
      // Grow by whole chunks so memory follows what is kept, not the announced size.
      const grown = new Uint8Array(Math.min(size, Math.ceil((p.received + bytes.length) / chunkSize) * chunkSize))
      grown.set(p.bytes.subarray(0, p.received))
      p.bytes = grown
    }
    let at = 0
    while (at < bytes.length) {
      const chunk = Math.floor(p.received / chunkSize)
      const chunkStart = chunk * chunkSize
      const chunkEnd = Math.min(size, chunkStart + chunkSize)
      const take = Math.min(bytes.length - at, chunkEnd - p.received)
      p.bytes.set(bytes.subarray(at, at + take), p.received)
      p.received += take
      at += take
      if (p.received === chunkEnd && sha256Hex(p.bytes.subarray(chunkStart, chunkEnd)) !== chunks[chunk]) {
        p.received = chunkStart
        throw new StoreError(`blob ${hash}: chunk ${chunk} does not match its hash; its bytes were dropped`, { code: 'CHUNK_MISMATCH' })
      }
    }
  }

  async commit(): Promise<BlobStat> {
    this.#checkOpen()
    const p = this.partial
    if (p.received < p.list.size) {
      throw new StoreError(`blob ${p.list.hash}: ${p.received} of ${p.list.size} bytes received`, { code: 'INCOMPLETE' })
    }
    const bytes = p.bytes.slice(0, p.list.size)
    this.#closed = true
    if (bytesToHex(sha256(bytes)) !== p.list.hash) {
      this.store.forget()
      throw new StoreError(`blob ${p.list.hash}: its bytes hash to something else; the chunk list lied`, { code: 'BLOB_MISMATCH' })
    }
    return this.store.admit(bytes)
  }

  async discard(): Promise<void> {
    if (this.partial.owner !== this.owner) return
    this.#closed = true
    this.store.forget()
  }

  async close(): Promise<void> {
    this.#closed = true
  }
}

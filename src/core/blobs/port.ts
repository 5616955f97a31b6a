/**
 * The blob-store port (docs/protocol/blobs.md): content-addressed storage for images, by SHA-256
 * of the whole blob, with the receiving side of a chunked, resumable transfer. Core holds only the
 * interface and the chunk geometry; the file-system implementation is
 * src/adapters/blobstore-fs, an in-memory one is src/core/blobs/memory-store.ts, and both pass the
 * acceptance suite in test/helpers/blob-store-suite.ts.
 *
 * The rule every implementation keeps: **unverified bytes never enter the store.** A blob being
 * received lives apart from the store (an {@link IncomingBlob}); each chunk is checked against the
 * chunk list when it completes, and the blob enters the store only once its whole SHA-256 equals
 * its hash — durable (fsynced, renamed) when `commit` resolves.
 */
import type { BlobHash } from '../ids.js'

/** Bytes per chunk: the unit each received piece is verified in (the last chunk may be shorter). */
export const CHUNK_SIZE = 1024 * 1024
/**
 * Largest `data` piece on the wire; a chunk travels as CHUNK_SIZE / PIECE_SIZE pieces. Four per
 * chunk: at 64 KiB the per-message cost (envelope, encryption, a write each) halved the LAN rate.
 */
export const PIECE_SIZE = 256 * 1024
/** Default largest blob a device accepts (images: `--logo` and received blobs), 10 MB. */
export const DEFAULT_MAX_BLOB_BYTES = 10 * 1024 * 1024

/** A stored blob. */
export interface BlobStat {
  hash: BlobHash
  size: number
}

/**
 * How a blob is cut: `chunks[i]` is the lower-case hex SHA-256 of bytes
 * `[i·chunkSize, min(size, (i+1)·chunkSize))`. Deterministic from the bytes, so every honest
 * holder of a blob sends the same list. An empty blob has no chunks.
 */
export interface ChunkList {
  hash: BlobHash
  size: number
  chunkSize: number
  chunks: string[]
}

/** The number of chunks a blob of `size` bytes has at `chunkSize`. */
export const chunkCount = (size: number, chunkSize: number = CHUNK_SIZE): number => Math.ceil(size / chunkSize)

/**
 * A blob being received: bytes arrive in order, from offset 0 (or from where an earlier attempt
 * stopped). What is kept survives a crash or a SIGKILL and is resumed by {@link BlobStore.receive}
 * with the same chunk list; nothing of it is readable through the store until `commit`.
 */
export interface IncomingBlob {
  readonly list: ChunkList
  /** Bytes kept so far, contiguous from 0 (whole verified chunks, then the current chunk's start). */
  readonly received: number
  /**
   * Appends `bytes` at `offset`, which must equal `received`. When a chunk completes it is checked
   * against `list.chunks`: on a mismatch the chunk's bytes are dropped (`received` falls back to
   * the chunk's start) and it throws StoreError `CHUNK_MISMATCH`.
   * A store may still be writing `bytes` when the promise resolves (the file-system store keeps a
   * few writes in flight): do not change them afterwards. A write that fails later is thrown by
   * the next `append` or by `commit`.
   * @throws StoreError `OUT_OF_ORDER` (offset ≠ received), `TOO_LONG` (past `size`), `CHUNK_MISMATCH`.
   */
  append(offset: number, bytes: Uint8Array): Promise<void>
  /**
   * Every byte is in: verifies the whole SHA-256 against `list.hash`, makes the blob durable and
   * moves it into the store. On a mismatch the partial is discarded and it throws StoreError
   * `BLOB_MISMATCH` (the chunk list was a lie).
   * @throws StoreError `INCOMPLETE` (received < size), `BLOB_MISMATCH`.
   */
  commit(): Promise<BlobStat>
  /** Forgets the partial and its bytes. */
  discard(): Promise<void>
  /** Releases handles and keeps the partial for a later `receive` to resume. Idempotent. */
  close(): Promise<void>
}

/** The port. Every method validates `hash` (ValidationError for a malformed one). */
export interface BlobStore {
  has(hash: BlobHash): Promise<boolean>
  stat(hash: BlobHash): Promise<BlobStat | undefined>
  /**
   * Stores `bytes` (idempotent) and returns their hash; durable when it resolves. With `expected`,
   * the bytes are stored only if they hash to it: a blob received whole (one chunk) enters the
   * store in one step, still never unverified.
   * @throws StoreError `BLOB_MISMATCH` (nothing stored) when the bytes do not hash to `expected`.
   */
  put(bytes: Uint8Array, expected?: BlobHash): Promise<BlobHash>
  /**
   * The whole blob, or `undefined` when absent.
   * @throws StoreError `CORRUPT_BLOB` when the stored bytes no longer match their hash.
   */
  get(hash: BlobHash): Promise<Uint8Array | undefined>
  /** `length` bytes at `offset` of a stored blob (fewer at its end), read without loading it whole. */
  read(hash: BlobHash, offset: number, length: number): Promise<Uint8Array>
  /** The stored blob's chunk list (computed once, then cached), or `undefined` when absent. */
  chunks(hash: BlobHash): Promise<ChunkList | undefined>
  /** Every stored blob. */
  list(): Promise<BlobStat[]>
  /** Removes a stored blob; false when it was absent. */
  delete(hash: BlobHash): Promise<boolean>
  /**
   * Starts receiving the blob `list` describes, or resumes a partial kept for the same list
   * (`received` > 0). A partial kept for another list of the same hash is discarded first.
   * @throws StoreError `ALREADY_STORED` when the blob is already in the store, ValidationError for
   *   a list that is not self-consistent (chunk count, sizes, hex).
   */
  receive(list: ChunkList): Promise<IncomingBlob>
  /** Partials kept for resumption, with the bytes each holds. */
  partials(): Promise<Array<{ list: ChunkList; received: number }>>
}

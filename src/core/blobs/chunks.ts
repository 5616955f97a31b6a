/**
 * Chunk lists (docs/protocol/blobs.md, "Storage and manifest"): how a blob is cut into
 * {@link CHUNK_SIZE} chunks, each named by its SHA-256, and the check every received list passes
 * before a store accepts bytes for it. Platform-free: hashing is `@noble/hashes`.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { ValidationError } from '../errors.js'
import { parseBlobHash, type BlobHash } from '../ids.js'
import { CHUNK_SIZE, chunkCount, type ChunkList } from './port.js'

const HEX64 = /^[0-9a-f]{64}$/

/** Lower-case hex SHA-256 of `bytes`: a blob's hash and a chunk's name. */
export function sha256Hex(bytes: Uint8Array): string {
  return bytesToHex(sha256(bytes))
}

/**
 * The chunk list of `bytes`: their hash, size and the SHA-256 of every `chunkSize` slice.
 * @example
 * const list = chunkListOf(png) // { hash, size, chunkSize: CHUNK_SIZE, chunks: [...] }
 */
export function chunkListOf(bytes: Uint8Array, chunkSize: number = CHUNK_SIZE): ChunkList {
  if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) {
    throw new ValidationError(`chunkSize: not a positive integer (${chunkSize})`, { field: 'chunkSize', code: 'BAD_CHUNK_LIST' })
  }
  const chunks: string[] = []
  for (let at = 0; at < bytes.length; at += chunkSize) chunks.push(sha256Hex(bytes.subarray(at, at + chunkSize)))
  return { hash: sha256Hex(bytes) as BlobHash, size: bytes.length, chunkSize, chunks }
}

/**
 * Checks that `list` is a self-consistent chunk list of a blob no larger than `maxBytes`: a blob
 * hash, an integer size, `chunkSize` equal to {@link CHUNK_SIZE}, exactly ⌈size / chunkSize⌉
 * chunk names, each 64 lower-case hex digits. It cannot tell whether the list tells the truth
 * about the bytes; the store finds that out chunk by chunk and at commit.
 * @throws ValidationError `TOO_LARGE` (field `size`) when the blob exceeds `maxBytes`,
 *   `BAD_CHUNK_LIST` for anything else (field names the part).
 */
export function checkChunkList(list: unknown, maxBytes: number = Number.MAX_SAFE_INTEGER): asserts list is ChunkList {
  const bad = (field: string, what: string): ValidationError =>
    new ValidationError(`chunk list: ${field} ${what}`, { field, code: 'BAD_CHUNK_LIST' })
  if (typeof list !== 'object' || list === null) throw bad('list', 'is not an object')
  const l = list as Record<string, unknown>
  try {
    parseBlobHash(l.hash, 'hash')
  } catch {
    throw bad('hash', 'is not 64 lower-case hex digits')
  }
  const size = l.size
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw bad('size', 'is not a non-negative integer')
  if (size > maxBytes) {
    throw new ValidationError(`chunk list: the blob is ${size} bytes; the limit is ${maxBytes} bytes`, { field: 'size', code: 'TOO_LARGE' })
  }
  if (l.chunkSize !== CHUNK_SIZE) throw bad('chunkSize', `is not ${CHUNK_SIZE}`)
  const chunks = l.chunks
  if (!Array.isArray(chunks)) throw bad('chunks', 'is not an array')
  if (chunks.length !== chunkCount(size, CHUNK_SIZE)) {
    throw bad('chunks', `has ${chunks.length} entries; a ${size}-byte blob has ${chunkCount(size, CHUNK_SIZE)}`)
  }
  for (const c of chunks) if (typeof c !== 'string' || !HEX64.test(c)) throw bad('chunks', 'holds an entry that is not 64 lower-case hex digits')
}

/** Whether two chunk lists describe the same cut of the same blob. */
export function sameChunkList(a: ChunkList, b: ChunkList): boolean {
  return a.hash === b.hash && a.size === b.size && a.chunkSize === b.chunkSize && a.chunks.length === b.chunks.length && a.chunks.every((c, i) => c === b.chunks[i])
}

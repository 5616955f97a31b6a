/**
 * A content-addressed blob store on the file system: `<root>/ab/<sha256>` where `ab` is the first
 * two hex digits of the hash. Writes go to a temp file that is fsynced and renamed into place (and
 * the directory fsynced), so a blob is either absent or complete, even after a crash.
 */
import { createHash } from 'node:crypto'
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { StoreError } from '../../core/errors.js'
import { parseBlobHash, randomBytes, type BlobHash } from '../../core/ids.js'

/** Size and location of a stored blob. */
export interface BlobStat {
  hash: BlobHash
  size: number
}

/** Lower-case hex SHA-256 of `bytes`. */
export function blobHashOf(bytes: Uint8Array): BlobHash {
  return createHash('sha256').update(bytes).digest('hex') as BlobHash
}

const isMissing = (err: unknown): boolean => (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'

/**
 * @example
 * const blobs = new FsBlobStore(join(dataDir, 'blobs'))
 * const hash = await blobs.put(bytes)
 * const same = await blobs.get(hash) // Uint8Array | undefined
 */
export class FsBlobStore {
  constructor(readonly root: string) {}

  /** Where the blob with this hash lives (whether or not it exists). */
  pathOf(hash: BlobHash): string {
    const h = parseBlobHash(hash, 'hash')
    return join(this.root, h.slice(0, 2), h)
  }

  /** Stores `bytes` (idempotent) and returns their hash. Durable when the promise resolves. */
  async put(bytes: Uint8Array): Promise<BlobHash> {
    const hash = blobHashOf(bytes)
    const path = this.pathOf(hash)
    if (await this.has(hash)) return hash
    const dir = join(this.root, hash.slice(0, 2))
    await mkdir(dir, { recursive: true, mode: 0o700 })
    const tmp = join(dir, `.tmp-${hash}-${Buffer.from(randomBytes(6)).toString('hex')}`)
    try {
      const file = await open(tmp, 'wx', 0o600)
      try {
        await file.writeFile(bytes)
        await file.sync()
      } finally {
        await file.close()
      }
      await rename(tmp, path)
    } catch (err) {
      await rm(tmp, { force: true })
      throw err
    }
    await syncDir(dir)
    return hash
  }

  /**
   * The blob's bytes, or `undefined` if it is not stored.
   * @throws StoreError `CORRUPT_BLOB` if the stored bytes no longer match their hash.
   */
  async get(hash: BlobHash): Promise<Uint8Array | undefined> {
    let bytes: Buffer
    try {
      bytes = await readFile(this.pathOf(hash))
    } catch (err) {
      if (isMissing(err)) return undefined
      throw err
    }
    if (blobHashOf(bytes) !== hash) {
      throw new StoreError(`blob ${hash} is corrupt (its bytes do not match its hash)`, { code: 'CORRUPT_BLOB' })
    }
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  /** Whether the blob is stored. */
  async has(hash: BlobHash): Promise<boolean> {
    return (await this.stat(hash)) !== undefined
  }

  /** Size of the stored blob, or `undefined` if it is not stored. */
  async stat(hash: BlobHash): Promise<BlobStat | undefined> {
    try {
      const s = await stat(this.pathOf(hash))
      return s.isFile() ? { hash, size: s.size } : undefined
    } catch (err) {
      if (isMissing(err)) return undefined
      throw err
    }
  }
}

async function syncDir(dir: string): Promise<void> {
  // The rename is only durable once the directory entry is on disk.
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

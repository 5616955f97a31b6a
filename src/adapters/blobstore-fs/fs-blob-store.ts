/**
 * A content-addressed blob store on the file system (docs/protocol/blobs.md, "Storage and
 * manifest"): `<root>/ab/<sha256>` where `ab` is the first two hex digits of the hash, a chunk-list
 * cache beside it (`<hash>.chunks`), and partial receives under `<root>/.partial/` (`<hash>` the
 * bytes so far, `<hash>.list` the chunk list they are checked against).
 *
 * Writes go to a temp file that is fsynced and renamed into place (and the directory fsynced), so a
 * blob is either absent or complete, even after a crash. Reading, chunking, receiving and
 * committing stream through one CHUNK_SIZE buffer at most: memory does not grow with blob size.
 *
 * Metadata lookups and the reads and writes of at most {@link SMALL_IO} bytes (a logo) are made
 * with the synchronous calls, only the fsyncs going to libuv's thread pool: on a local file
 * system they take microseconds, and each promise-based call costs the event loop 40-180 µs
 * (measured here), which made a batch of 200 logos CPU-bound on both devices.
 */
import { createHash, type Hash } from 'node:crypto'
import { closeSync, fsync, fstatSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs'
import { mkdir, open, readdir, readFile, rename, rm, type FileHandle } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { checkChunkList, sameChunkList } from '../../core/blobs/chunks.js'
import { CHUNK_SIZE, type BlobStat, type BlobStore, type ChunkList, type IncomingBlob } from '../../core/blobs/port.js'
import { StoreError, ValidationError } from '../../core/errors.js'
import { parseBlobHash, randomBytes, type BlobHash } from '../../core/ids.js'
import { mapDiskFull } from '../storage-sqlite/disk-full.js'

export type { BlobStat } from '../../core/blobs/port.js'

/** Lower-case hex SHA-256 of `bytes`. */
export function blobHashOf(bytes: Uint8Array): BlobHash {
  return createHash('sha256').update(bytes).digest('hex') as BlobHash
}

/** Options of {@link FsBlobStore}. */
export interface FsBlobStoreOptions {
  /** Largest blob `receive` accepts (ValidationError `TOO_LARGE` above it); unlimited by default. */
  maxBytes?: number
}

const HASH_NAME = /^[0-9a-f]{64}$/
const PREFIX_NAME = /^[0-9a-f]{2}$/
const PARTIAL_DIR = '.partial'

const isMissing = (err: unknown): boolean => (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'

/**
 * A receive's file writes that may be in flight while it goes on (4 pieces of 256 KiB: 1 MiB of
 * bytes held beyond the exchange's window at most). A piece's bytes are hashed on the calling
 * thread as they arrive, not read back, so nothing waits for a write except a later one's slot.
 */
const WRITES_IN_FLIGHT = 4

/** Reads and writes up to this many bytes use the synchronous calls (see the module's comment). */
export const SMALL_IO = 256 * 1024
const notFound = (hash: BlobHash): StoreError => new StoreError(`blob ${hash} is not stored`, { code: 'NOT_FOUND' })
const tmpSuffix = (): string => Buffer.from(randomBytes(6)).toString('hex')

const checkRange = (offset: number, length: number): void => {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new ValidationError(`offset: not a non-negative integer (${offset})`, { field: 'offset' })
  if (!Number.isSafeInteger(length) || length < 0) throw new ValidationError(`length: not a non-negative integer (${length})`, { field: 'length' })
}

/**
 * @example
 * const blobs = new FsBlobStore(join(dataDir, 'blobs'))
 * const hash = await blobs.put(bytes)
 * const same = await blobs.get(hash) // Uint8Array | undefined
 */
export class FsBlobStore implements BlobStore {
  readonly #maxBytes: number
  /** The IncomingBlob open per hash in this process; a newer `receive` closes the older. */
  readonly #open = new Map<BlobHash, FsIncoming>()
  readonly #receiving = new Map<BlobHash, Promise<void>>()
  /** Prefix directories this store made or found (they are never removed): one mkdir each. */
  readonly #dirs = new Set<string>()

  /** A store rooted at `root` (created on first write); an existing `<root>/ab/<hash>` store opens as is. */
  constructor(
    readonly root: string,
    options: FsBlobStoreOptions = {},
  ) {
    this.#maxBytes = options.maxBytes ?? Number.MAX_SAFE_INTEGER
  }

  /** Where the blob with this hash lives (whether or not it exists). */
  pathOf(hash: BlobHash): string {
    const h = parseBlobHash(hash, 'hash')
    return join(this.root, h.slice(0, 2), h)
  }

  /** Where a partial receive of this hash keeps its bytes (`<path>.list`: its chunk list). */
  partialPathOf(hash: BlobHash): string {
    return join(this.root, PARTIAL_DIR, parseBlobHash(hash, 'hash'))
  }

  /**
   * Stores `bytes` (idempotent) and returns their hash. Durable when the promise resolves.
   * With `expected`, nothing is written unless the bytes hash to it (StoreError `BLOB_MISMATCH`).
   * A blob of more than one chunk gets its `<hash>.chunks` sidecar here, while its bytes are in
   * memory, so that the first member to fetch it does not wait for the whole file to be re-read
   * and hashed.
   */
  async put(bytes: Uint8Array, expected?: BlobHash): Promise<BlobHash> {
    const hash = blobHashOf(bytes)
    if (expected !== undefined && hash !== expected) {
      throw new StoreError(`blob ${expected}: its bytes hash to something else`, { code: 'BLOB_MISMATCH' })
    }
    if (await this.has(hash)) return hash
    const dir = join(this.root, hash.slice(0, 2))
    const path = this.pathOf(hash)
    try {
      if (!this.#dirs.has(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 })
      this.#dirs.add(dir)
      try {
        await writeFileAtomically(path, bytes, true)
      } catch (err) {
        if (!isMissing(err)) throw err
        // The directory went away under us (removed by hand): make it again, once.
        mkdirSync(dir, { recursive: true, mode: 0o700 })
        await writeFileAtomically(path, bytes, true)
      }
      await syncDir(dir)
    } catch (err) {
      // ENOSPC: StoreError DISK_FULL (nothing is stored: the temp file is removed).
      throw mapDiskFull(this.root, err)
    }
    if (bytes.length > CHUNK_SIZE) {
      // A cache, as in `chunks()`: a failed or torn write only means it is computed on first use.
      const list: ChunkList = { hash, size: bytes.length, chunkSize: CHUNK_SIZE, chunks: chunkHashesOf(bytes) }
      await writeFileAtomically(`${path}.chunks`, Buffer.from(JSON.stringify(list)), false).catch(() => undefined)
    }
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
    if (blobHashOf(bytes) !== hash) throw corrupt(hash)
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  /** Whether the blob is stored. */
  async has(hash: BlobHash): Promise<boolean> {
    return (await this.stat(hash)) !== undefined
  }

  /** Size of the stored blob, or `undefined` if it is not stored. */
  async stat(hash: BlobHash): Promise<BlobStat | undefined> {
    try {
      const s = statSync(this.pathOf(hash))
      return s.isFile() ? { hash, size: s.size } : undefined
    } catch (err) {
      if (isMissing(err)) return undefined
      throw err
    }
  }

  /**
   * `length` bytes at `offset` (fewer at the end), read at that offset from the file.
   * @throws StoreError `NOT_FOUND` when the blob is absent; ValidationError for a bad range.
   */
  async read(hash: BlobHash, offset: number, length: number): Promise<Uint8Array> {
    const path = this.pathOf(hash)
    checkRange(offset, length)
    if (length <= SMALL_IO) return readSmall(path, offset, length, () => notFound(hash))
    let file: FileHandle
    try {
      file = await open(path, 'r')
    } catch (err) {
      if (isMissing(err)) throw notFound(hash)
      throw err
    }
    try {
      const size = (await file.stat()).size
      const want = Math.max(0, Math.min(length, size - offset))
      const out = Buffer.alloc(want)
      let got = 0
      while (got < want) {
        const { bytesRead } = await file.read(out, got, want - got, offset + got)
        if (bytesRead === 0) break
        got += bytesRead
      }
      return new Uint8Array(out.buffer, out.byteOffset, got)
    } finally {
      await file.close()
    }
  }

  /**
   * The stored blob's chunk list: from its `<hash>.chunks` sidecar when that is sound, else
   * computed in one streaming pass (which also checks the whole hash) and cached there.
   * @throws StoreError `CORRUPT_BLOB` when the stored bytes no longer match their hash.
   */
  async chunks(hash: BlobHash): Promise<ChunkList | undefined> {
    const path = this.pathOf(hash)
    const s = await this.stat(hash)
    if (s === undefined) return undefined
    // One chunk: its hash is the blob's own (no sidecar to read).
    if (s.size > 0 && s.size <= CHUNK_SIZE) return { hash, size: s.size, chunkSize: CHUNK_SIZE, chunks: [hash] }
    const cached = await readListFile(`${path}.chunks`)
    if (cached !== undefined && cached.hash === hash && cached.size === s.size) return cached
    let file: FileHandle
    try {
      file = await open(path, 'r')
    } catch (err) {
      if (isMissing(err)) return undefined
      throw err
    }
    let list: ChunkList
    try {
      list = await chunkListOfFile(file)
    } finally {
      await file.close()
    }
    if (list.hash !== hash) throw corrupt(hash)
    // A cache: if writing it fails (or a crash tears it) the list is recomputed next time, so the
    // error is not the caller's, and it needs no fsync.
    await writeFileAtomically(`${path}.chunks`, Buffer.from(JSON.stringify(list)), false).catch(() => undefined)
    return list
  }

  /** Every stored blob (a `<root>/ab/<hash>` file), in hash order. */
  async list(): Promise<BlobStat[]> {
    const out: BlobStat[] = []
    for (const prefix of (await readdirOrEmpty(this.root)).filter((n) => PREFIX_NAME.test(n)).sort()) {
      for (const name of (await readdirOrEmpty(join(this.root, prefix))).filter((n) => HASH_NAME.test(n) && n.startsWith(prefix)).sort()) {
        const s = await this.stat(name as BlobHash)
        if (s !== undefined) out.push(s)
      }
    }
    return out
  }

  /** Removes a stored blob and its chunk-list cache; false when it was absent. */
  async delete(hash: BlobHash): Promise<boolean> {
    const path = this.pathOf(hash)
    const present = (await this.stat(hash)) !== undefined
    await rm(`${path}.chunks`, { force: true })
    if (!present) return false
    await rm(path, { force: true })
    await syncDir(join(this.root, hash.slice(0, 2)))
    return true
  }

  /**
   * Starts receiving the blob `list` describes, or resumes the partial kept for the same list: its
   * whole chunks are re-read and re-checked first (a failed one truncates the partial there), and
   * the current chunk's kept bytes are fed to that chunk's hash.
   */
  async receive(list: ChunkList): Promise<IncomingBlob> {
    checkChunkList(list, this.#maxBytes)
    // Two receives of one hash must not interleave their file operations: queue them.
    const before = this.#receiving.get(list.hash) ?? Promise.resolve()
    const run = before.then(() => this.#receive(list)).catch((err: unknown) => Promise.reject(mapDiskFull(this.root, err)))
    const settled = run.then(
      () => undefined,
      () => undefined,
    )
    this.#receiving.set(list.hash, settled)
    void settled.then(() => {
      if (this.#receiving.get(list.hash) === settled) this.#receiving.delete(list.hash)
    })
    return run
  }

  async #receive(list: ChunkList): Promise<IncomingBlob> {
    const l: ChunkList = { hash: list.hash, size: list.size, chunkSize: list.chunkSize, chunks: [...list.chunks] }
    if (await this.has(l.hash)) throw new StoreError(`blob ${l.hash} is already stored`, { code: 'ALREADY_STORED' })
    await this.#open.get(l.hash)?.supersede()
    const dir = join(this.root, PARTIAL_DIR)
    await mkdir(dir, { recursive: true, mode: 0o700 })
    const path = this.partialPathOf(l.hash)
    const kept = await readListFile(`${path}.list`)
    if (kept === undefined || !sameChunkList(kept, l)) {
      await rm(path, { force: true })
      // Not fsynced: a list lost or torn by a crash only loses the partial (it is read back checked).
      await writeFileAtomically(`${path}.list`, Buffer.from(JSON.stringify(l)), false)
    }
    const file = await open(path, 'a+').then(async (f) => {
      // 'a+' creates it; positional writes need 'r+' (Linux ignores the position in append mode).
      await f.close()
      return open(path, 'r+')
    })
    try {
      const { received, chunkHash } = await resumePoint(file, l)
      const incoming = new FsIncoming(l, path, file, received, chunkHash, {
        admit: () => this.#admit(l, path),
        released: (which) => {
          if (this.#open.get(l.hash) === which) this.#open.delete(l.hash)
        },
      })
      this.#open.set(l.hash, incoming)
      return incoming
    } catch (err) {
      await file.close()
      throw err
    }
  }

  /** Partials kept for resumption (those whose chunk list is readable), with the bytes each holds. */
  async partials(): Promise<Array<{ list: ChunkList; received: number }>> {
    const dir = join(this.root, PARTIAL_DIR)
    const out: Array<{ list: ChunkList; received: number }> = []
    for (const name of (await readdirOrEmpty(dir)).sort()) {
      if (!name.endsWith('.list') || !HASH_NAME.test(name.slice(0, -5))) continue
      const list = await readListFile(join(dir, name))
      if (list === undefined || list.hash !== name.slice(0, -5) || (await this.has(list.hash))) continue
      let received = 0
      try {
        received = Math.min(list.size, statSync(join(dir, list.hash)).size)
      } catch (err) {
        if (!isMissing(err)) throw err
      }
      out.push({ list, received })
    }
    return out
  }

  /**
   * Moves a verified (and fsynced) partial into place: rename, fsync the directory — the two steps
   * durability needs — and keep its chunk list as the cache (a rename, no fsync: a cache).
   */
  async #admit(list: ChunkList, partial: string): Promise<BlobStat> {
    const dir = join(this.root, list.hash.slice(0, 2))
    await mkdir(dir, { recursive: true, mode: 0o700 })
    const path = join(dir, list.hash)
    await rename(partial, path)
    await syncDir(dir)
    // Every chunk and the whole hash were checked: the list is the blob's true one.
    await rename(`${partial}.list`, `${path}.chunks`).catch(() => rm(`${partial}.list`, { force: true }))
    return { hash: list.hash, size: list.size }
  }
}

/** A receive in progress: one open file handle, one running hash for the current chunk. */
class FsIncoming implements IncomingBlob {
  #closed = false
  #queue: Promise<void> = Promise.resolve()
  #superseded = false
  #committed = false
  #received: number
  #chunkHash: Hash
  /** The whole blob's running hash, while every byte went through this receive (none resumed or dropped). */
  #whole: Hash | undefined
  /** File writes issued and not yet awaited, oldest first (see {@link WRITES_IN_FLIGHT}). */
  readonly #writes: Array<Promise<void>> = []
  /** The first write that failed: every later `append` and `commit` throws it (close, then receive again to resume from the file). */
  #writeFailed: unknown

  constructor(
    readonly list: ChunkList,
    private readonly path: string,
    private readonly file: FileHandle,
    received: number,
    chunkHash: Hash,
    private readonly store: { admit(): Promise<BlobStat>; released(which: FsIncoming): void },
  ) {
    this.#received = received
    this.#chunkHash = chunkHash
    this.#whole = received === 0 ? createHash('sha256') : undefined
  }

  get received(): number {
    return this.#received
  }

  #checkOpen(): void {
    if (this.#closed) throw new StoreError(`the receive of blob ${this.list.hash} is closed`, { code: 'CLOSED' })
  }

  /** Runs `op` after every earlier call on this receive settled: file writes never interleave. */
  #serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(op)
    this.#queue = run.then(
      () => undefined,
      () => undefined,
    )
    return run
  }

  append(offset: number, bytes: Uint8Array): Promise<void> {
    // A full disk is StoreError DISK_FULL; what was kept stays kept, for a later resume.
    return this.#serial(() => this.#append(offset, bytes)).catch((err: unknown) => Promise.reject(mapDiskFull(this.path, err)))
  }

  commit(): Promise<BlobStat> {
    return this.#serial(() => this.#commit()).catch((err: unknown) => Promise.reject(mapDiskFull(this.path, err)))
  }

  discard(): Promise<void> {
    return this.#serial(() => this.#discard())
  }

  close(): Promise<void> {
    return this.#serial(() => this.#close())
  }

  async #append(offset: number, bytes: Uint8Array): Promise<void> {
    this.#checkOpen()
    const { size, chunkSize, chunks, hash } = this.list
    if (offset !== this.#received) {
      throw new StoreError(`blob ${hash}: append at ${offset}, expected ${this.#received}`, { code: 'OUT_OF_ORDER' })
    }
    if (this.#received + bytes.length > size) {
      throw new StoreError(`blob ${hash}: ${this.#received + bytes.length} bytes is past its size ${size}`, { code: 'TOO_LONG' })
    }
    if (this.#writeFailed !== undefined) throw this.#writeFailed
    let at = 0
    while (at < bytes.length) {
      const chunk = Math.floor(this.#received / chunkSize)
      const chunkStart = chunk * chunkSize
      const chunkEnd = Math.min(size, chunkStart + chunkSize)
      const piece = bytes.subarray(at, at + Math.min(bytes.length - at, chunkEnd - this.#received))
      if (this.#writes.length >= WRITES_IN_FLIGHT) await this.#settleWrites(WRITES_IN_FLIGHT - 1)
      this.#write(piece, this.#received)
      this.#chunkHash.update(piece)
      this.#whole?.update(piece)
      this.#received += piece.length
      at += piece.length
      if (this.#received === chunkEnd) {
        const digest = this.#chunkHash.digest('hex')
        this.#chunkHash = createHash('sha256')
        if (digest !== chunks[chunk]) {
          await this.#settleWrites(0).catch(() => undefined)
          await this.file.truncate(chunkStart)
          this.#received = chunkStart
          this.#whole = undefined
          throw new StoreError(`blob ${hash}: chunk ${chunk} does not match its hash; its bytes were dropped`, { code: 'CHUNK_MISMATCH' })
        }
      }
    }
    // One turn of the event loop per append, as waiting for the write gave: a caller that appends
    // piece after piece from a queue must not starve the I/O beside it (a WebRTC receiver's SCTP
    // acknowledgements; without the turn its sender stalled, 4.4 against 6 MiB/s here).
    await new Promise<void>((resolve) => setImmediate(resolve))
  }

  /**
   * Hands `piece` to the thread pool and does not wait: the next piece is decrypted and hashed on
   * this thread while the kernel copies this one. Positions are disjoint, so the writes may land in
   * any order; every call that needs the file whole (a truncate, commit, close) waits for them.
   */
  #write(piece: Uint8Array, position: number): void {
    this.#writes.push(
      writeAll(this.file, piece, position).catch((err: unknown) => {
        this.#writeFailed ??= err
      }),
    )
  }

  /** Waits until at most `max` writes are in flight; throws the first write's failure. */
  async #settleWrites(max: number): Promise<void> {
    while (this.#writes.length > max) await this.#writes.shift()
    if (this.#writeFailed !== undefined) throw this.#writeFailed
  }

  async #commit(): Promise<BlobStat> {
    this.#checkOpen()
    const { size, hash } = this.list
    if (this.#received < size) {
      throw new StoreError(`blob ${hash}: ${this.#received} of ${size} bytes received`, { code: 'INCOMPLETE' })
    }
    await this.#settleWrites(0)
    // The whole-hash check: from the bytes as they were written when all of them came through this
    // receive, else over what is on disk, read back through one chunk-sized buffer.
    const whole = this.#whole !== undefined ? this.#whole.digest('hex') : await hashFile(this.file, size)
    await this.file.sync()
    await this.#release()
    if (whole !== hash) {
      await rm(this.path, { force: true })
      await rm(`${this.path}.list`, { force: true })
      throw new StoreError(`blob ${hash}: its bytes hash to something else; the chunk list lied`, { code: 'BLOB_MISMATCH' })
    }
    this.#committed = true
    return this.store.admit()
  }

  async #discard(): Promise<void> {
    await this.#settleWrites(0).catch(() => undefined)
    await this.#release()
    if (this.#superseded || this.#committed) return
    await rm(this.path, { force: true })
    await rm(`${this.path}.list`, { force: true })
  }

  async #close(): Promise<void> {
    if (this.#closed) return
    await this.#settleWrites(0).catch(() => undefined)
    await this.file.sync().catch(() => undefined)
    await this.#release()
  }

  /** A newer `receive` of the same hash takes over the partial: this one stops touching it. */
  supersede(): Promise<void> {
    this.#superseded = true
    return this.close()
  }

  async #release(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.store.released(this)
    await this.file.close()
  }
}

const corrupt = (hash: BlobHash): StoreError =>
  new StoreError(`blob ${hash} is corrupt (its bytes do not match its hash)`, { code: 'CORRUPT_BLOB' })

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir)
  } catch (err) {
    if (isMissing(err)) return []
    throw err
  }
}

/** A chunk list read from a JSON file, or `undefined` when it is absent, torn or malformed. */
async function readListFile(path: string): Promise<ChunkList | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if (isMissing(err)) return undefined
    throw err
  }
  try {
    const value: unknown = JSON.parse(text)
    checkChunkList(value)
    return { hash: value.hash, size: value.size, chunkSize: value.chunkSize, chunks: value.chunks }
  } catch {
    return undefined
  }
}

/**
 * Writes `bytes` to a temp file beside `path` (`.tmp-<name>-<12 hex>`, the data-dir layout's temp
 * name: never read, safe to delete), fsyncs it when `durable`, and renames it over `path`. At most
 * {@link SMALL_IO} bytes are written with the synchronous calls, all but the fsync.
 */
async function writeFileAtomically(path: string, bytes: Uint8Array, durable: boolean): Promise<void> {
  const tmp = join(dirname(path), `.tmp-${basename(path)}-${tmpSuffix()}`)
  if (bytes.length <= SMALL_IO) {
    try {
      const fd = openSync(tmp, 'wx', 0o600)
      try {
        for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done)
        if (durable) await fsyncFd(fd)
      } finally {
        closeSync(fd)
      }
      renameSync(tmp, path)
    } catch (err) {
      rmSync(tmp, { force: true })
      throw err
    }
    return
  }
  try {
    const file = await open(tmp, 'wx', 0o600)
    try {
      await file.writeFile(bytes)
      if (durable) await file.sync()
    } finally {
      await file.close()
    }
    await rename(tmp, path)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
}

async function writeAll(file: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0
  while (done < bytes.length) {
    const { bytesWritten } = await file.write(bytes, done, bytes.length - done, position + done)
    done += bytesWritten
  }
}

/** Reads up to `buffer.length` bytes at `position`; fewer only at the end of the file. */
async function readFull(file: FileHandle, buffer: Buffer, length: number, position: number): Promise<number> {
  let got = 0
  while (got < length) {
    const { bytesRead } = await file.read(buffer, got, length - got, position + got)
    if (bytesRead === 0) break
    got += bytesRead
  }
  return got
}

/** Hex SHA-256 of the first `size` bytes of `file`, streamed. */
async function hashFile(file: FileHandle, size: number): Promise<string> {
  const hash = createHash('sha256')
  const buffer = Buffer.allocUnsafe(Math.min(CHUNK_SIZE, Math.max(1, size)))
  for (let at = 0; at < size; ) {
    const got = await readFull(file, buffer, Math.min(buffer.length, size - at), at)
    if (got === 0) break
    hash.update(buffer.subarray(0, got))
    at += got
  }
  return hash.digest('hex')
}

/** The SHA-256 of every {@link CHUNK_SIZE} slice of `bytes`, hex. */
function chunkHashesOf(bytes: Uint8Array): string[] {
  const chunks: string[] = []
  for (let at = 0; at < bytes.length; at += CHUNK_SIZE) chunks.push(createHash('sha256').update(bytes.subarray(at, at + CHUNK_SIZE)).digest('hex'))
  return chunks
}

/** The chunk list of a whole file in one streaming pass; `hash` is what the bytes really hash to. */
async function chunkListOfFile(file: FileHandle): Promise<ChunkList> {
  const size = (await file.stat()).size
  const whole = createHash('sha256')
  const chunks: string[] = []
  const buffer = Buffer.allocUnsafe(Math.min(CHUNK_SIZE, Math.max(1, size)))
  for (let at = 0; at < size; ) {
    const got = await readFull(file, buffer, Math.min(CHUNK_SIZE, size - at), at)
    if (got === 0) break
    const chunk = buffer.subarray(0, got)
    whole.update(chunk)
    chunks.push(createHash('sha256').update(chunk).digest('hex'))
    at += got
  }
  return { hash: whole.digest('hex') as BlobHash, size, chunkSize: CHUNK_SIZE, chunks }
}

/**
 * Where a kept partial resumes: every whole chunk it holds is re-read and re-checked (a failed one
 * truncates the file there: a SIGKILL or power cut may have left anything after the last good
 * chunk), and the bytes of the current, unfinished chunk are fed to its running hash.
 */
async function resumePoint(file: FileHandle, list: ChunkList): Promise<{ received: number; chunkHash: Hash }> {
  let length = (await file.stat()).size
  if (length > list.size) {
    await file.truncate(list.size)
    length = list.size
  }
  const buffer = Buffer.allocUnsafe(Math.min(list.chunkSize, Math.max(1, length)))
  let at = 0
  for (let chunk = 0; at < length; chunk++) {
    const end = Math.min(list.size, at + list.chunkSize)
    const take = Math.min(end, length) - at
    const got = await readFull(file, buffer, take, at)
    const hash = createHash('sha256').update(buffer.subarray(0, got))
    if (end > length) return { received: at + got, chunkHash: hash }
    if (got !== take || hash.digest('hex') !== list.chunks[chunk]) {
      await file.truncate(at)
      return { received: at, chunkHash: createHash('sha256') }
    }
    at = end
  }
  return { received: at, chunkHash: createHash('sha256') }
}

async function syncDir(dir: string): Promise<void> {
  // The rename is only durable once the directory entry is on disk.
  const fd = openSync(dir, 'r')
  try {
    await fsyncFd(fd)
  } finally {
    closeSync(fd)
  }
}

/** fsync in libuv's thread pool: the one call of a small write that waits on the disk. */
function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())))
}

/** `length` (≤ {@link SMALL_IO}) bytes at `offset` of `path`, fewer at its end; `missing()` when it is absent. */
function readSmall(path: string, offset: number, length: number, missing: () => Error): Uint8Array {
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch (err) {
    if (isMissing(err)) throw missing()
    throw err
  }
  try {
    const want = Math.max(0, Math.min(length, fstatSync(fd).size - offset))
    const out = Buffer.alloc(want)
    let got = 0
    while (got < want) {
      const n = readSync(fd, out, got, want - got, offset + got)
      if (n === 0) break
      got += n
    }
    return new Uint8Array(out.buffer, out.byteOffset, got)
  } finally {
    closeSync(fd)
  }
}

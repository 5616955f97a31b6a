/**
 * The blob exchange (docs/protocol/blobs.md, "Wire protocol"): fetching images from members and
 * serving them, over one or more link hosts ({@link BlobPort}s: the LAN's TCP adapter, WebRTC
 * links). Both roles run in one object per device.
 *
 * - **Receiver.** `fetch(hashes)` asks every connected member once (`query`), then sends each
 *   provider one `want` batching every hash assigned to it, each item from what a kept partial
 *   already holds. Pieces are appended to the store's {@link IncomingBlob} (verified per chunk);
 *   the window is one {@link CHUNK_SIZE} of credit, granted back ({@link CREDIT_BATCH} bytes at a
 *   time) as pieces are appended, so a cut link loses at most one chunk. A one-chunk blob opens no
 *   partial: its pieces are held and stored by one `put` checked against its hash. Commits (fsync,
 *   rename) run beside the stream, at most {@link MAX_COMMITS} at a time. A provider whose chunk or whole hash does not
 *   verify, whose header is inconsistent or whose head fails `validateHead`, is bad for that blob:
 *   the next provider resumes from the kept partial. A cut link keeps the partial (`close()`) and
 *   resumes from another provider, or from the same one when it comes back within
 *   `retryWindowMs`.
 * - **Provider.** Answers `query` with what is present **and** referenced, re-checks membership
 *   and `isReferenced` for every `want` item, serves one stream per link at a time through
 *   `store.chunks` and `store.read` (a chunk at a time with the next one read ahead, never the
 *   whole blob; the next item prepared while one streams), never has more bytes in flight than the
 *   receiver granted, and refuses items beyond a bounded queue (`BUSY`).
 */
import { concatAll } from '../crypto/bytes.js'
import { OrbitError, WireError } from '../errors.js'
import type { BlobHash, DeviceId } from '../ids.js'
import { silentLogger, type Logger } from '../log.js'
import { checkChunkList } from './chunks.js'
import { CHUNK_SIZE, PIECE_SIZE, type BlobStore, type ChunkList, type IncomingBlob } from './port.js'
import { MAX_BLOB_HASHES, MAX_BLOB_REQUEST_ID, type BlobMessage, type BlobPort, type BlobWantItem } from './protocol.js'

/** What a {@link BlobExchange} is built from. */
export interface BlobExchangeOptions {
  store: BlobStore
  /** Current membership, re-asked for every message. */
  isMember(id: DeviceId): boolean
  /** Whether the workspace references `hash`: what a provider serves, and what a receiver fetches. */
  isReferenced(hash: BlobHash): boolean | Promise<boolean>
  /** Largest blob this device accepts or serves (bytes), re-read per blob. */
  maxBlobBytes(): number
  /** Checks the first chunk's bytes (≤ CHUNK_SIZE) of a blob being received; a throw refuses that copy. */
  validateHead?(head: Uint8Array, list: ChunkList): void
  logger?: Logger
  now?: () => number
  /** How long a `query` waits for `have` answers. Default 5000 ms. */
  queryTimeoutMs?: number
  /** How long a blob whose transfer was cut waits for a provider to (re)appear. Default 5000 ms. */
  retryWindowMs?: number
  /** A request that receives nothing for this long is abandoned, its provider bad for it. Default 15000 ms. */
  stallMs?: number
  /** Most `want` items queued per link on the provider side; beyond, `BUSY`. Default 1024. */
  maxQueuedWants?: number
}

/** One blob being received now. */
export interface BlobTransfer {
  hash: BlobHash
  size: number
  /** Bytes held (those of a resumed partial included). */
  received: number
  from: DeviceId
  startedAt: number
  bytesPerSecond: number
  etaMs: number | undefined
}

/** What the exchange is doing (for status and the UI). */
export interface BlobProgress {
  transfers: BlobTransfer[]
  /** Blobs asked for and not being received yet (querying, waiting for a provider). */
  queued: number
  /** Blobs fetched since the exchange started. */
  completed: number
  /** The most recent failures (at most 100). */
  failed: Array<{ hash: BlobHash; reason: string }>
  /** Sizes of the blobs of the current batch whose size is known (batch: since the exchange was last idle). */
  bytesTotal: number
  bytesDone: number
  etaMs: number | undefined
}

/** What {@link BlobExchange.fetch} resolves with: every hash asked for is in one of the lists. */
export interface BlobFetchResult {
  fetched: BlobHash[]
  failed: Array<{ hash: BlobHash; code: string; message: string }>
}

/**
 * Counters. `queries` and `wants` are the request messages this device sent as receiver (one
 * round trip each); `bytesReceived` the data bytes appended; `bytesServed` the data bytes sent as
 * provider; `piecesResent` / `bytesResent` the data pieces (bytes) a provider sent covering bytes it
 * had already sent to the same device for the same blob since the exchange started — what a cut
 * link costs.
 */
export interface BlobExchangeCounts {
  queries: number
  wants: number
  bytesReceived: number
  bytesServed: number
  piecesResent: number
  bytesResent: number
}

type Failure = { code: string; message: string }

interface Wanted {
  hash: BlobHash
  providers: Set<DeviceId>
  asked: Set<DeviceId>
  bad: Map<DeviceId, Failure>
  /** The provider it is assigned to (queued for a want, or in a request). */
  assigned: DeviceId | undefined
  /** A transfer of it was cut: wait `retryWindowMs` for a provider before failing. */
  cut: boolean
  waitUntil: number | undefined
  size: number | undefined
  received: number
  startedAt: number
  receivedAtStart: number
  outcome: ({ ok: true } | ({ ok: false } & Failure)) | undefined
  waiters: Array<() => void>
}

interface Current {
  w: Wanted
  list: ChunkList
  /** Where the bytes go: the store's partial, or (`undefined`) nowhere when `memory` is unset too (already stored: skipped). */
  incoming: IncomingBlob | undefined
  /** A one-chunk blob received from 0: its pieces, held here and stored in one verified `put` at its end. */
  memory: Uint8Array[] | undefined
  offset: number
  /** The first chunk's bytes while they are collected for `validateHead`. */
  head: Uint8Array[] | undefined
  headEnd: number
}

interface Request {
  id: number
  device: DeviceId
  port: BlobPort
  items: Array<{ w: Wanted; from: number }>
  current: Current | undefined
  chain: Promise<void>
  lastActivity: number
  done: boolean
  /** Bytes taken and not yet credited back: sent in {@link CREDIT_BATCH}es, not one credit per piece. */
  owed: number
}

interface Query {
  id: number
  device: DeviceId
  hashes: Set<BlobHash>
  timer: ReturnType<typeof setTimeout>
}

interface QueuedWant {
  id: number
  hash: BlobHash
  from: number
}

/** A block of a stored blob read for streaming: `bytes` from offset `at`. */
interface Block {
  at: number
  bytes: Uint8Array
}

type Prepared = { refuse: string; message: string } | { list: ChunkList; first: Block | undefined }

interface Serving {
  port: BlobPort
  device: DeviceId
  queue: QueuedWant[]
  credits: Map<number, number>
  current: number | undefined
  running: Promise<void> | undefined
  wake: (() => void) | undefined
  gone: boolean
}

const HASH = /^[0-9a-f]{64}$/
const MAX_FAILED = 100
/**
 * Received blobs being made durable (fsync, rename) while the stream goes on to the next one; at
 * this many the stream waits for one. Bounds the memory of one-chunk blobs held for their `put`.
 */
const MAX_COMMITS = 16
/** Queued items a provider prepares ahead of the one streaming (each holds at most its first chunk). */
const PREPARE_AHEAD = 4
/**
 * Credit is given back in batches of this many bytes: half the window ({@link CHUNK_SIZE}), so the
 * provider always holds credit for the next piece while a batch travels back, and a 20 MB image
 * costs 40 credit messages (each sealed, written and opened), not one per piece.
 */
const CREDIT_BATCH = CHUNK_SIZE / 2
/** How many hashes of one `query` are looked up at once. */
const QUERY_PARALLEL = 32
const PROGRESS_EVERY_MS = 100

const codeOf = (error: unknown, fallback: string): string => (error instanceof OrbitError ? error.code : fallback)
const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/** One device's blob exchange over any number of link hosts (see the module comment). */
export class BlobExchange {
  readonly #o: BlobExchangeOptions
  readonly #log: Logger
  readonly #now: () => number
  readonly #ports = new Map<BlobPort, Array<() => void>>()
  readonly #wanted = new Map<BlobHash, Wanted>()
  readonly #requests = new Map<number, Request>()
  readonly #queries = new Map<number, Query>()
  readonly #serving = new Map<BlobPort, Map<DeviceId, Serving>>()
  /** What each provider already sent to each device: `device hash` → highest end offset. */
  readonly #servedUpTo = new Map<string, number>()
  readonly #toAssign = new Map<DeviceId, Wanted[]>()
  #assignScheduled = false
  #connected = new Set<DeviceId>()
  readonly #listeners = new Set<(p: BlobProgress) => void>()
  readonly #failed: Array<{ hash: BlobHash; reason: string }> = []
  /**
   * Sizes that a chunk list showed to be over this device's limit: such a hash fails at once, with
   * no request, until the limit is raised above its size. Without it every fetch (one after each
   * synced change) would ask again for every referenced image over the limit, and be sent its
   * header and first pieces each time, a burst a peer's flood guard rightly cuts. Holds only hashes
   * this workspace references (nothing else is asked for).
   */
  readonly #overLimit = new Map<BlobHash, number>()
  #completed = 0
  #batch = { total: 0, done: 0, sized: new Set<BlobHash>() }
  #lastProgress = 0
  #nextId = 1
  #closed = false
  readonly #stallTimer: ReturnType<typeof setInterval>
  /** Commits in flight (see {@link MAX_COMMITS}). */
  readonly #commits = new Set<Promise<void>>()
  /** Counters (see {@link BlobExchangeCounts}). */
  readonly counts: BlobExchangeCounts = { queries: 0, wants: 0, bytesReceived: 0, bytesServed: 0, piecesResent: 0, bytesResent: 0 }

  constructor(options: BlobExchangeOptions) {
    this.#o = options
    this.#log = (options.logger ?? silentLogger).forComponent('orbit:blobs')
    this.#now = options.now ?? Date.now
    const stallMs = options.stallMs ?? 15_000
    this.#stallTimer = setInterval(() => this.#checkStalls(stallMs), Math.max(10, Math.floor(stallMs / 4)))
    ;(this.#stallTimer as unknown as { unref?: () => void }).unref?.()
  }

  /** Serves and fetches over `port`'s links too; returns the function that stops using it. */
  addPort(port: BlobPort): () => void {
    if (this.#closed) return () => {}
    const offs = [port.onBlob((device, message) => this.#receive(port, device, message)), port.onPeersChanged(() => this.#peersChanged())]
    this.#ports.set(port, offs)
    this.#peersChanged()
    return () => {
      for (const off of this.#ports.get(port) ?? []) off()
      this.#ports.delete(port)
      for (const s of this.#serving.get(port)?.values() ?? []) this.#endServing(s)
      this.#serving.delete(port)
      this.#peersChanged()
    }
  }

  /**
   * Fetches every hash not present yet from the connected members: one `query` round trip, then
   * one `want` per provider; falls back to the next provider on a refusal, a bad chunk, a lying
   * chunk list or a cut link. Resolves when each hash is present or failed (never rejects).
   * Failure codes: a provider's refusal (`NOT_FOUND`, `NOT_REFERENCED`, `TOO_LARGE`, `BUSY`), a
   * bad copy (`CHUNK_MISMATCH`, `BLOB_MISMATCH`, `BAD_CHUNK_LIST`, `BAD_HEADER`, `BAD_STREAM`, `INCOMPLETE`, `STALLED`, or
   * `validateHead`'s code), `NOT_FOUND` (no connected member has it), `NOT_REFERENCED` (this
   * workspace does not reference it), `BAD_HASH`, `ABORTED`, `CLOSED`.
   */
  async fetch(hashes: BlobHash[], options: { signal?: AbortSignal } = {}): Promise<BlobFetchResult> {
    const result: BlobFetchResult = { fetched: [], failed: [] }
    const pending: Wanted[] = []
    const fresh: Wanted[] = []
    const unique = [...new Set(hashes)]
    // What is already here, and what this workspace references: asked of the store in parallel.
    const checks = await Promise.all(
      unique.map(async (hash): Promise<'fetch' | 'present' | Failure> => {
        if (typeof hash !== 'string' || !HASH.test(hash)) return { code: 'BAD_HASH', message: 'not 64 lower-case hex digits' }
        const size = this.#overLimit.get(hash)
        if (size !== undefined) {
          const max = this.#o.maxBlobBytes()
          if (size > max) return { code: 'TOO_LARGE', message: `chunk list: the blob is ${size} bytes; the limit is ${max} bytes` }
          this.#overLimit.delete(hash)
        }
        if (this.#wanted.has(hash) || this.#closed) return 'fetch'
        try {
          if (await this.#o.store.has(hash)) return 'present'
          if (!(await this.#o.isReferenced(hash))) return { code: 'NOT_REFERENCED', message: 'this workspace does not reference the blob' }
          return 'fetch'
        } catch (error) {
          return { code: codeOf(error, 'INTERNAL'), message: messageOf(error) }
        }
      }),
    )
    for (const [i, hash] of unique.entries()) {
      const check = checks[i]!
      if (typeof check === 'object') {
        result.failed.push({ hash, ...check })
        continue
      }
      if (this.#closed) {
        result.failed.push({ hash, code: 'CLOSED', message: 'the blob exchange is closed' })
        continue
      }
      let w = this.#wanted.get(hash)
      if (w === undefined) {
        if (check === 'present') {
          result.fetched.push(hash)
          continue
        }
        w = this.#wanted.get(hash)
        if (w === undefined) {
          w = newWanted(hash)
          this.#wanted.set(hash, w)
          fresh.push(w)
        }
      }
      pending.push(w)
    }
    if (fresh.length > 0) this.#query(fresh, this.#peerList())
    const signal = options.signal
    const aborted = signal?.aborted === true ? Promise.resolve() : new Promise<void>((resolve) => signal?.addEventListener('abort', () => resolve(), { once: true }))
    await Promise.all(
      pending.map(async (w) => {
        if (w.outcome === undefined) await Promise.race([new Promise<void>((resolve) => w.waiters.push(resolve)), aborted])
        const outcome = w.outcome
        if (outcome === undefined) result.failed.push({ hash: w.hash, code: 'ABORTED', message: 'the fetch was aborted' })
        else if (outcome.ok) result.fetched.push(w.hash)
        else result.failed.push({ hash: w.hash, code: outcome.code, message: outcome.message })
      }),
    )
    return result
  }

  /** What is being fetched now, how fast, and what failed lately. */
  progress(): BlobProgress {
    const now = this.#now()
    const transfers: BlobTransfer[] = []
    let queued = 0
    let rate = 0
    for (const r of this.#requests.values()) {
      const c = r.current
      if (c === undefined) continue
      const w = c.w
      const seconds = (now - w.startedAt) / 1000
      const bytesPerSecond = seconds > 0 ? (w.received - w.receivedAtStart) / seconds : 0
      rate += bytesPerSecond
      const left = c.list.size - w.received
      transfers.push({ hash: w.hash, size: c.list.size, received: w.received, from: r.device, startedAt: w.startedAt, bytesPerSecond, etaMs: bytesPerSecond > 0 ? Math.round((left / bytesPerSecond) * 1000) : undefined })
    }
    const active = new Set(transfers.map((t) => t.hash))
    for (const w of this.#wanted.values()) if (w.outcome === undefined && !active.has(w.hash)) queued++
    const left = Math.max(0, this.#batch.total - this.#batch.done)
    return {
      transfers,
      queued,
      completed: this.#completed,
      failed: [...this.#failed],
      bytesTotal: this.#batch.total,
      bytesDone: this.#batch.done,
      etaMs: rate > 0 ? Math.round((left / rate) * 1000) : left === 0 ? 0 : undefined,
    }
  }

  /** Called with the progress whenever it changes (at most every 100 ms while bytes flow). */
  onProgress(listener: (p: BlobProgress) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Stops: every pending fetch resolves (`CLOSED`), partials are kept, serving stops. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#stallTimer)
    for (const q of this.#queries.values()) clearTimeout(q.timer)
    this.#queries.clear()
    const closing: Promise<void>[] = []
    for (const r of [...this.#requests.values()]) {
      r.done = true
      r.port.sendBlob(r.device, { type: 'cancel', id: r.id })
      const incoming = r.current?.incoming
      if (incoming !== undefined) closing.push(r.chain.then(() => incoming.close()).catch(() => {}))
    }
    this.#requests.clear()
    for (const w of [...this.#wanted.values()]) this.#finish(w, { ok: false, code: 'CLOSED', message: 'the blob exchange is closed' })
    for (const [port, offs] of this.#ports) {
      for (const off of offs) off()
      for (const s of this.#serving.get(port)?.values() ?? []) {
        this.#endServing(s)
        if (s.running !== undefined) closing.push(s.running)
      }
    }
    this.#ports.clear()
    this.#serving.clear()
    this.#listeners.clear()
    await Promise.all([...closing, ...this.#commits])
  }

  // ---- peers ---------------------------------------------------------------------------------

  /** Connected members, each with the first port that reaches it. */
  #peers(): Map<DeviceId, BlobPort> {
    const out = new Map<DeviceId, BlobPort>()
    for (const port of this.#ports.keys()) for (const d of port.blobPeers()) if (!out.has(d) && this.#o.isMember(d)) out.set(d, port)
    return out
  }

  #peerList(): DeviceId[] {
    return [...this.#peers().keys()]
  }

  #peersChanged(): void {
    if (this.#closed) return
    const peers = this.#peers()
    const now = new Set(peers.keys())
    const gone = [...this.#connected].filter((d) => !now.has(d))
    const came = [...now].filter((d) => !this.#connected.has(d))
    this.#connected = now
    // Provider side: a link that went takes its stream and queue with it.
    for (const [port, sessions] of this.#serving) {
      const reachable = new Set(port.blobPeers())
      for (const s of [...sessions.values()]) if (!reachable.has(s.device)) this.#endServing(s)
    }
    for (const d of gone) {
      for (const q of [...this.#queries.values()]) if (q.device === d) this.#queryDone(q, [])
      for (const r of [...this.#requests.values()]) if (r.device === d) this.#abandon(r, { cut: true, cancel: false })
      for (const w of this.#wanted.values()) w.asked.delete(d)
    }
    if (came.length > 0) {
      const waiting = [...this.#wanted.values()].filter((w) => w.outcome === undefined && w.assigned === undefined)
      if (waiting.length > 0) this.#query(waiting, came)
    }
    for (const w of [...this.#wanted.values()]) this.#evaluate(w)
  }

  // ---- receiver: query, assign, want ---------------------------------------------------------

  #query(ws: Wanted[], devices: DeviceId[]): void {
    const peers = this.#peers()
    for (const device of devices) {
      const port = peers.get(device)
      if (port === undefined) continue
      const hashes = ws.filter((w) => w.outcome === undefined && !w.asked.has(device)).map((w) => w.hash)
      for (let i = 0; i < hashes.length; i += MAX_BLOB_HASHES) {
        const part = hashes.slice(i, i + MAX_BLOB_HASHES)
        const id = this.#id()
        const timer = setTimeout(() => {
          const q = this.#queries.get(id)
          if (q !== undefined) this.#queryDone(q, [])
        }, this.#o.queryTimeoutMs ?? 5000)
        ;(timer as unknown as { unref?: () => void }).unref?.()
        const q: Query = { id, device, hashes: new Set(part), timer }
        // Asked even when the send fails: a link that cannot carry it now is not asked again in a loop.
        for (const h of part) this.#wanted.get(h)?.asked.add(device)
        if (!port.sendBlob(device, { type: 'query', id, hashes: part })) {
          clearTimeout(timer)
          continue
        }
        this.counts.queries++
        this.#queries.set(id, q)
      }
    }
    for (const w of ws) this.#evaluate(w)
  }

  #queryDone(q: Query, have: BlobHash[]): void {
    clearTimeout(q.timer)
    this.#queries.delete(q.id)
    for (const h of have) if (q.hashes.has(h)) this.#wanted.get(h)?.providers.add(q.device)
    for (const h of q.hashes) {
      const w = this.#wanted.get(h)
      if (w !== undefined) this.#evaluate(w)
    }
  }

  #queryPending(w: Wanted): boolean {
    for (const q of this.#queries.values()) if (q.hashes.has(w.hash)) return true
    return false
  }

  /** The one decision function for a wanted blob: assign it, keep waiting, or fail it. */
  #evaluate(w: Wanted): void {
    if (w.outcome !== undefined) return
    if (this.#closed) return this.#finish(w, { ok: false, code: 'CLOSED', message: 'the blob exchange is closed' })
    if (w.assigned !== undefined) return
    const candidates = [...w.providers].filter((d) => this.#connected.has(d) && !w.bad.has(d))
    if (candidates.length > 0) {
      // The least loaded candidate, so that several providers share a large batch.
      const load = (d: DeviceId): number => this.#toAssign.get(d)?.length ?? 0
      const device = candidates.reduce((a, b) => (load(b) < load(a) ? b : a))
      w.assigned = device
      w.waitUntil = undefined
      const list = this.#toAssign.get(device) ?? []
      list.push(w)
      this.#toAssign.set(device, list)
      if (!this.#assignScheduled) {
        this.#assignScheduled = true
        queueMicrotask(() => void this.#sendWants())
      }
      return
    }
    if (this.#queryPending(w)) return
    const unasked = [...this.#connected].filter((d) => !w.asked.has(d) && !w.bad.has(d))
    if (unasked.length > 0) return this.#query([w], unasked)
    const lastBad = [...w.bad.values()].at(-1)
    if (w.cut) {
      const now = this.#now()
      if (w.waitUntil === undefined) {
        w.waitUntil = now + (this.#o.retryWindowMs ?? 5000)
        const timer = setTimeout(() => this.#evaluate(w), w.waitUntil - now + 1)
        ;(timer as unknown as { unref?: () => void }).unref?.()
        return
      }
      if (now < w.waitUntil) return
      return this.#finish(w, { ok: false, code: 'UNAVAILABLE', message: 'the transfer was cut and no member that has the blob came back' })
    }
    if (lastBad !== undefined) return this.#finish(w, { ok: false, ...lastBad })
    this.#finish(w, { ok: false, code: 'NOT_FOUND', message: 'no connected member has the blob' })
  }

  async #sendWants(): Promise<void> {
    this.#assignScheduled = false
    const batches = [...this.#toAssign]
    this.#toAssign.clear()
    let partials: Map<BlobHash, number>
    try {
      partials = new Map((await this.#o.store.partials()).map((p) => [p.list.hash, p.received]))
    } catch (error) {
      this.#log.warn('listing partials failed; fetching from the start', { error: messageOf(error) })
      partials = new Map()
    }
    const peers = this.#peers()
    for (const [device, ws] of batches) {
      const port = peers.get(device)
      const live = ws.filter((w) => w.outcome === undefined && w.assigned === device)
      if (port === undefined) {
        for (const w of live) {
          w.assigned = undefined
          this.#evaluate(w)
        }
        continue
      }
      for (let i = 0; i < live.length; i += MAX_BLOB_HASHES) {
        const part = live.slice(i, i + MAX_BLOB_HASHES)
        const items = part.map((w) => {
          const held = partials.get(w.hash) ?? 0
          // Resuming inside the first chunk would leave `validateHead` without the head: start over.
          return { w, from: this.#o.validateHead !== undefined && held < CHUNK_SIZE ? 0 : held }
        })
        const id = this.#id()
        const request: Request = { id, device, port, items, current: undefined, chain: Promise.resolve(), lastActivity: this.#now(), done: false, owed: 0 }
        const wire: BlobWantItem[] = items.map((it) => ({ hash: it.w.hash, from: it.from }))
        this.#requests.set(id, request)
        if (!port.sendBlob(device, { type: 'want', id, items: wire, credit: CHUNK_SIZE })) {
          this.#abandon(request, { cut: true, cancel: false })
          continue
        }
        this.counts.wants++
      }
    }
  }

  // ---- receiver: the stream ------------------------------------------------------------------

  #onReceiverMessage(device: DeviceId, m: BlobMessage): void {
    if (m.type === 'have') {
      const q = this.#queries.get(m.id)
      if (q !== undefined && q.device === device) this.#queryDone(q, m.hashes)
      return
    }
    const r = this.#requests.get(m.id)
    if (r === undefined || r.device !== device || r.done) return
    // The provider streams one request at a time: the others queued behind it are not stalled.
    const now = this.#now()
    for (const other of this.#requests.values()) if (other.device === device) other.lastActivity = now
    r.chain = r.chain.then(
      () => this.#onStream(r, m),
      () => {},
    )
  }

  async #onStream(r: Request, m: BlobMessage): Promise<void> {
    if (r.done) return
    try {
      switch (m.type) {
        case 'header':
          return await this.#onHeader(r, m)
        case 'data':
          return await this.#onData(r, m)
        case 'end':
          return await this.#onEnd(r, m)
        case 'refuse': {
          const item = r.items.find((it) => it.w.hash === m.hash)
          if (item === undefined || r.current !== undefined) return await this.#badItem(r, r.current?.w, { code: 'BAD_STREAM', message: 'a refuse for an item not asked or mid-blob' })
          r.items.splice(r.items.indexOf(item), 1)
          item.w.bad.set(r.device, { code: m.code, message: m.message })
          item.w.assigned = undefined
          this.#evaluate(item.w)
          return this.#maybeDone(r)
        }
      }
    } catch (error) {
      this.#log.warn('blob stream failed', { error: messageOf(error), deviceId: r.device })
      await this.#badItem(r, r.current?.w, { code: codeOf(error, 'INTERNAL'), message: messageOf(error) })
    }
  }

  async #onHeader(r: Request, m: Extract<BlobMessage, { type: 'header' }>): Promise<void> {
    const item = r.items[0]
    if (item === undefined || item.w.hash !== m.hash || r.current !== undefined) return this.#badItem(r, r.current?.w ?? item?.w, { code: 'BAD_STREAM', message: 'a header out of order' })
    const w = item.w
    const list: ChunkList = { hash: m.hash, size: m.size, chunkSize: m.chunkSize, chunks: m.chunks }
    try {
      checkChunkList(list, this.#o.maxBlobBytes())
    } catch (error) {
      // TOO_LARGE (the limit here) or BAD_CHUNK_LIST (not chunked at CHUNK_SIZE).
      const code = codeOf(error, 'BAD_CHUNK_LIST')
      if (code === 'TOO_LARGE') this.#overLimit.set(m.hash, m.size)
      return this.#badItem(r, w, { code, message: messageOf(error) })
    }
    if (item.from > list.size) return this.#badItem(r, w, { code: 'BAD_HEADER', message: 'the blob is shorter than what is held of it' })
    if (item.from === 0 && list.size > 0 && list.size <= CHUNK_SIZE) return this.#onSmallHeader(r, w, list)
    let incoming: IncomingBlob
    try {
      incoming = await this.#o.store.receive(list)
      if (incoming.received !== item.from && item.from === 0) {
        await incoming.discard()
        incoming = await this.#o.store.receive(list)
      }
    } catch (error) {
      if (codeOf(error, '') === 'ALREADY_STORED') {
        r.items.shift()
        this.#finish(w, { ok: true })
        // What it still sends of this blob is skipped (and credited back).
        r.current = { w, list, incoming: undefined, memory: undefined, offset: item.from, head: undefined, headEnd: 0 }
        return
      }
      return this.#badItem(r, w, { code: 'BAD_HEADER', message: messageOf(error) })
    }
    r.items.shift()
    const headEnd = Math.min(list.size, CHUNK_SIZE)
    r.current = { w, list, incoming, memory: undefined, offset: item.from, head: this.#o.validateHead !== undefined && item.from < headEnd ? [] : undefined, headEnd }
    if (incoming.received !== item.from) {
      // The kept partial is for another point than the want said: ask again from where it is.
      return this.#badItem(r, w, { code: 'RESTART', message: 'the partial moved' }, { bad: false })
    }
    this.#started(w, list, incoming.received)
  }

  /**
   * A blob of one chunk, from its start: no partial on disk. Its pieces are held (at most one
   * chunk, credited back as they come) and stored at its end by one `put` checked against the
   * hash — the chunk check and the whole-blob check at once, and a third of the file operations.
   */
  async #onSmallHeader(r: Request, w: Wanted, list: ChunkList): Promise<void> {
    if (list.chunks[0] !== list.hash) return this.#badItem(r, w, { code: 'BAD_CHUNK_LIST', message: "a one-chunk blob's chunk hash must be its own hash" })
    r.items.shift()
    // Not asked of the store again: `fetch` found it missing, and a `put` of what is already there is a no-op.
    r.current = { w, list, incoming: undefined, memory: [], offset: 0, head: undefined, headEnd: 0 }
    this.#started(w, list, 0)
  }

  #started(w: Wanted, list: ChunkList, received: number): void {
    w.size = list.size
    w.received = received
    w.receivedAtStart = received
    w.startedAt = this.#now()
    if (!this.#batch.sized.has(w.hash)) {
      this.#batch.sized.add(w.hash)
      this.#batch.total += list.size
      this.#batch.done += received
    }
    this.#emitProgress(true)
  }

  async #onData(r: Request, m: Extract<BlobMessage, { type: 'data' }>): Promise<void> {
    const c = r.current
    if (c === undefined || c.w.hash !== m.hash || m.offset !== c.offset || m.offset + m.bytes.length > c.list.size) {
      return this.#badItem(r, c?.w ?? r.items[0]?.w, { code: 'BAD_STREAM', message: 'a data piece out of order or past the end' })
    }
    const n = m.bytes.length
    c.offset += n
    if (c.memory !== undefined) {
      c.memory.push(m.bytes)
      this.counts.bytesReceived += n
      this.#batch.done += n
      c.w.received = c.offset
      this.#credit(r, n)
      this.#emitProgress(false)
      return
    }
    if (c.incoming === undefined) {
      this.#credit(r, n)
      return
    }
    try {
      await c.incoming.append(m.offset, m.bytes)
    } catch (error) {
      // CHUNK_MISMATCH: the store dropped the chunk's bytes; this copy is bad, the partial stays.
      return this.#badItem(r, c.w, { code: codeOf(error, 'APPEND_FAILED'), message: messageOf(error) })
    }
    this.counts.bytesReceived += n
    this.#batch.done += n
    c.w.received = c.incoming.received
    if (c.head !== undefined) {
      c.head.push(m.bytes)
      if (c.offset >= c.headEnd && !(await this.#checkHead(r, c))) return
    }
    this.#credit(r, n)
    this.#emitProgress(false)
  }

  /**
   * Gives `n` bytes of window back, once {@link CREDIT_BATCH} are owed: a batch of 50 KB logos
   * cost a credit message (sealed, written, opened) per logo. The provider stalls only when the
   * whole window is owed, which is more than a batch, so a batch is always sent before it would.
   */
  #credit(r: Request, n: number): void {
    r.owed += n
    if (r.owed < CREDIT_BATCH) return
    r.port.sendBlob(r.device, { type: 'credit', id: r.id, bytes: r.owed })
    r.owed = 0
  }

  /** Runs `validateHead` on the collected first chunk; false when it refused (handled). */
  async #checkHead(r: Request, c: Current): Promise<boolean> {
    const parts = c.head ?? []
    c.head = undefined
    const head = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
    let at = 0
    for (const p of parts) {
      head.set(p, at)
      at += p.length
    }
    try {
      this.#o.validateHead?.(head.subarray(0, c.headEnd), c.list)
      return true
    } catch (error) {
      await c.incoming?.discard().catch(() => {})
      c.incoming = undefined
      await this.#badItem(r, c.w, { code: codeOf(error, 'REFUSED'), message: messageOf(error) })
      return false
    }
  }

  async #onEnd(r: Request, m: Extract<BlobMessage, { type: 'end' }>): Promise<void> {
    const c = r.current
    if (c === undefined || c.w.hash !== m.hash) return this.#badItem(r, c?.w, { code: 'BAD_STREAM', message: 'an end out of order' })
    if (c.incoming === undefined && c.memory === undefined) {
      r.current = undefined
      return this.#maybeDone(r)
    }
    if (c.offset < c.list.size) return this.#badItem(r, c.w, { code: 'INCOMPLETE', message: `the provider ended at ${c.offset} of ${c.list.size} bytes` })
    if (c.head !== undefined && !(await this.#checkHead(r, c))) return
    // The stream goes on to the next blob while this one is made durable (bounded: MAX_COMMITS).
    r.current = undefined
    const commit = this.#commit(r, c)
    this.#commits.add(commit)
    void commit.finally(() => this.#commits.delete(commit))
    this.#maybeDone(r)
    if (this.#commits.size >= MAX_COMMITS) await Promise.race(this.#commits)
  }

  /**
   * Makes a fully received blob durable and finishes it. A copy that does not verify (a lying
   * chunk list, or a one-chunk blob whose bytes are not its hash) makes this provider bad for it
   * and sends it back to the decision function; the rest of the request is not disturbed.
   */
  async #commit(r: Request, c: Current): Promise<void> {
    let failure: Failure | undefined
    try {
      if (c.memory !== undefined) {
        const bytes = c.memory.length === 1 ? c.memory[0]! : concatAll(c.memory)
        c.memory = undefined
        this.#o.validateHead?.(bytes, c.list)
        await this.#o.store.put(bytes, c.list.hash)
      } else await c.incoming!.commit()
    } catch (error) {
      const code = codeOf(error, 'COMMIT_FAILED')
      // BLOB_MISMATCH from a file commit: the chunk list was a lie and the store discarded the
      // partial. From a one-chunk put: its one chunk failed its hash, and nothing was stored.
      failure = { code: code === 'BLOB_MISMATCH' && c.incoming === undefined ? 'CHUNK_MISMATCH' : code, message: messageOf(error) }
    }
    if (failure === undefined) return this.#finish(c.w, { ok: true })
    c.w.bad.set(r.device, failure)
    this.#log.warn('blob copy refused', { hash: c.w.hash, deviceId: r.device, code: failure.code, message: failure.message })
    c.w.assigned = undefined
    this.#evaluate(c.w)
    this.#emitProgress(true)
  }

  /**
   * One item of `r` failed: the provider is bad for that blob (unless `bad: false`), the request is
   * cancelled, and every unfinished item goes back to the decision function (the rest of the batch
   * to the same provider, in a new want).
   */
  async #badItem(r: Request, w: Wanted | undefined, failure: Failure, o: { bad?: boolean } = {}): Promise<void> {
    if (w !== undefined && o.bad !== false) {
      w.bad.set(r.device, failure)
      this.#log.warn('blob copy refused', { hash: w.hash, deviceId: r.device, code: failure.code, message: failure.message })
    }
    this.#abandon(r, { cut: false, cancel: true }, w)
    return Promise.resolve()
  }

  /** Stops `r` (telling the provider unless the link is gone) and re-decides its unfinished blobs; partials are kept. */
  #abandon(r: Request, o: { cut: boolean; cancel: boolean }, failed?: Wanted): void {
    if (r.done) return
    r.done = true
    this.#requests.delete(r.id)
    if (o.cancel) r.port.sendBlob(r.device, { type: 'cancel', id: r.id })
    const c = r.current
    r.current = undefined
    const incoming = c?.incoming
    const ws = [...new Set([...(failed !== undefined ? [failed] : []), ...(c !== undefined ? [c.w] : []), ...r.items.map((it) => it.w)])]
    r.items = []
    const chain = r.chain
    void (async () => {
      // After what is being handled now (an append in progress), so the partial is closed once.
      await chain
      if (incoming !== undefined) await incoming.close().catch((error: unknown) => this.#log.warn('closing a partial failed', { error: messageOf(error) }))
      for (const w of ws) {
        if (w.outcome !== undefined) continue
        if (o.cut) w.cut = true
        w.assigned = undefined
        this.#evaluate(w)
      }
      this.#emitProgress(true)
    })()
  }

  #maybeDone(r: Request): void {
    if (r.items.length > 0 || r.current !== undefined) return
    r.done = true
    this.#requests.delete(r.id)
  }

  #checkStalls(stallMs: number): void {
    const now = this.#now()
    for (const r of [...this.#requests.values()]) {
      if (now - r.lastActivity < stallMs) continue
      void this.#badItem(r, r.current?.w ?? r.items[0]?.w, { code: 'STALLED', message: `nothing received for ${stallMs} ms` })
    }
  }

  #finish(w: Wanted, outcome: NonNullable<Wanted['outcome']>): void {
    if (w.outcome !== undefined) return
    w.outcome = outcome
    this.#wanted.delete(w.hash)
    if (outcome.ok) this.#completed++
    else {
      this.#failed.push({ hash: w.hash, reason: `${outcome.code}: ${outcome.message}` })
      if (this.#failed.length > MAX_FAILED) this.#failed.shift()
    }
    for (const resolve of w.waiters.splice(0)) resolve()
    if (this.#wanted.size === 0) this.#batch = { total: 0, done: 0, sized: new Set() }
    this.#emitProgress(true)
  }

  #emitProgress(force: boolean): void {
    if (this.#listeners.size === 0) return
    const now = this.#now()
    if (!force && now - this.#lastProgress < PROGRESS_EVERY_MS) return
    this.#lastProgress = now
    const p = this.progress()
    for (const l of [...this.#listeners]) {
      try {
        l(p)
      } catch (error) {
        this.#log.warn('progress listener threw', { error: messageOf(error) })
      }
    }
  }

  #id(): number {
    const id = this.#nextId
    this.#nextId = this.#nextId >= MAX_BLOB_REQUEST_ID ? 1 : this.#nextId + 1
    return id
  }

  // ---- provider ------------------------------------------------------------------------------

  #receive(port: BlobPort, device: DeviceId, m: BlobMessage): void {
    if (this.#closed) return
    // The link authorized the envelope; membership is re-checked here for every message.
    if (!this.#o.isMember(device)) {
      this.#log.warn('blob message from a non-member dropped', { deviceId: device, type: m.type })
      return
    }
    switch (m.type) {
      case 'query':
        return void this.#onQuery(port, device, m)
      case 'want':
        return this.#onWant(port, device, m)
      case 'credit': {
        const s = this.#session(port, device, false)
        if (s === undefined || !s.credits.has(m.id)) return
        s.credits.set(m.id, s.credits.get(m.id)! + m.bytes)
        return this.#wake(s)
      }
      case 'cancel': {
        const s = this.#session(port, device, false)
        if (s === undefined) return
        s.queue = s.queue.filter((it) => it.id !== m.id)
        s.credits.delete(m.id)
        return this.#wake(s)
      }
      default:
        return this.#onReceiverMessage(device, m)
    }
  }

  async #onQuery(port: BlobPort, device: DeviceId, m: Extract<BlobMessage, { type: 'query' }>): Promise<void> {
    const held = async (hash: BlobHash): Promise<boolean> => {
      try {
        return (await this.#o.isReferenced(hash)) && (await this.#o.store.has(hash))
      } catch (error) {
        this.#log.warn('answering a query failed for one hash', { hash, error: messageOf(error) })
        return false
      }
    }
    // A batch of logos asks for hundreds at once: the store is asked QUERY_PARALLEL at a time, not one by one.
    const have: BlobHash[] = []
    for (let at = 0; at < m.hashes.length; at += QUERY_PARALLEL) {
      const part = m.hashes.slice(at, at + QUERY_PARALLEL)
      const found = await Promise.all(part.map(held))
      part.forEach((hash, i) => found[i] && have.push(hash))
    }
    if (!this.#closed && this.#o.isMember(device)) port.sendBlob(device, { type: 'have', id: m.id, hashes: have })
  }

  #session(port: BlobPort, device: DeviceId, create: boolean): Serving | undefined {
    let sessions = this.#serving.get(port)
    if (sessions === undefined) {
      if (!create) return undefined
      sessions = new Map()
      this.#serving.set(port, sessions)
    }
    let s = sessions.get(device)
    if (s === undefined && create) {
      s = { port, device, queue: [], credits: new Map(), current: undefined, running: undefined, wake: undefined, gone: false }
      sessions.set(device, s)
    }
    return s
  }

  #onWant(port: BlobPort, device: DeviceId, m: Extract<BlobMessage, { type: 'want' }>): void {
    const s = this.#session(port, device, true)!
    const max = this.#o.maxQueuedWants ?? 1024
    s.credits.set(m.id, (s.credits.get(m.id) ?? 0) + m.credit)
    for (const item of m.items) {
      if (s.queue.length >= max) port.sendBlob(device, { type: 'refuse', id: m.id, hash: item.hash, code: 'BUSY', message: `more than ${max} blobs queued for this device` })
      else s.queue.push({ id: m.id, hash: item.hash, from: item.from })
    }
    this.#startServing(s)
    this.#wake(s)
  }

  #startServing(s: Serving): void {
    if (s.running !== undefined) return
    s.running = this.#serve(s).finally(() => {
      s.running = undefined
      if (s.queue.length > 0 && !s.gone && !this.#closed) this.#startServing(s)
    })
  }

  #wake(s: Serving): void {
    const wake = s.wake
    s.wake = undefined
    wake?.()
  }

  #endServing(s: Serving): void {
    s.gone = true
    s.queue = []
    s.credits.clear()
    this.#serving.get(s.port)?.delete(s.device)
    this.#wake(s)
  }

  /**
   * One stream per link at a time: the queued items in order. While one item streams, the next
   * {@link PREPARE_AHEAD} are prepared (their checks, chunk lists and first blocks read), so that
   * a batch of small logos does not wait on the store between blobs.
   */
  async #serve(s: Serving): Promise<void> {
    const ahead = new Map<QueuedWant, Promise<Prepared>>()
    const prepareAhead = (): void => {
      const next = new Set(s.queue.slice(0, PREPARE_AHEAD))
      // Items cancelled meanwhile: their reads are dropped.
      for (const it of ahead.keys()) if (!next.has(it)) ahead.delete(it)
      for (const it of next) {
        if (ahead.has(it)) continue
        const prepared = this.#prepare(s, it)
        prepared.catch(() => undefined)
        ahead.set(it, prepared)
      }
    }
    while (s.queue.length > 0 && !s.gone && !this.#closed) {
      const item = s.queue.shift()!
      const prepared = ahead.get(item) ?? this.#prepare(s, item)
      ahead.delete(item)
      s.current = item.id
      try {
        const p = await prepared
        if (!this.#o.isMember(s.device)) return this.#endServing(s)
        if (!s.gone && !this.#closed) prepareAhead()
        if ('refuse' in p) this.#send(s, { type: 'refuse', id: item.id, hash: item.hash, code: p.refuse, message: p.message })
        else await this.#stream(s, item, p)
      } catch (error) {
        this.#log.warn('serving a blob failed', { hash: item.hash, deviceId: s.device, error: messageOf(error) })
        this.#send(s, { type: 'refuse', id: item.id, hash: item.hash, code: 'NOT_FOUND', message: 'the blob could not be read here' })
      }
      s.current = undefined
      if (!s.queue.some((it) => it.id === item.id)) s.credits.delete(item.id)
    }
  }

  #send(s: Serving, m: BlobMessage): boolean {
    if (s.gone || this.#closed) return false
    const ok = s.port.sendBlob(s.device, m)
    if (!ok) this.#endServing(s)
    return ok
  }

  /** The checks of one queued item and its first block: what to refuse, or what to stream. */
  async #prepare(s: Serving, item: QueuedWant): Promise<Prepared> {
    const { hash } = item
    // Checked again before the stream starts; this spares a non-member's read.
    if (!this.#o.isMember(s.device)) return { refuse: 'NOT_MEMBER', message: 'not a member of this workspace' }
    if (!(await this.#o.isReferenced(hash))) return { refuse: 'NOT_REFERENCED', message: 'this workspace does not reference the blob' }
    const list = await this.#o.store.chunks(hash)
    if (list === undefined) return { refuse: 'NOT_FOUND', message: 'the blob is not stored here' }
    const max = this.#o.maxBlobBytes()
    if (list.size > max) return { refuse: 'TOO_LARGE', message: `the blob is ${list.size} bytes, the limit here is ${max}` }
    if (item.from > list.size) return { refuse: 'BAD_OFFSET', message: `from ${item.from} is past the blob's ${list.size} bytes` }
    return { list, first: item.from < list.size ? await this.#readBlock(hash, list, item.from) : undefined }
  }

  /** The rest of the chunk that `at` falls in: one store read per chunk, not one per piece. */
  async #readBlock(hash: BlobHash, list: ChunkList, at: number): Promise<Block> {
    const want = Math.min(list.size - at, list.chunkSize - (at % list.chunkSize))
    const bytes = await this.#o.store.read(hash, at, want)
    if (bytes.length !== want) throw new WireError(`read ${bytes.length} of ${want} bytes at ${at}`, { code: 'SHORT_READ' })
    return { at, bytes }
  }

  async #stream(s: Serving, item: QueuedWant, p: { list: ChunkList; first: Block | undefined }): Promise<void> {
    const { id, hash } = item
    const { list } = p
    if (!s.credits.has(id)) return // cancelled while queued
    if (!this.#send(s, { type: 'header', id, hash, size: list.size, chunkSize: list.chunkSize, chunks: list.chunks })) return
    const key = `${s.device} ${hash}`
    let offset = item.from
    // At most two blocks per stream: the one being sent, and the next one read ahead of it.
    let block = p.first
    let next = block !== undefined && block.at + block.bytes.length < list.size ? this.#readBlock(hash, list, block.at + block.bytes.length) : undefined
    next?.catch(() => undefined)
    while (offset < list.size) {
      let credit = s.credits.get(id)
      if (credit === undefined || s.gone || this.#closed) return
      if (credit <= 0) {
        await new Promise<void>((resolve) => (s.wake = resolve))
        continue
      }
      if (block === undefined || offset >= block.at + block.bytes.length) {
        block = await (next ?? this.#readBlock(hash, list, offset))
        const end = block.at + block.bytes.length
        next = end < list.size ? this.#readBlock(hash, list, end) : undefined
        next?.catch(() => undefined)
      }
      // A piece never crosses a chunk boundary (a resumed stream may start inside a chunk).
      const n = Math.min(PIECE_SIZE, credit, block.at + block.bytes.length - offset)
      const bytes = block.bytes.subarray(offset - block.at, offset - block.at + n)
      credit = s.credits.get(id)
      if (credit === undefined || s.gone || this.#closed) return
      if (!this.#send(s, { type: 'data', id, hash, offset, bytes })) return
      s.credits.set(id, credit - n)
      this.counts.bytesServed += n
      const upTo = this.#servedUpTo.get(key) ?? 0
      if (offset < upTo) {
        this.counts.piecesResent++
        this.counts.bytesResent += Math.min(upTo, offset + n) - offset
      }
      this.#servedUpTo.set(key, Math.max(upTo, offset + n))
      offset += n
    }
    this.#send(s, { type: 'end', id, hash })
  }
}

function newWanted(hash: BlobHash): Wanted {
  return {
    hash,
    providers: new Set(),
    asked: new Set(),
    bad: new Map(),
    assigned: undefined,
    cut: false,
    waitUntil: undefined,
    size: undefined,
    received: 0,
    startedAt: 0,
    receivedAtStart: 0,
    outcome: undefined,
    waiters: [],
  }
}

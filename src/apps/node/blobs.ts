/**
 * Images peer to peer, the node's half (docs/architecture.md, "Images"; the wire is
 * docs/protocol/blobs.md): one blob exchange over every link this device has — the LAN
 * transport's blob port and each WebRTC link's — that fetches every blob the workspace references
 * and this device lacks:
 *
 * - after a document sync completes (a session of any tier ends, or the projection shows new
 *   logos: a live LAN link has no session end),
 * - when a member's link comes up (so the blobs a QR import left pending arrive with the next live
 *   session), and
 * - before a one-shot WebRTC session closes (its link is gone after).
 *
 * What it does is in the sync store's blob slice (`state.blobs`), which the CLI and the web UI read.
 * The size limit is the data dir's config `blobs.maxBytes` (default 10 MB): larger blobs are
 * neither accepted by `--logo` nor fetched.
 */
import { ValidationError } from '../../core/errors.js'
import { parseBlobHash, type BlobHash, type DeviceId } from '../../core/ids.js'
import { silentLogger, type Logger } from '../../core/log.js'
import { DEFAULT_MAX_BLOB_BYTES, type BlobStat, type BlobStore, type ChunkList } from '../../core/blobs/port.js'
import type { BlobExchange, BlobExchangeCounts, BlobExchangeOptions, BlobFetchResult, BlobProgress } from '../../core/blobs/exchange.js'
import type { BlobPort } from '../../core/blobs/protocol.js'
import type { SyncStore } from '../../core/sync/store.js'
import type { BlobSyncState } from '../../core/sync/types.js'
import { BlobStateStore, referencedBlobs, type ConfigStore, type OrbitDatabase } from '../../adapters/storage-sqlite/index.js'
import { blobManifest } from '../../core/blobs/manifest.js'
import { inspectImage } from '../../core/blobs/image.js'

/** The config key of the largest blob this device accepts, in bytes. */
export const BLOB_LIMIT_KEY = 'blobs.maxBytes'
/** Smallest limit `orbit blobs limit` accepts (a logo is rarely below a few KB). */
export const MIN_BLOB_LIMIT = 1024
/** Largest limit `orbit blobs limit` accepts, 4 GiB. */
export const MAX_BLOB_LIMIT = 4 * 1024 * 1024 * 1024

// ---- the exchange's seam (src/core/blobs/exchange.ts, docs/protocol/blobs.md "Wire protocol") ----

/** The progress the exchange reports. */
export type NodeBlobProgress = BlobProgress
/** What one fetch got and what it could not. */
export type NodeBlobFetchResult = BlobFetchResult
/** What the node builds its exchange with (the store is the device's). */
export type NodeBlobExchangeOptions = Omit<BlobExchangeOptions, 'store'>

/** The store parts the node reads (the blob-store port's, src/core/blobs/port.ts). */
export interface NodeBlobStore {
  stat(hash: BlobHash): Promise<BlobStat | undefined>
  get(hash: BlobHash): Promise<Uint8Array | undefined>
}

// ---- what `orbit blobs` shows ---------------------------------------------------------------------

/** Where a referenced blob is used. */
export interface BlobUse {
  kind: 'contact' | 'org'
  id: string
  name: string
  /** A deleted (restorable) record still references its logo. */
  deleted: boolean
}

/** One referenced blob in `orbit blobs`. */
export interface BlobItem {
  hash: BlobHash
  /** `present`: stored here; `fetching`: a transfer runs; `missing`: neither (see `reason`). */
  state: 'present' | 'fetching' | 'missing'
  /** Bytes, when known (stored here, or the transfer's header said). */
  size?: number
  /** With `fetching`: bytes kept so far, from whom, how fast, how long still. */
  received?: number
  from?: DeviceId
  fromName?: string
  bytesPerSecond?: number
  etaMs?: number
  /** With `missing`: why it is not here (the last fetch's failure, or that no member is connected). */
  reason?: string
  /** With `present` and a `hash` query: what the image is (from its first bytes). */
  image?: { type: string; width?: number; height?: number }
  usedBy: BlobUse[]
}

/** `orbit blobs`: the workspace's images and what this device holds of them. */
export interface BlobStatus {
  /** The limit (config `blobs.maxBytes`). */
  maxBytes: number
  referenced: number
  present: number
  missing: number
  /** Bytes of the referenced blobs stored here. */
  bytesPresent: number
  /** Whether this answer comes from a running node (which fetches); false in-process (nothing fetches). */
  live: boolean
  /** Members with a link that carries blobs now. */
  providers: Array<{ deviceId: DeviceId; name: string }>
  items: BlobItem[]
  progress: NodeBlobProgress
  /** The exchange's counters since the node started (requests sent, bytes served, bytes a cut link made it send again), when live. */
  counts?: BlobExchangeCounts
}

/** What `orbit sync` adds to its report: the images fetched after the documents synced. */
export interface SyncBlobs {
  fetched: number
  failed: number
  /** Each failure, when any. */
  failures?: NodeBlobFetchResult['failed']
}

/** A `blobs` query: one hash only (with its image's type and dimensions). */
export interface BlobQuery {
  hash?: string
}

/** Stats asked of the store at once when counting what is present. */
const STAT_BATCH = 64
const EMPTY_PROGRESS: NodeBlobProgress = { transfers: [], queued: 0, completed: 0, failed: [], bytesTotal: 0, bytesDone: 0, etaMs: undefined }

/**
 * Every blob the workspace references, with where: the listing projection's `$.logo` of contacts
 * and organizations, deleted rows included (a restorable record keeps its logo).
 */
export function referencedBlobUses(db: OrbitDatabase): Map<BlobHash, BlobUse[]> {
  const rows = db.sqlite
    .prepare(
      `SELECT kind, id, deleted, json_extract(json, '$.logo') AS logo, json_extract(json, '$.name') AS name
         FROM entity_index WHERE json_extract(json, '$.logo') IS NOT NULL`,
    )
    .all() as Array<{ kind: string; id: string; deleted: number; logo: unknown; name: unknown }>
  const out = new Map<BlobHash, BlobUse[]>()
  for (const r of rows) {
    if (typeof r.logo !== 'string' || !/^[0-9a-f]{64}$/.test(r.logo)) continue
    const hash = r.logo as BlobHash
    const use: BlobUse = { kind: r.kind === 'org' ? 'org' : 'contact', id: r.id, name: typeof r.name === 'string' ? r.name : '', deleted: r.deleted !== 0 }
    const list = out.get(hash)
    if (list === undefined) out.set(hash, [use])
    else list.push(use)
  }
  return out
}

/** The blob limit of a data dir (config `blobs.maxBytes`), default {@link DEFAULT_MAX_BLOB_BYTES}. */
export function readBlobLimit(config: Pick<ConfigStore, 'get'>): number {
  const v = config.get(BLOB_LIMIT_KEY)
  return typeof v === 'number' && Number.isInteger(v) && v >= MIN_BLOB_LIMIT && v <= MAX_BLOB_LIMIT ? v : DEFAULT_MAX_BLOB_BYTES
}

/**
 * Sets the blob limit (bytes, a whole number from 1 KiB to 4 GiB).
 * @throws ValidationError field `maxBytes` for anything else (nothing written).
 */
export function writeBlobLimit(config: Pick<ConfigStore, 'set'>, maxBytes: number): number {
  if (!Number.isInteger(maxBytes) || maxBytes < MIN_BLOB_LIMIT || maxBytes > MAX_BLOB_LIMIT) {
    throw new ValidationError(`the blob limit must be a whole number of bytes from ${MIN_BLOB_LIMIT} (1 KB) to ${MAX_BLOB_LIMIT} (4 GB)`, { field: 'maxBytes' })
  }
  config.set(BLOB_LIMIT_KEY, maxBytes)
  return maxBytes
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3 }

/**
 * A size as people type it: `20MB`, `512 KB`, `1.5GB`, `10485760` (units are binary: 1 MB = 1 MiB,
 * as the default limit "10 MB" is 10 × 1024 × 1024 bytes).
 * @throws ValidationError field `size` for anything else.
 */
export function parseSize(text: string, field = 'size'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text)
  const unit = m === null ? undefined : SIZE_UNITS[m[2]!.toLowerCase()]
  if (m === null || unit === undefined) throw new ValidationError(`${field}: "${text}" is not a size (e.g. 20MB, 512KB, 10485760)`, { field })
  return Math.round(Number(m[1]) * unit)
}

/** The image's type and dimensions from its first bytes, when it is one this build reads. */
export type ImageInspector = (head: Uint8Array) => { type: string; width?: number; height?: number } | undefined

/** The type and dimensions from the image's header (src/core/blobs/image.ts); undefined when it decodes as none. */
export const defaultInspector: ImageInspector = (head) => {
  try {
    return inspectImage(head, 'blob')
  } catch {
    return undefined
  }
}

/** The device parts {@link blobStatusOn} reads. */
export interface BlobStatusDevice {
  db: OrbitDatabase
  config: Pick<ConfigStore, 'get'>
  blobs: NodeBlobStore
  workspace: { listDevices(): Array<{ id: string; name: string }> }
}

/**
 * `orbit blobs` over an open device: what the workspace references and which of those are here.
 * A running node passes its exchange's progress and providers; without one (in-process) nothing
 * is fetching and every missing blob says so.
 * @throws ValidationError field `hash` for a malformed `query.hash`.
 */
export async function blobStatusOn(
  device: BlobStatusDevice,
  query: BlobQuery = {},
  live?: { progress: NodeBlobProgress; providers: DeviceId[]; counts?: BlobExchangeCounts },
  inspect: ImageInspector = defaultInspector,
): Promise<BlobStatus> {
  const only = query.hash === undefined ? undefined : parseBlobHash(query.hash, 'hash')
  const uses = referencedBlobUses(device.db)
  const names = new Map(device.workspace.listDevices().map((d) => [d.id, d.name]))
  const progress = live?.progress ?? EMPTY_PROGRESS
  const transfers = new Map(progress.transfers.map((t) => [t.hash, t]))
  const failed = new Map(progress.failed.map((f) => [f.hash, f.reason]))
  const providers = (live?.providers ?? []).map((id) => ({ deviceId: id, name: names.get(id) ?? '' }))
  const items: BlobItem[] = []
  let present = 0
  let bytesPresent = 0
  for (const [hash, usedBy] of uses) {
    const stat = await device.blobs.stat(hash)
    if (stat !== undefined) {
      present++
      bytesPresent += stat.size
    }
    if (only !== undefined && hash !== only) continue
    const item: BlobItem = { hash, state: 'missing', usedBy }
    const t = transfers.get(hash)
    if (stat !== undefined) {
      item.state = 'present'
      item.size = stat.size
      if (only !== undefined) {
        const bytes = await device.blobs.get(hash)
        const image = bytes === undefined ? undefined : inspect(bytes.subarray(0, 1024 * 1024))
        if (image !== undefined) item.image = image
      }
    } else if (t !== undefined) {
      Object.assign(item, { state: 'fetching', size: t.size, received: t.received, from: t.from, fromName: names.get(t.from) ?? '', bytesPerSecond: t.bytesPerSecond })
      if (t.etaMs !== undefined) item.etaMs = t.etaMs
    } else {
      item.reason =
        failed.get(hash) ??
        (live === undefined
          ? 'orbit serve is not running here: nothing fetches (start `orbit serve`, or `orbit sync DEVICE`)'
          : providers.length === 0
            ? 'no connected member has it (no member with a live link)'
            : 'not fetched yet')
    }
    items.push(item)
  }
  return {
    maxBytes: readBlobLimit(device.config),
    referenced: uses.size,
    present,
    missing: uses.size - present,
    bytesPresent,
    live: live !== undefined,
    providers,
    items,
    progress,
    ...(live?.counts === undefined ? {} : { counts: { ...live.counts } }),
  }
}

// ---- the node's blobs -------------------------------------------------------------------------------

/** A link host that carries blobs (a WebRTC link's adapter). */
export interface BlobLink {
  blobPort(): BlobPort
}

export interface NodeBlobsOptions {
  device: BlobStatusDevice & {
    config: Pick<ConfigStore, 'get' | 'set'>
    /** Flushes and projects (the manifest is read from the projection). */
    flush(): Promise<void>
    workspace: BlobStatusDevice['workspace'] & {
      onContactsChanged(listener: (e: { shard: number; ids: readonly string[] }) => void): () => void
      onRootChanged(listener: () => void): () => void
    }
  }
  store: SyncStore
  isMember(id: DeviceId): boolean
  /** Builds the exchange (src/core/blobs/exchange.ts); without one, nothing is fetched or served. */
  createExchange?: (options: NodeBlobExchangeOptions) => BlobExchange
  /** The blob ports of the node's hosts (the LAN transport's). */
  ports?: BlobPort[]
  /** Checks a blob's first bytes before it is fetched whole (throw = refuse). */
  validateHead?: (head: Uint8Array, list: ChunkList) => void
  inspect?: ImageInspector
  /**
   * GC (docs/protocol/blobs.md, the GC rule): the device's whole blob store, when each other
   * member last finished a document sync with this device, the grace period (default 7 days) and
   * how often the sweep runs (default hourly; 0 = only when `sweep()` is called).
   */
  gc?: { store: BlobStore; memberSyncs: () => ReadonlyMap<DeviceId, number | undefined>; graceMs?: number; everyMs?: number }
  /** How long after a change the automatic fetch runs (coalescing a burst of changes). */
  debounceMs?: number
  /**
   * Retry delays (ms) after a fetch left blobs missing while members are connected: a member may
   * get the blob later (C links only B, B is still fetching it from A). Default 1 s doubling to 60 s.
   */
  retryMs?: { firstMs: number; maxMs: number }
  logger?: Logger
  now?: () => number
}

/** The blob side of a WebRTC session: fetch before the link closes; detach when it did. */
export interface SessionBlobs {
  /** Fetches what this device lacks over every link (this one included); resolves when done. */
  fetch(): Promise<NodeBlobFetchResult>
  /** Resolves once this node has served no blob bytes for a second (a peer fetching from us is done). */
  settle(): Promise<void>
  detach(): void
}

/**
 * The node's images: the exchange, the automatic fetching, the manifest and the status.
 *
 * @example
 * const blobs = new NodeBlobs({ device, store, isMember, createExchange: (o) => new BlobExchange({ ...o, store: device.blobs }), ports: [lan.tcp.blobPort()] })
 * blobs.start()
 * await blobs.fetchMissing()   // { fetched, failed }
 * const status = await blobs.status()
 */
export class NodeBlobs {
  readonly exchange: BlobExchange | undefined
  readonly #o: NodeBlobsOptions
  readonly #log: Logger
  readonly #ports = new Set<BlobPort>()
  readonly #off: Array<() => void> = []
  #referenced = new Set<BlobHash>()
  #readAt = 0
  #running: Promise<NodeBlobFetchResult> | undefined
  #next: Promise<NodeBlobFetchResult> | undefined
  /** Every blob fetched so far, in order (what {@link fetchedSince} reads). */
  readonly #fetchedLog: BlobHash[] = []
  #timer: ReturnType<typeof setTimeout> | undefined
  #retry: ReturnType<typeof setTimeout> | undefined
  #sweeper: ReturnType<typeof setInterval> | undefined
  #retryDelay = 0
  #closed = false
  /** Fetches that ran, with what each got (tests and the bench read it). */
  fetches = 0

  constructor(options: NodeBlobsOptions) {
    this.#o = options
    this.#log = (options.logger ?? silentLogger).forComponent('orbit:blobs')
    this.exchange = options.createExchange?.({
      isMember: options.isMember,
      isReferenced: (hash) => this.isReferenced(hash),
      maxBlobBytes: () => this.maxBytes(),
      ...(options.validateHead === undefined ? {} : { validateHead: options.validateHead }),
      logger: options.logger ?? silentLogger,
      ...(options.now === undefined ? {} : { now: options.now }),
    })
    for (const port of options.ports ?? []) this.#addPort(port)
  }

  /** Starts following the workspace (new logos) and the links (a member came online). Idempotent. */
  start(): void {
    if (this.#off.length > 0 || this.#closed) return
    this.refreshReferenced()
    const ws = this.#o.device.workspace
    this.#off.push(
      ws.onContactsChanged(() => this.schedule()),
      ws.onRootChanged(() => this.schedule()),
    )
    if (this.exchange !== undefined) {
      this.#off.push(this.exchange.onProgress((p) => this.#o.store.getState().setBlobs(p)))
    }
    // A session that ended (any tier: a WebRTC or QR session, a LAN link's row) may have brought references.
    let last = this.#o.store.getState().recentSessions[0]
    this.#off.push(
      this.#o.store.subscribe((s) => {
        const newest = s.recentSessions[0]
        if (newest !== last) {
          last = newest
          if (newest?.status === 'completed') this.schedule()
        }
      }),
    )
    const every = this.#o.gc?.everyMs ?? 3_600_000
    if (this.#o.gc !== undefined && every > 0) {
      this.#sweeper = setInterval(() => void this.sweep().catch((error: unknown) => this.#log.warn('blob sweep failed', { error: String(error) })), every)
      this.#sweeper.unref?.()
    }
    this.schedule()
  }

  /**
   * One GC sweep: marks blobs that stopped being referenced, unmarks ones referenced again, and
   * deletes those collectable under the GC rule (unreferenced for the grace period, and every
   * member synced with us since). Resolves with what it deleted; nothing without `gc`.
   */
  async sweep(now: number = (this.#o.now ?? Date.now)()): Promise<BlobHash[]> {
    const gc = this.#o.gc
    if (gc === undefined || this.#closed) return []
    const state = new BlobStateStore(this.#o.device.db)
    const manifest = blobManifest({
      referenced: referencedBlobs(this.#o.device.db),
      present: await gc.store.list(),
      partials: await gc.store.partials(),
      now,
      unreferencedSince: state.unreferencedSince(),
      memberSyncs: gc.memberSyncs(),
      graceMs: gc.graceMs ?? 7 * 24 * 3_600_000,
    })
    state.apply(manifest.state, now)
    for (const hash of manifest.collectable) await gc.store.delete(hash)
    if (manifest.collectable.length > 0) {
      state.unmark(manifest.collectable)
      this.#log.info('unreferenced blobs collected', { count: manifest.collectable.length })
    }
    return manifest.collectable
  }

  /** The limit (config `blobs.maxBytes`, default 10 MB). */
  maxBytes(): number {
    return readBlobLimit(this.#o.device.config)
  }

  /** Sets the limit; with no argument, reads it. @throws ValidationError `maxBytes`. */
  limit(maxBytes?: number): number {
    return maxBytes === undefined ? this.maxBytes() : writeBlobLimit(this.#o.device.config, maxBytes)
  }

  /**
   * Whether the workspace references `hash`: the last projection read, re-read on a miss (at most
   * every 100 ms: a burst of queries for unreferenced hashes reads once).
   */
  isReferenced(hash: BlobHash): boolean {
    if (this.#referenced.has(hash)) return true
    const now = Date.now()
    if (now - this.#readAt >= 100) this.refreshReferenced()
    return this.#referenced.has(hash)
  }

  /** Re-reads what the workspace references from the projection. */
  refreshReferenced(): Set<BlobHash> {
    this.#readAt = Date.now()
    this.#referenced = referencedBlobs(this.#o.device.db)
    return this.#referenced
  }

  /** Members with a link that carries blobs now. */
  providers(): DeviceId[] {
    const out = new Set<DeviceId>()
    for (const port of this.#ports) for (const id of port.blobPeers()) if (this.#o.isMember(id)) out.add(id)
    return [...out]
  }

  /** Serves and fetches over a link's blob port too; the returned function removes it. */
  addPort(port: BlobPort): () => void {
    return this.#addPort(port)
  }

  /**
   * The blob side of one WebRTC link (a session's or a kept one's): its port joins the exchange
   * until `detach`. A peer whose link does not speak blobs is simply not among its blob peers.
   */
  attachLink(link: BlobLink): SessionBlobs {
    const off = this.#addPort(link.blobPort())
    return { fetch: () => this.fetchMissing(), settle: () => this.#servedSettled(), detach: off }
  }

  async #servedSettled(quietMs = 1000): Promise<void> {
    if (this.exchange === undefined) return
    let served = this.exchange.counts.bytesServed
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, quietMs))
      const now = this.exchange.counts.bytesServed
      if (now === served || this.#closed) return
      served = now
    }
  }

  /** A mark for {@link fetchedSince}: how many blobs were fetched so far. */
  fetchedMark(): number {
    return this.#fetchedLog.length
  }

  /**
   * The blobs fetched since `mark`, by any fetch (an automatic one started by a link coming up may
   * get them before the one a caller waits for).
   */
  fetchedSince(mark: number): BlobHash[] {
    return [...new Set(this.#fetchedLog.slice(mark))]
  }

  /** Runs {@link fetchMissing} soon (coalescing bursts of changes); errors are logged. */
  schedule(): void {
    if (this.#closed || this.exchange === undefined) return
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.fetchMissing().catch((error: unknown) => this.#log.warn('automatic blob fetch failed', { error: String(error) }))
    }, this.#o.debounceMs ?? 100)
    this.#timer.unref?.()
  }

  /**
   * Fetches every blob the workspace references and this device lacks, from the connected members
   * that have it. One fetch runs at a time; a call while one runs gets the next one (which sees
   * what the running one could not).
   */
  fetchMissing(): Promise<NodeBlobFetchResult> {
    if (this.#next !== undefined) return this.#next
    if (this.#running === undefined) return this.#start()
    const next = this.#running.catch(() => undefined).then(() => {
      this.#next = undefined
      return this.#start()
    })
    this.#next = next
    return next
  }

  #start(): Promise<NodeBlobFetchResult> {
    const run = this.#fetchOnce().finally(() => {
      if (this.#running === run) this.#running = undefined
    })
    this.#running = run
    return run
  }

  async #fetchOnce(): Promise<NodeBlobFetchResult> {
    this.fetches++
    await this.#o.device.flush()
    const referenced = this.refreshReferenced()
    const missing = await this.#missing(referenced)
    this.#publishCounts(referenced.size - missing.length)
    if (missing.length === 0 || this.#closed) return { fetched: [], failed: [] }
    if (this.exchange === undefined) {
      return { fetched: [], failed: missing.map((hash) => ({ hash, code: 'NO_EXCHANGE', message: 'this node does not exchange blobs' })) }
    }
    if (this.providers().length === 0) {
      const failed = missing.map((hash) => ({ hash, code: 'NO_PEER', message: 'no connected member has it (no member with a live link)' }))
      this.#o.store.getState().setBlobs({ failed: failed.map((f) => ({ hash: f.hash, reason: f.message })) })
      return { fetched: [], failed }
    }
    const result = await this.exchange.fetch(missing)
    this.#fetchedLog.push(...result.fetched)
    if (result.fetched.length > 0) this.#log.info('blobs fetched', { count: result.fetched.length })
    await this.publish()
    this.#retryLater(result.failed.length > 0)
    return result
  }

  /** Evidence-driven where it can be (a sync, a link); a retry only while something is still missing and members are linked. */
  #retryLater(missing: boolean): void {
    if (this.#retry !== undefined) clearTimeout(this.#retry)
    this.#retry = undefined
    const { firstMs, maxMs } = this.#o.retryMs ?? { firstMs: 1000, maxMs: 60_000 }
    if (!missing || this.#closed) {
      this.#retryDelay = 0
      return
    }
    this.#retryDelay = this.#retryDelay === 0 ? firstMs : Math.min(maxMs, this.#retryDelay * 2)
    this.#retry = setTimeout(() => {
      this.#retry = undefined
      if (this.providers().length > 0) this.schedule()
    }, this.#retryDelay)
    this.#retry.unref?.()
  }

  /** Puts the manifest counts into the sync store. */
  async publish(): Promise<void> {
    this.#publishCounts(this.#referenced.size - (await this.#missing(this.#referenced)).length)
  }

  #publishCounts(present: number): void {
    const counts: Partial<BlobSyncState> = { referenced: this.#referenced.size, present, missing: this.#referenced.size - present }
    this.#o.store.getState().setBlobs(counts)
  }

  /** The hashes of `hashes` not in the store, asked of it a batch at a time (a stat each, in parallel). */
  async #missing(hashes: Iterable<BlobHash>): Promise<BlobHash[]> {
    const all = [...hashes]
    const missing: BlobHash[] = []
    for (let i = 0; i < all.length; i += STAT_BATCH) {
      const part = all.slice(i, i + STAT_BATCH)
      const present = await Promise.all(part.map(async (h) => (await this.#o.device.blobs.stat(h)) !== undefined))
      part.forEach((h, j) => {
        if (!present[j]) missing.push(h)
      })
    }
    return missing
  }

  /** `orbit blobs` as this node knows it (with what is fetching, from whom). */
  status(query: BlobQuery = {}): Promise<BlobStatus> {
    return blobStatusOn(this.#o.device, query, { progress: this.exchange?.progress() ?? EMPTY_PROGRESS, providers: this.providers(), ...(this.exchange === undefined ? {} : { counts: this.exchange.counts }) }, this.#o.inspect)
  }

  /** Idempotent: stops fetching and serving. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    if (this.#retry !== undefined) clearTimeout(this.#retry)
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper)
    for (const off of this.#off.splice(0)) off()
    await this.#running?.catch(() => undefined)
    await this.exchange?.close()
  }

  #addPort(port: BlobPort): () => void {
    this.#ports.add(port)
    const offExchange = this.exchange?.addPort(port) ?? (() => {})
    // A member came online: fetch what it may have (a QR import's pending blobs among them).
    const offPeers = port.onPeersChanged(() => {
      if (this.providers().length > 0) this.schedule()
    })
    return () => {
      this.#ports.delete(port)
      offPeers()
      offExchange()
    }
  }
}

/**
 * One sync state across tiers: what each peer device is known to hold (its heads, per document),
 * learnt on any tier and persisted through a {@link PeerHeadsPort}, and how that compares with
 * what this device holds now ({@link peerSyncState}: what `orbit peers` and `orbit status` show).
 *
 * Where the knowledge comes from (never guessed):
 * - the Automerge sync protocol (`theirHeads` of each `sync-state` event of the Repo's
 *   synchronizer: the heads the peer says it has), for every document a live session (LAN,
 *   WebRTC) compared. When a session ends in sync, these are our heads for every compared document;
 * - a link's hello summary (the `peer-summary` event): the peer's heads of every document it
 *   summarised, including the ones a session then skips as in sync without loading them;
 * - a QR import: the sender's heads, as the bundle states them.
 * Learnt heads are buffered in memory and written once per ended session (one transaction), or
 * at the latest {@link FLUSH_AFTER_MS} after they were learnt on a link that stays up.
 *
 * Platform-free, and free of Automerge itself (so `orbit status` can answer without loading it):
 * storage is the port; our heads, and whether we hold a peer's, come from injected sources.
 */
import type { PeerId, Repo } from '@automerge/automerge-repo'
import type { SyncMethod } from '../sync/types.js'
import type { DocSummary } from '../link/index.js'

/** What is known of one peer's copy of one document. */
export interface PeerHeadsRecord {
  documentId: string
  /** The peer's heads (sorted hex). */
  heads: string[]
  /** This device's heads when that was learnt (sorted), or undefined when not known (migrated QR entries). */
  ours: string[] | undefined
  /**
   * Whether this device held every one of the peer's heads when that was learnt (it had all the
   * peer had); undefined when that could not be told (the document was not loaded and the heads differed).
   */
  contained?: boolean | undefined
  /** The tier it was learnt on. */
  via: SyncMethod
  /** Epoch ms when it was learnt (0: unknown, a migrated entry). */
  at: number
}

/** Where peer heads are kept (on Node, the SQLite `peer_heads` table). */
export interface PeerHeadsPort {
  /** Everything known of `deviceId`, per document. */
  get(deviceId: string): PeerHeadsRecord[]
  /** Upserts these records of `deviceId` in one transaction. */
  put(deviceId: string, records: readonly PeerHeadsRecord[]): void
}

/** This device's heads of a document without loading it (a loaded handle's, else the `doc_heads` cache's). */
export type OurHeads = (documentId: string) => readonly string[] | undefined

/** A document that is loaded here: its heads, and whether it holds given heads (Automerge `hasHeads`). */
export interface LoadedDoc {
  heads: readonly string[]
  has(heads: readonly string[]): boolean
}

/** How long heads learnt on a link that stays up may wait in memory before they are written. */
export const FLUSH_AFTER_MS = 5_000

const sorted = (heads: readonly string[]): string[] => [...heads].sort()
const same = (a: readonly string[] | undefined, b: readonly string[] | undefined): boolean => {
  if (a === undefined || b === undefined || a.length !== b.length) return false
  const x = sorted(a)
  const y = sorted(b)
  return x.every((h, i) => h === y[i])
}

interface SyncStateEvent {
  documentId: string
  peerId: PeerId
  syncState: { theirHeads: string[] | null }
}

export interface PeerHeadsLearnerOptions {
  port: PeerHeadsPort
  /** The synced documents (the workspace's root and shards); others are not learnt. */
  documentIds: () => readonly string[]
  ours: OurHeads
  /** Whether this device holds every head in `heads` of the document; undefined when it cannot tell without loading it. */
  contains?: (documentId: string, heads: readonly string[]) => boolean | undefined
  /** The device a Repo peer id belongs to (peer ids are device ids on every tier; undefined: not a member). */
  deviceOf?: (peerId: string) => string | undefined
  now?: () => number
  onError?: (error: unknown) => void
}

/**
 * Learns peer heads from a Repo's sync protocol and from hello summaries, and writes them through
 * the port. One per Repo (a node and its in-process API share it).
 *
 * @example
 * const learner = new PeerHeadsLearner({ port, documentIds: () => ids, ours })
 * const off = learner.observe(repo)
 * learner.summary(deviceId, summary, 'local-network')   // on 'peer-summary'
 * learner.flush(deviceId)                              // a session with it ended
 */
export class PeerHeadsLearner {
  readonly #o: PeerHeadsLearnerOptions
  readonly #now: () => number
  /** deviceId -> documentId -> record, not written yet. */
  readonly #pending = new Map<string, Map<string, PeerHeadsRecord>>()
  /** The tier each device's current link is on (set by `linked`; live sync-state events carry none). */
  readonly #via = new Map<string, SyncMethod>()
  #timer: ReturnType<typeof setTimeout> | undefined

  constructor(options: PeerHeadsLearnerOptions) {
    this.#o = options
    this.#now = options.now ?? Date.now
  }

  /** Listens to `repo`'s sync protocol; returns the function that stops it. */
  observe(repo: Repo): () => void {
    const synchronizer = repo.synchronizer as unknown as {
      on(e: 'sync-state', l: (e: SyncStateEvent) => void): void
      off(e: 'sync-state', l: (e: SyncStateEvent) => void): void
    }
    const onEvent = (event: SyncStateEvent): void => {
      if (event.syncState.theirHeads === null) return
      const deviceId = this.#o.deviceOf === undefined ? (event.peerId as string) : this.#o.deviceOf(event.peerId)
      if (deviceId === undefined) return
      const ours = this.#o.ours(event.documentId)
      const contained = this.#o.contains?.(event.documentId, event.syncState.theirHeads)
      this.#learn(deviceId, event.documentId, event.syncState.theirHeads, ours, this.#via.get(deviceId) ?? 'local-network', contained)
    }
    synchronizer.on('sync-state', onEvent)
    return () => synchronizer.off('sync-state', onEvent)
  }

  /** A session with `deviceId` began on `method`: heads learnt live are attributed to it. */
  linked(deviceId: string, method: SyncMethod): void {
    this.#via.set(deviceId, method)
  }

  /** A peer's hello summary: it holds these heads of every document it names. */
  summary(deviceId: string, summary: DocSummary | undefined, via: SyncMethod): void {
    if (summary === undefined) return
    this.#via.set(deviceId, via)
    for (const [documentId, heads] of Object.entries(summary)) {
      if (Array.isArray(heads) && heads.length > 0) this.#learn(deviceId, documentId, heads, this.#o.ours(documentId), via, this.#o.contains?.(documentId, heads))
    }
  }

  /**
   * A peer's heads learnt outside a live link (a QR bundle's sender heads), with this device's heads
   * at that moment; written at once.
   */
  learnt(deviceId: string, heads: Record<string, readonly string[]>, via: SyncMethod, ours: OurHeads = this.#o.ours): void {
    for (const [documentId, h] of Object.entries(heads)) {
      if (h.length > 0) this.#learn(deviceId, documentId, h, ours(documentId), via, this.#o.contains?.(documentId, h))
    }
    this.flush(deviceId)
  }

  /** Writes what was learnt of `deviceId` (all devices when omitted), one transaction per device. */
  flush(deviceId?: string): void {
    const ids = deviceId === undefined ? [...this.#pending.keys()] : [deviceId]
    for (const id of ids) {
      const records = this.#pending.get(id)
      this.#pending.delete(id)
      if (records === undefined || records.size === 0) continue
      try {
        this.#o.port.put(id, [...records.values()])
      } catch (error) {
        this.#o.onError?.(error)
      }
    }
    if (this.#pending.size === 0 && this.#timer !== undefined) {
      clearTimeout(this.#timer)
      this.#timer = undefined
    }
  }

  /** What is known of `deviceId`: the stored records with anything not written yet on top. */
  known(deviceId: string): PeerHeadsRecord[] {
    const byDoc = new Map(this.#o.port.get(deviceId).map((r) => [r.documentId, r]))
    for (const [doc, r] of this.#pending.get(deviceId) ?? []) byDoc.set(doc, r)
    return [...byDoc.values()]
  }

  #learn(deviceId: string, documentId: string, heads: readonly string[], ours: readonly string[] | undefined, via: SyncMethod, contained: boolean | undefined): void {
    if (!this.#o.documentIds().includes(documentId)) return
    let byDoc = this.#pending.get(deviceId)
    if (byDoc === undefined) this.#pending.set(deviceId, (byDoc = new Map()))
    // Equal heads: we held all the peer had, whether or not the document was loaded.
    const held = same(heads, ours) ? true : contained
    byDoc.set(documentId, { documentId, heads: sorted(heads), ours: ours === undefined ? undefined : sorted(ours), via, at: this.#now(), ...(held === undefined ? {} : { contained: held }) })
    if (this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined
        this.flush()
      }, FLUSH_AFTER_MS)
      // A pending flush must not keep a process alive (Node timers have unref; others do not need it).
      ;(this.#timer as { unref?: () => void }).unref?.()
    }
  }
}

/** Per device, how its copy compares with ours. */
export interface PeerSyncState {
  /**
   * - `in-sync`: for every synced document, the peer's known heads equal ours now;
   * - `behind`: the peer lacks changes we hold (in `behind` documents), and holds nothing we lack;
   * - `ahead`: the peer holds changes we lack (in `ahead` documents), and lacks nothing of ours;
   * - `diverged`: both;
   * - `unknown`: nothing is known of it, or every document that differs is undecidable (`unknown`).
   */
  state: 'in-sync' | 'behind' | 'ahead' | 'diverged' | 'unknown'
  /** Documents in which the peer lacks changes this device holds. */
  behind: number
  /** Documents in which the peer holds changes this device lacks. */
  ahead: number
  /** Documents for which nothing is known, or whose relation cannot be decided without loading them. */
  unknown: number
  /** Documents compared. */
  documents: number
  /** The tier of the newest knowledge, and when it was learnt (epoch ms). */
  via?: SyncMethod
  at?: number
}

export interface PeerSyncStateInput {
  documentIds: readonly string[]
  known: readonly PeerHeadsRecord[]
  ours: OurHeads
  /** A loaded document (never loaded for this): with it, the relation is exact (`hasHeads`). */
  loaded?: (documentId: string) => LoadedDoc | undefined
}

/**
 * How a peer's copy compares with ours, per document, from heads only:
 * 1. peer heads = our heads now: in sync;
 * 2. the document is loaded here: exact — it holds every peer head (`hasHeads`): the peer is
 *    behind; it lacks one: the peer is ahead (it may also lack ours: counted once, as ahead);
 * 3. not loaded, and when we learnt the peer's heads we held all of them (`contained`: equal
 *    heads, or `hasHeads` on the document then): changes are only ever added, so we still hold
 *    them and more — the peer is behind;
 * 4. not loaded, we lacked some of them then (`contained` false) and our heads have not moved
 *    since (`ours` then = now): we still lack them — the peer is ahead;
 * 5. otherwise (no knowledge, our heads unknown, or undecidable without loading): unknown.
 */
export function peerSyncState(input: PeerSyncStateInput): PeerSyncState {
  const byDoc = new Map(input.known.map((r) => [r.documentId, r]))
  let behind = 0
  let ahead = 0
  let unknown = 0
  let newest: PeerHeadsRecord | undefined
  for (const id of input.documentIds) {
    const record = byDoc.get(id)
    if (record === undefined) {
      unknown++
      continue
    }
    if (newest === undefined || record.at > newest.at) newest = record
    const loaded = input.loaded?.(id)
    const ours = loaded === undefined ? input.ours(id) : loaded.heads
    if (same(record.heads, ours)) continue
    if (loaded !== undefined) {
      if (loaded.has(record.heads)) behind++
      else ahead++
    } else if (ours !== undefined && (record.contained === true || same(record.heads, record.ours))) behind++
    else if (ours !== undefined && record.contained === false && same(ours, record.ours)) ahead++
    else unknown++
  }
  const documents = input.documentIds.length
  const state: PeerSyncState['state'] =
    newest === undefined
      ? 'unknown'
      : behind > 0 && ahead > 0
        ? 'diverged'
        : behind > 0
          ? 'behind'
          : ahead > 0
            ? 'ahead'
            : unknown > 0
              ? 'unknown'
              : 'in-sync'
  return { state, behind, ahead, unknown, documents, ...(newest === undefined ? {} : { via: newest.via, ...(newest.at > 0 ? { at: newest.at } : {}) }) }
}

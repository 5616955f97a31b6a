/**
 * The blob manifest and its garbage-collection rule (docs/protocol/blobs.md, "Garbage
 * collection"): pure functions over what the workspace references, what the store holds and when
 * each member last synced with this device. The node gathers those facts (SQLite's
 * `referencedBlobs`, `BlobStore.list`/`partials`, `blob_state`, the peer-heads table) and applies
 * the decisions.
 */
import type { DeviceId, BlobHash } from '../ids.js'
import type { BlobStat, ChunkList } from './port.js'

/** Everything {@link blobManifest} decides from. */
export interface BlobManifestInput {
  /**
   * Every hash the workspace references: the `logo` of every contact and organization, **deleted
   * (tombstoned) ones included** — a delete can be undone, and the restored record must find its
   * logo.
   */
  referenced: Iterable<BlobHash>
  /** Every stored blob (`BlobStore.list()`). */
  present: Iterable<BlobStat>
  /** Partials kept for resumption (`BlobStore.partials()`). */
  partials: Iterable<{ list: ChunkList; received: number }>
  /** The clock now, in ms since the epoch. */
  now: number
  /** When each hash was first seen unreferenced here (the `blob_state` table). */
  unreferencedSince: ReadonlyMap<BlobHash, number>
  /**
   * When each other member of the workspace last finished a document sync with this device
   * (`undefined`: never). Every member must be listed; this device is not.
   */
  memberSyncs: ReadonlyMap<DeviceId, number | undefined>
  /** How long a hash stays unreferenced before it may be collected, in ms. */
  graceMs: number
}

/** A referenced blob this device does not hold; `received` bytes of it are kept in a partial. */
export interface MissingBlob {
  hash: BlobHash
  /** From the partial's chunk list; `undefined` when nothing of it was ever offered. */
  size: number | undefined
  received: number
}

/** A held blob (or partial) the workspace no longer references. */
export interface UnreferencedBlob {
  hash: BlobHash
  /** Bytes held: the blob's size, or a partial's received bytes. */
  bytes: number
  /** When it was first seen unreferenced (`undefined`: seen just now, to be marked). */
  since: number | undefined
  /** Why it may not be collected yet; `undefined` when it is collectable. */
  waiting: 'grace' | 'member-not-synced' | undefined
}

/** What {@link blobManifest} answers. Every list is sorted by hash. */
export interface BlobManifest {
  referenced: BlobHash[]
  /** Stored blobs that are referenced. */
  present: BlobStat[]
  missing: MissingBlob[]
  unreferenced: UnreferencedBlob[]
  /** Hashes to delete now (the blob, and a partial if one is kept): {@link isCollectable}. */
  collectable: BlobHash[]
  /** Changes for the `blob_state` table: hashes to mark unreferenced at `now`, marks to drop. */
  state: { mark: BlobHash[]; unmark: BlobHash[] }
  /** Bytes of referenced blobs held, and of referenced blobs missing (known sizes only). */
  bytes: { present: number; missing: number; unreferenced: number }
}

const byHash = <T extends { hash: BlobHash }>(a: T, b: T): number => (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0)
const sortHashes = (hashes: Iterable<BlobHash>): BlobHash[] => [...hashes].sort()

/**
 * The GC rule. A hash unreferenced since `since` may be collected only when
 * 1. it has stayed unreferenced for at least `graceMs`, **and**
 * 2. every member has finished a sync with this device after `since`.
 *
 * Rule 2 is what makes it safe: a member that has not synced since may hold a concurrent edit
 * that references the hash again (an undo of a logo change, a restore), and would then ask for a
 * blob nobody kept. A member that never synced blocks collection until it does.
 */
export function isCollectable(since: number, now: number, graceMs: number, memberSyncs: ReadonlyMap<DeviceId, number | undefined>): 'grace' | 'member-not-synced' | undefined {
  if (now - since < graceMs) return 'grace'
  for (const at of memberSyncs.values()) if (at === undefined || at <= since) return 'member-not-synced'
  return undefined
}

/**
 * Joins what the workspace references with what the store holds.
 * @example
 * const m = blobManifest({ referenced, present: await store.list(), partials: await store.partials(),
 *   now: Date.now(), unreferencedSince, memberSyncs, graceMs: 7 * 86_400_000 })
 * for (const h of m.collectable) await store.delete(h)
 */
export function blobManifest(input: BlobManifestInput): BlobManifest {
  const referenced = new Set(input.referenced)
  const stored = new Map<BlobHash, BlobStat>()
  for (const s of input.present) stored.set(s.hash, s)
  const partials = new Map<BlobHash, { list: ChunkList; received: number }>()
  for (const p of input.partials) partials.set(p.list.hash, p)

  const present = [...stored.values()].filter((s) => referenced.has(s.hash)).sort(byHash)
  const missing: MissingBlob[] = sortHashes([...referenced].filter((h) => !stored.has(h))).map((hash) => {
    const p = partials.get(hash)
    return { hash, size: p?.list.size, received: p?.received ?? 0 }
  })

  const held = new Map<BlobHash, number>()
  for (const [hash, p] of partials) if (!referenced.has(hash)) held.set(hash, p.received)
  for (const [hash, s] of stored) if (!referenced.has(hash)) held.set(hash, s.size)
  const unreferenced: UnreferencedBlob[] = []
  const collectable: BlobHash[] = []
  const mark: BlobHash[] = []
  for (const hash of sortHashes(held.keys())) {
    const since = input.unreferencedSince.get(hash)
    if (since === undefined) mark.push(hash)
    const waiting = since === undefined ? 'grace' : isCollectable(since, input.now, input.graceMs, input.memberSyncs)
    if (waiting === undefined) collectable.push(hash)
    unreferenced.push({ hash, bytes: held.get(hash)!, since, waiting })
  }
  // A mark is dropped when the hash is referenced again or nothing of it is held any more.
  const unmark = sortHashes([...input.unreferencedSince.keys()].filter((h) => referenced.has(h) || !held.has(h)))

  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0)
  return {
    referenced: sortHashes(referenced),
    present,
    missing,
    unreferenced,
    collectable,
    state: { mark, unmark },
    bytes: {
      present: sum(present.map((s) => s.size)),
      missing: sum(missing.map((m) => m.size ?? 0)),
      unreferenced: sum(unreferenced.map((u) => u.bytes)),
    },
  }
}

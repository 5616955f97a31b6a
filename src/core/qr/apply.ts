/**
 * Building a bundle's per-document changes and applying received ones, all-or-nothing.
 * Generic over documents: it knows Automerge, not the CRM model.
 */
import * as Automerge from '@automerge/automerge'
import { sha256 } from '@noble/hashes/sha2.js'
import { QrError } from '../errors.js'
import type { BundleDoc } from './bundle-codec.js'
import { ByteWriter } from './bytes.js'

/** Automerge heads: change hashes, 64 hex characters each. */
export type Heads = string[]

/** A document to offer in a bundle. */
export interface SourceDoc {
  documentId: string
  doc: Automerge.Doc<unknown>
}

/**
 * 8 bytes identifying a set of (document, heads) pairs: SHA-256 over, for each document in
 * documentId order, `str documentId • u8 headCount • heads in sorted order as 32 raw bytes`.
 */
export function unchangedDigest(entries: Array<{ documentId: string; heads: Heads }>): Uint8Array {
  const w = new ByteWriter()
  for (const { documentId, heads } of [...entries].sort((a, b) => (a.documentId < b.documentId ? -1 : a.documentId > b.documentId ? 1 : 0))) {
    w.str(documentId).u8(Math.min(255, heads.length))
    for (const h of [...heads].sort()) {
      for (let i = 0; i < 32; i++) w.u8(parseInt(h.slice(2 * i, 2 * i + 2), 16))
    }
  }
  return sha256(w.finish()).slice(0, 8)
}

/** What {@link collectChanges} found. */
export interface CollectedChanges {
  docs: BundleDoc[]
  /** The documents left out because the receiver has them in full: their count and digest. */
  unchanged: { count: number; digest: Uint8Array }
}

/**
 * What the receiver lacks, per document: `saveSince(doc, knownHeads[id])` — every change since
 * what the receiver is known to have (all of them when `knownHeads` is absent or has no entry for
 * the document), never just the first one. Documents the receiver already has in full are left
 * out, summarised by a digest of their heads. Heads the sender does not itself have (the receiver
 * moved on elsewhere) are ignored, which only makes the bundle larger, never incomplete.
 */
export function collectChanges(docs: SourceDoc[], knownHeads?: Record<string, Heads>): CollectedChanges {
  const out: BundleDoc[] = []
  const same: Array<{ documentId: string; heads: Heads }> = []
  const seen = new Set<string>()
  for (const { documentId, doc } of docs) {
    if (seen.has(documentId)) throw new QrError(`document ${documentId} offered twice`, { code: 'QR_BUNDLE' })
    seen.add(documentId)
    const heads = Automerge.getHeads(doc)
    const known = (knownHeads?.[documentId] ?? []).filter((h) => Automerge.hasHeads(doc, [h]))
    if (known.length === heads.length && heads.every((h) => known.includes(h))) {
      same.push({ documentId, heads })
      continue
    }
    out.push({ documentId, heads, changes: Automerge.saveSince(doc, known) })
  }
  return { docs: out, unchanged: { count: same.length, digest: unchangedDigest(same) } }
}

/** The outcome of one document in {@link applyChanges}. */
export interface AppliedDoc<T = unknown> {
  documentId: string
  /** The document after the bundle (a new object; the caller's document is left untouched). */
  doc: Automerge.Doc<T>
  /** False when the receiver already had everything this bundle holds for it. */
  changed: boolean
  /** True when the receiver did not have this document before. */
  created: boolean
}

export interface ApplyResult<T = unknown> {
  /** `nothing-new`: every change was already here (e.g. a bundle replayed after newer ones). */
  status: 'applied' | 'nothing-new'
  docs: AppliedDoc<T>[]
  /**
   * The sender's heads per document — those in the bundle, plus those it left out as unchanged
   * when their digest matched: pass as `knownHeads` when building the reply.
   */
  senderHeads: Record<string, Heads>
}

/**
 * Applies bundle documents to the receiver's current documents, all or nothing: every document's
 * changes are loaded into a clone first, and the call throws `QrError` (code `QR_APPLY`) before
 * returning anything if one fails to load or depends on changes the receiver lacks. The caller's
 * documents are never mutated; on success it stores the returned ones (those with `changed`).
 *
 * @param current the receiver's document by id, `undefined` when it has none.
 */
export function applyChanges<T = unknown>(
  docs: BundleDoc[],
  current: (documentId: string) => Automerge.Doc<T> | undefined,
  unchanged?: { count: number; digest: Uint8Array; documentIds: string[] },
): ApplyResult<T> {
  const senderHeads: Record<string, Heads> = {}
  if (unchanged !== undefined && unchanged.count > 0) {
    // The sender left out documents whose heads equal what it believed we have. If our current
    // heads of every document not in the bundle hash to its digest, we now know its heads for them.
    const inBundle = new Set(docs.map((d) => d.documentId))
    const mine: Array<{ documentId: string; heads: Heads }> = []
    for (const documentId of unchanged.documentIds) {
      const doc = current(documentId)
      if (!inBundle.has(documentId) && doc !== undefined) mine.push({ documentId, heads: Automerge.getHeads(doc) })
    }
    const digest = unchangedDigest(mine)
    if (mine.length === unchanged.count && digest.every((b, i) => b === unchanged.digest[i])) {
      for (const { documentId, heads } of mine) senderHeads[documentId] = heads
    }
  }
  const out: AppliedDoc<T>[] = []
  for (const item of docs) {
    senderHeads[item.documentId] = item.heads
    const before = current(item.documentId)
    if (before !== undefined && Automerge.hasHeads(before, item.heads)) {
      out.push({ documentId: item.documentId, doc: before, changed: false, created: false })
      continue
    }
    let after: Automerge.Doc<T>
    try {
      after = Automerge.loadIncremental(before === undefined ? Automerge.init<T>() : Automerge.clone(before), item.changes)
    } catch (cause) {
      throw new QrError(`changes for document ${item.documentId} do not load`, { code: 'QR_APPLY', cause })
    }
    if (!Automerge.hasHeads(after, item.heads)) {
      // Automerge queues changes whose dependencies are missing instead of failing: the bundle was
      // built against heads this device does not have. Refuse rather than apply part of it.
      throw new QrError(
        `document ${item.documentId}: the bundle builds on changes this device does not have; ask for a full export`,
        { code: 'QR_APPLY' },
      )
    }
    out.push({ documentId: item.documentId, doc: after, changed: true, created: before === undefined })
  }
  return { status: out.some((d) => d.changed) ? 'applied' : 'nothing-new', docs: out, senderHeads }
}

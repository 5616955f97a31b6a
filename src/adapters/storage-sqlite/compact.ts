/**
 * Compacting a document's stored chunks when a device closes. Kept out of the folder's index (as
 * record-heads.ts is): it needs Automerge, and the CLI's read-only listing path must not load it.
 *
 * automerge-repo compacts a document (one snapshot for all its chunks) once its incrementals are
 * as large as its snapshots, but skips that while another document compacts: the shards a bulk
 * write saves together each keep a near-empty snapshot beside one large incremental, about three
 * times the bytes of the compacted document, which every later load applies change by change
 * (~2.5× the time of loading the snapshot; docs/protocol/storage.md, "Document chunks").
 */
import * as A from '@automerge/automerge'
import type { OrbitDatabase } from './database.js'
import { compactionDue, contentSizes, replaceWithSnapshot } from './doc-chunks.js'
import { readDocGen } from './doc-gen.js'
import { DocHeadsStore, MAX_RECORDED_HEADS } from './doc-heads.js'

/**
 * Replaces the stored chunks of `documentId` with one snapshot of `doc`, in one transaction, when
 * automerge-repo's rule says they are due for compaction and the store provably holds exactly
 * `doc`: its `doc_heads` row, valid at the current generation, equals `doc`'s heads. The content
 * is unchanged, so the generation moves on with the marks that described it: a listing projection
 * clean at the old generation is clean at the new one, and the heads row is rewritten for it.
 * Returns whether it compacted. Call it with no writer of the document running (a device closing,
 * after its Repo was flushed and shut down).
 */
export function compactIfDue(db: OrbitDatabase, documentId: string, doc: A.Doc<unknown>): boolean {
  return db.transaction(() => {
    const { snapshotBytes, incrementalBytes, incrementals } = contentSizes(db, documentId)
    if (incrementals === 0 || !compactionDue(snapshotBytes, incrementalBytes)) return false
    const heads = A.getHeads(doc)
    if (heads.length === 0 || heads.length > MAX_RECORDED_HEADS) return false
    const store = new DocHeadsStore(db)
    const recorded = store.heads(documentId)
    const sorted = [...heads].sort()
    if (recorded === undefined || recorded.length !== sorted.length || recorded.some((h, i) => h !== sorted[i])) return false
    const before = readDocGen(db, documentId)
    replaceWithSnapshot(db, documentId, heads, A.save(doc))
    const after = readDocGen(db, documentId)
    db.sqlite.prepare<[number, string, number]>(`UPDATE index_state SET gen = ? WHERE doc_id = ? AND gen = ?`).run(after, documentId, before)
    store.put(documentId, after, heads)
    return true
  })
}

/**
 * Writing `doc_heads` from a Repo's loaded documents. Kept out of the folder's index (and of
 * doc-heads.ts): it needs Automerge, and the CLI's read-only listing path must not load it.
 */
import * as A from '@automerge/automerge'
import type { DocHandle, DocumentId, Repo } from '@automerge/automerge-repo'
import { saveDocument } from './background-saves.js'
import type { OrbitDatabase } from './database.js'
import { readDocGen } from './doc-gen.js'
import { DocHeadsStore, MAX_RECORDED_HEADS } from './doc-heads.js'

const sameHeads = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((h, i) => h === b[i])

/**
 * `repo.flush()`, then records in `doc_heads` the heads of every loaded, ready document among
 * `documentIds` whose stored content is now exactly its in-memory content. Returns how many rows
 * it wrote.
 *
 * Why this is exact: `flush` saves each document as it was when `flush` was called (heads `h0`),
 * so afterwards storage holds at least `h0`; storage never holds more than memory (heads `h1`,
 * read synchronously after the flush, together with the generation). If `h0 = h1`, the stored
 * content at that generation is exactly `h1`. A document that changed during the flush is skipped:
 * its row stays stale until a later flush.
 */
export async function flushAndRecordHeads(repo: Repo, db: OrbitDatabase, documentIds: Iterable<string>, store = new DocHeadsStore(db)): Promise<number> {
  const before = new Map<string, string[]>()
  for (const id of documentIds) {
    const heads = liveHeads(repo, id)
    if (heads !== undefined) before.set(id, heads)
  }
  await flushReady(repo)
  if (db.readonly || !db.sqlite.open) return 0
  // From here on synchronous: the generation and the heads are read at the same moment.
  let written = 0
  db.transaction(() => {
    for (const [id, h0] of before) {
      const h1 = liveHeads(repo, id)
      if (h1 === undefined || !sameHeads(h0, h1) || h1.length > MAX_RECORDED_HEADS) continue
      const gen = readDocGen(db, id)
      // Generation 0: never stored (nothing to describe).
      if (gen === 0) continue
      const previous = store.heads(id)
      if (previous !== undefined && store.recordedGeneration(id) === gen && sameHeads(previous, h1)) continue
      store.put(id, gen, h1)
      written++
    }
  })
  return written
}

/**
 * `repo.flush()` for the ready handles only. automerge-repo's own flush calls `doc()` on every
 * cached handle and rejects with "DocHandle is not ready" on one that is not — a document a peer
 * announced or this device asked for and never got (`unavailable`, still `requesting`) — after
 * which whether the others were written is left to chance. Those hold nothing to write.
 *
 * Saves go through {@link saveDocument}, not `repo.flush`: on a Repo whose background saves are
 * guarded (background-saves.ts) the flush must still reject — with StoreError `DISK_FULL` on a
 * full disk — so that a write is never acknowledged before it is stored.
 */
export async function flushReady(repo: Repo): Promise<void> {
  const ready = Object.values(repo.handles).filter((h) => h.isReady())
  const results = await Promise.allSettled(ready.map((h) => saveDocument(repo, h.documentId, h.doc() as A.Doc<unknown>)))
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (failed !== undefined) throw failed.reason
}

/** The sorted hex heads of a loaded, ready document, or undefined. */
function liveHeads(repo: Repo, documentId: string): string[] | undefined {
  const handle = repo.handles[documentId as DocumentId] as DocHandle<unknown> | undefined
  if (handle === undefined || !handle.isReady()) return undefined
  return [...A.getHeads(handle.doc() as A.Doc<unknown>)].sort()
}

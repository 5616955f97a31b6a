/**
 * automerge-repo's background saves, made failures we can see and retry (docs/architecture.md,
 * "Disk full").
 *
 * The Repo saves a changed document from a timer (`asyncThrottle` in its `Repo.js`) and drops the
 * promise (`void fn(...)`): a save that fails — SQLite's `SQLITE_FULL` on a full disk — is an
 * unhandled rejection, which ends a Node process. Its `flush()` goes through the same
 * `storageSubsystem.saveDoc`. So {@link guardBackgroundSaves} wraps that method on one Repo
 * instance: a failing background save is reported to a listener instead of rejecting, and
 * {@link saveDocument} (what `flushReady` uses) calls the unwrapped method, so a flush still
 * fails loudly to its caller. A failed save leaves the StorageSubsystem's own "last saved heads"
 * untouched (it updates them only after the adapter's `save` resolves), so the next save of that
 * document writes everything since the last one that succeeded: a retry loses nothing.
 *
 * While the store is failing, background saves are skipped (`paused`): each would serialise
 * every change since the last good save — a peer's whole sync, again on every 100 ms throttle
 * tick — only to fail, which starved the sync itself. The retry loop (save-retry.ts) saves it
 * all once, through {@link saveDocument}.
 */
import type { Doc } from '@automerge/automerge'
import type { DocumentId, Repo } from '@automerge/automerge-repo'

type SaveDoc = (documentId: DocumentId, doc: Doc<unknown>) => Promise<void>

/** Told about every failed save of the Repo (background or flush). */
export type SaveFailureListener = (error: unknown, documentId: DocumentId) => void

interface Guard {
  raw: SaveDoc
  listeners: Set<SaveFailureListener>
  paused: Set<() => boolean>
}

const guards = new WeakMap<Repo, Guard>()

/**
 * Makes `repo`'s background saves report failures to `listener` instead of rejecting unhandled,
 * and skips them while `paused()` says so. Idempotent per Repo (more listeners may be added);
 * returns a function that removes `listener` and `paused`.
 */
export function guardBackgroundSaves(repo: Repo, listener: SaveFailureListener, paused: () => boolean = () => false): () => void {
  let guard = guards.get(repo)
  const storage = repo.storageSubsystem
  if (guard === undefined) {
    if (storage === undefined) return () => undefined
    const raw: SaveDoc = storage.saveDoc.bind(storage)
    const made: Guard = { raw, listeners: new Set(), paused: new Set() }
    guard = made
    guards.set(repo, made)
    storage.saveDoc = async (documentId, doc) => {
      for (const p of made.paused) if (p()) return
      try {
        await raw(documentId, doc)
      } catch (error) {
        report(made, error, documentId)
      }
    }
  }
  const g = guard
  g.listeners.add(listener)
  g.paused.add(paused)
  return () => {
    g.listeners.delete(listener)
    g.paused.delete(paused)
  }
}

/** Saves one document the way `repo.flush` would, but rejecting on failure (and reporting it). */
export async function saveDocument(repo: Repo, documentId: DocumentId, doc: Doc<unknown>): Promise<void> {
  const guard = guards.get(repo)
  if (guard === undefined) {
    await repo.storageSubsystem?.saveDoc(documentId, doc)
    return
  }
  try {
    await guard.raw(documentId, doc)
  } catch (error) {
    report(guard, error, documentId)
    throw error
  }
}

function report(guard: Guard, error: unknown, documentId: DocumentId): void {
  for (const l of guard.listeners) {
    try {
      l(error, documentId)
    } catch {
      // A listener's own failure must not turn into the unhandled rejection this avoids.
    }
  }
}

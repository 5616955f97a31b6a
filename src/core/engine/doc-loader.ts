/**
 * Lazy loading for sync: a device tells a peer, in the link's hello, which documents it holds at
 * which heads (its summary), and on the peer's summary loads exactly the documents whose heads
 * differ or that one side lacks. automerge-repo syncs only documents that are loaded on at least
 * one side (a loaded document is announced; a peer loads one when it receives a message for it),
 * so a peer that is already in sync costs neither side a load, and a session counts the documents
 * whose summary heads were equal as in sync without loading them. Why and how: PROTOCOL.md
 * (link hello summary) and docs/protocol/storage.md (`doc_heads`).
 *
 * Platform-free: the heads of unloaded documents come from an injected {@link HeadsSource} (on
 * Node, the SQLite `doc_heads` cache).
 */
import * as A from '@automerge/automerge'
import { parseAutomergeUrl, type AutomergeUrl, type DocHandle, type DocumentId, type PeerId, type Repo } from '@automerge/automerge-repo'
import { silentLogger, type Logger } from '../log.js'
import type { CrmWorkspace } from '../model/workspace.js'

import type { DocSummary } from '../link/index.js'

export type { DocSummary }

/** Bounds of a summary the link layer carries; a document beyond them is left out (and so counts as lacking). */
export const SUMMARY_MAX_DOCUMENTS = 4096
export const SUMMARY_MAX_HEADS = 64

/** Heads known without loading a document: undefined when unknown (never recorded, or changed since). */
export interface HeadsSource {
  heads(documentId: string): readonly string[] | undefined
}

export interface DocLoaderOptions {
  repo: Repo
  /** The documents that are synced (the workspace's root and shards). Read each time, so it may grow. */
  documentIds: () => readonly string[]
  /** Heads of documents that are not loaded (the store's cache). */
  cached: HeadsSource
  /**
   * Loads a document so the Repo syncs it. Default `repo.find`; a workspace passes its own loader so
   * a shard is validated and its changes followed ({@link workspaceDocLoader}).
   */
  load?: (documentId: string) => Promise<unknown>
  logger?: Logger
}

/** What a session compares with the peer: the loaded handles, and how many documents were in sync by summary. */
export interface SessionDocuments {
  /** Handles whose heads the peer must match (by the sync protocol's reports). */
  handles: DocHandle<unknown>[]
  /** Documents not in `handles` because this device's heads equal the peer's summary heads. */
  inSync: number
}

const sorted = (heads: readonly string[]): string[] => [...heads].sort()
const sameHeads = (a: readonly string[], b: readonly string[]): boolean => {
  if (a.length !== b.length) return false
  const x = sorted(a)
  const y = sorted(b)
  return x.every((h, i) => h === y[i])
}

/**
 * Decides, per peer, which documents must be loaded for a sync, from the two devices' summaries.
 *
 * @example
 * const loader = new DocLoader({ repo, documentIds: () => ids, cached: new DocHeadsStore(db) })
 * transport option:  summary: () => loader.summary()
 * on 'peer-summary': void loader.onPeerSummary(peerId, summary)
 * session "in sync": watcher.until(() => loader.sessionDocuments(peerId), peerId, …)
 */
export class DocLoader {
  readonly #repo: Repo
  readonly #ids: () => readonly string[]
  readonly #cached: HeadsSource
  readonly #load: (documentId: string) => Promise<unknown>
  readonly #log: Logger
  /** Each connected peer's summary from its hello (`null`: it sent none, so nothing is known). */
  readonly #summaries = new Map<PeerId, DocSummary | null>()
  readonly #loading = new Map<string, Promise<void>>()

  constructor(options: DocLoaderOptions) {
    this.#repo = options.repo
    this.#ids = options.documentIds
    this.#cached = options.cached
    this.#load = options.load ?? ((id) => this.#repo.find(id as DocumentId))
    this.#log = options.logger ?? silentLogger
  }

  /** This device's heads of `documentId`: live when it is loaded, else the cache's; undefined when unknown. */
  localHeads(documentId: string): string[] | undefined {
    const handle = this.#handle(documentId)
    if (handle !== undefined) return sorted(A.getHeads(handle.doc() as A.Doc<unknown>))
    const cached = this.#cached.heads(documentId)
    return cached === undefined ? undefined : sorted(cached)
  }

  /**
   * The summary for a link's hello: every document whose heads are known without loading it.
   * Unknown documents, and ones beyond the link's bounds, are left out, so the peer treats them
   * as lacking here and sends them (this side then loads them when the first message arrives).
   */
  summary(): DocSummary {
    const out: DocSummary = {}
    let n = 0
    for (const id of this.#ids()) {
      if (n >= SUMMARY_MAX_DOCUMENTS) break
      const heads = this.localHeads(id)
      if (heads === undefined || heads.length === 0 || heads.length > SUMMARY_MAX_HEADS) continue
      out[id] = heads
      n++
    }
    return out
  }

  /**
   * The documents to load for a peer whose summary is `remote` (undefined: it sent none, so all
   * of them): those whose heads differ, that it lacks, or whose heads here are unknown.
   */
  documentsToLoad(remote: DocSummary | undefined): string[] {
    return this.#ids().filter((id) => {
      if (remote === undefined) return true
      const theirs = remote[id]
      const mine = this.localHeads(id)
      return theirs === undefined || mine === undefined || !sameHeads(mine, theirs)
    })
  }

  /**
   * A peer's hello arrived (before the Repo hears of the peer): remember its summary and load the
   * documents {@link documentsToLoad} names. Resolves with their ids once they are loaded (a
   * failed load is logged and skipped: the peer may still send that document).
   */
  async onPeerSummary(peerId: PeerId, remote: DocSummary | undefined): Promise<string[]> {
    this.#summaries.set(peerId, remote ?? null)
    const wanted = this.documentsToLoad(remote)
    this.#log.debug('peer summary', { peerId, documents: this.#ids().length, loading: wanted.length })
    await Promise.all(wanted.map((id) => this.#ensureLoaded(id)))
    return wanted
  }

  /**
   * Whether the Repo should announce `documentId` to `peerId`: not while this device's heads equal
   * the heads the peer's hello named — it holds exactly this, and announcing would make it load
   * the document only to agree. Once the heads here move on, they differ, and the document is
   * announced (see {@link gateAnnouncements}).
   */
  shouldAnnounce(peerId: PeerId, documentId: string): boolean {
    const theirs = this.#summaries.get(peerId)?.[documentId]
    if (theirs === undefined) return true
    const mine = this.localHeads(documentId)
    return mine === undefined || !sameHeads(mine, theirs)
  }

  /**
   * Narrows the Repo's current `announce` policy by {@link shouldAnnounce} (set it after the
   * sharing policy itself), and has the Repo re-evaluate what it shares each time one of these
   * documents is saved (its heads changed; the Repo saves every change within its 100 ms
   * debounce), so a document that was in sync by summary and then
   * changed is announced. automerge-repo keeps syncing a document with a peer that sent messages
   * for it, whatever `announce` says. Returns a function that undoes both.
   */
  gateAnnouncements(): () => void {
    const repo = this.#repo
    const base = repo.shareConfig
    repo.shareConfig = {
      announce: async (peerId, documentId) => (await base.announce(peerId, documentId)) && (documentId === undefined || this.shouldAnnounce(peerId, documentId)),
      access: base.access,
    }
    let scheduled = false
    const onMetrics = (metrics: { type: string; documentId?: string }) => {
      // A save is an incremental chunk or, when the Repo compacts, a whole snapshot.
      if ((metrics.type !== 'doc-saved' && metrics.type !== 'doc-compacted') || scheduled || this.#summaries.size === 0) return
      if (metrics.documentId === undefined || !this.#ids().includes(metrics.documentId)) return
      scheduled = true
      queueMicrotask(() => {
        scheduled = false
        repo.shareConfigChanged()
      })
    }
    repo.on('doc-metrics', onMetrics as never)
    return () => {
      repo.off('doc-metrics', onMetrics as never)
      repo.shareConfig = base
    }
  }

  /** Forget a peer's summary (its link closed; a new link brings a new hello). */
  forget(peerId: PeerId): void {
    this.#summaries.delete(peerId)
  }

  /**
   * What a session with `peerId` must check, without loading documents that are in sync by
   * summary: a document counts as in sync when this device's current heads equal the heads the
   * peer's hello named (a later change on either side loads it there, and the Repo then syncs it).
   * Any other document is loaded (if it is not yet) and returned, for the caller to compare with
   * what the peer reports over the sync protocol.
   */
  async sessionDocuments(peerId: PeerId): Promise<SessionDocuments> {
    const remote = this.#summaries.get(peerId) ?? undefined
    const handles: DocHandle<unknown>[] = []
    let inSync = 0
    for (const id of this.#ids()) {
      const theirs = remote?.[id]
      const mine = this.localHeads(id)
      if (theirs !== undefined && mine !== undefined && sameHeads(mine, theirs)) {
        inSync++
        continue
      }
      await this.#ensureLoaded(id)
      const handle = this.#handle(id)
      if (handle !== undefined) handles.push(handle)
    }
    return { handles, inSync }
  }

  #handle(documentId: string): DocHandle<unknown> | undefined {
    const handle = this.#repo.handles[documentId as DocumentId] as DocHandle<unknown> | undefined
    return handle !== undefined && handle.isReady() ? handle : undefined
  }

  #ensureLoaded(documentId: string): Promise<void> {
    if (this.#handle(documentId) !== undefined) return Promise.resolve()
    let pending = this.#loading.get(documentId)
    if (pending === undefined) {
      pending = this.#load(documentId)
        .then(
          () => undefined,
          (error: unknown) => this.#log.info('document not loaded for sync', { documentId, error: String(error) }),
        )
        .finally(() => this.#loading.delete(documentId))
      this.#loading.set(documentId, pending)
    }
    return pending
  }
}

/**
 * A {@link DocLoader} for a workspace: its root and shards, a shard loaded through
 * `workspace.shardHandle` (validated, and its changes reported to the listing projection).
 */
export function workspaceDocLoader(repo: Repo, workspace: CrmWorkspace, cached: HeadsSource, logger?: Logger): DocLoader {
  const docId = (url: string): string => parseAutomergeUrl(url as AutomergeUrl).documentId
  const rootId = docId(workspace.rootUrl)
  const shardOf = new Map(workspace.shardUrls.map((url, n) => [docId(url), n] as const))
  const ids = [rootId, ...shardOf.keys()]
  return new DocLoader({
    repo,
    documentIds: () => ids,
    cached,
    load: async (id) => {
      const n = shardOf.get(id)
      if (n !== undefined) await workspace.shardHandle(n)
      else if (id !== rootId) await repo.find(id as DocumentId)
    },
    ...(logger === undefined ? {} : { logger }),
  })
}

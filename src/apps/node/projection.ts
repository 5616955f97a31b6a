/**
 * Keeps the SQLite projection (contact and organization listing tables) in step with the CRDT.
 *
 * Invariant: a shard is marked clean at generation `g` only if the projection reflects every change
 * of that document stored up to `g`. We snapshot, in one synchronous step, the pending contact ids,
 * the document and its stored generation: every in-memory change has already emitted its event (so
 * its ids are pending), and storage never holds more than memory, so the snapshot is complete for
 * `g`. Anything stored later bumps the generation past `g`, which makes the shard dirty again; a
 * crash in between leaves it dirty, and the next full open re-projects it.
 */
import type { AutomergeUrl, DocHandle, Repo } from '@automerge/automerge-repo'
import { parseAutomergeUrl } from '@automerge/automerge-repo'
import type { ContactId } from '../../core/ids.js'
import type { Logger } from '../../core/log.js'
import { readContact, readOrg } from '../../core/model/records.js'
import type { ContactShardDoc, RootDoc } from '../../core/model/types.js'
import type { CrmWorkspace } from '../../core/model/workspace.js'
import { ORG_SHARD, readDocGen, type ConfigStore, type ContactIndex, type OrbitDatabase, type OrgIndex } from '../../adapters/storage-sqlite/index.js'
import { CONFIG_KEYS } from './data-dir.js'

export const docIdOf = (url: AutomergeUrl): string => parseAutomergeUrl(url).documentId

export class IndexProjector {
  readonly #pending = new Map<number, Set<string>>()
  #rootPending = false
  #chain: Promise<void> = Promise.resolve()
  #unsubscribe: (() => void)[] = []
  #failure: unknown

  constructor(
    private readonly db: OrbitDatabase,
    private readonly repo: Repo,
    private readonly workspace: CrmWorkspace,
    private readonly contacts: ContactIndex,
    private readonly orgs: OrgIndex,
    private readonly config: ConfigStore,
    private readonly log: Logger,
  ) {}

  /** Start following changes (local and remote) of the root and every loaded shard. */
  start(): void {
    this.#unsubscribe.push(
      this.workspace.onContactsChanged(({ shard, ids }) => {
        let set = this.#pending.get(shard)
        if (set === undefined) this.#pending.set(shard, (set = new Set()))
        for (const id of ids) set.add(id)
        this.#schedule()
      }),
      // Any root change bumps the root's generation, so re-project on all of them (orgs are few).
      this.workspace.onRootChanged(() => {
        this.#rootPending = true
        this.#schedule()
      }),
    )
  }

  /** Re-project every shard (and the organizations) whose projection is not clean. */
  async rebuildDirty(): Promise<number> {
    let rebuilt = 0
    const rootId = docIdOf(this.workspace.rootUrl)
    if (!this.orgs.isClean(ORG_SHARD, rootId)) {
      this.#projectOrgs()
      rebuilt++
    }
    for (let n = 0; n < this.workspace.shardCount; n++) {
      const docId = docIdOf(this.workspace.shardUrls[n] as AutomergeUrl)
      if (this.contacts.isClean(n, docId)) continue
      const handle = await this.workspace.shardHandle(n)
      this.#pending.delete(n)
      this.#projectWholeShard(n, handle, docId)
      rebuilt++
    }
    return rebuilt
  }

  /**
   * Resolves when every change seen so far is stored and projected. A projection that failed
   * (e.g. the store was busy) does not fail the caller: the documents are already durable, and the
   * shard stays stale, so the next open re-projects it. Failing here would make a user retry a
   * change that was in fact saved.
   */
  async settle(): Promise<void> {
    if (this.#pending.size > 0 || this.#rootPending) this.#schedule()
    await this.#chain
  }

  /** The first projection error since start, if any (for diagnostics and tests). */
  get failure(): unknown {
    return this.#failure
  }

  stop(): void {
    for (const u of this.#unsubscribe.splice(0)) u()
  }

  #schedule(): void {
    this.#chain = this.#chain.then(() => this.#drain()).catch((err: unknown) => {
      this.#failure ??= err
      this.log.warn('listing projection failed; the next open re-projects the stale shards', { error: String(err) })
    })
  }

  async #drain(): Promise<void> {
    if (this.#pending.size === 0 && !this.#rootPending) return
    await this.repo.flush()
    // From here to the end: synchronous, so the snapshot is consistent (see module comment).
    if (this.#rootPending) {
      this.#rootPending = false
      this.#projectOrgs()
    }
    const work = [...this.#pending]
    this.#pending.clear()
    this.db.transaction(() => {
      for (const [shard, ids] of work) {
        const url = this.workspace.shardUrls[shard] as AutomergeUrl
        const handle = this.repo.handles[docIdOf(url) as keyof typeof this.repo.handles] as DocHandle<ContactShardDoc> | undefined
        if (handle === undefined) continue
        const docId = docIdOf(url)
        const gen = readDocGen(this.db, docId)
        const contacts = handle.doc().contacts
        const present = []
        const gone: ContactId[] = []
        for (const id of ids) {
          const raw = contacts[id]
          if (raw === undefined) gone.push(id as ContactId)
          else present.push(readContact(raw, { includeDeletedNotes: false }))
        }
        this.contacts.upsertMany(shard, present, { shard, docId, gen })
        if (gone.length > 0) this.contacts.removeIds(gone)
      }
    })
  }

  #projectWholeShard(n: number, handle: DocHandle<ContactShardDoc>, docId: string): void {
    this.db.transaction(() => {
      const gen = readDocGen(this.db, docId)
      const contacts = Object.values(handle.doc().contacts ?? {}).map((raw) => readContact(raw))
      this.contacts.replaceShard(n, contacts, { shard: n, docId, gen })
    })
  }

  #projectOrgs(): void {
    const root: DocHandle<RootDoc> = this.workspace.rootHandle
    const docId = docIdOf(root.url)
    this.db.transaction(() => {
      const gen = readDocGen(this.db, docId)
      const doc = root.doc()
      const orgs = Object.values(doc.orgs ?? {}).map((raw) => readOrg(raw))
      // The fast path shows these without loading the root document.
      this.config.set(CONFIG_KEYS.workspaceName, doc.name)
      this.config.set(CONFIG_KEYS.workspaceId, doc.workspaceId)
      this.config.set(CONFIG_KEYS.deviceCount, Object.keys(doc.devices ?? {}).length)
      this.orgs.replaceShard(ORG_SHARD, orgs, { shard: ORG_SHARD, docId, gen })
    })
  }
}

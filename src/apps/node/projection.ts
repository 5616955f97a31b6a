/**
 * Keeps the SQLite projection (contact and organization listing tables) in step with the CRDT.
 *
 * Invariant: a shard is marked clean at generation `g` only if the projection reflects every change
 * of that document stored up to `g`. We snapshot, in one synchronous step, the pending contact ids,
 * the document and its stored generation: every in-memory change has already emitted its event (so
 * its ids are pending), and storage never holds more than memory, so the snapshot is complete for
 * `g`. Anything stored later bumps the generation past `g`, which makes the shard dirty again; a
 * crash in between leaves it dirty, and the next full open re-projects it.
 *
 * The snapshot is complete only if no pending id is ever dropped: a projection that fails (a full
 * disk, after the change itself was saved) puts its ids back and marks its shards stale, and the
 * next projection of a stale shard is a whole one. Otherwise a later change's projection would
 * mark the shard clean without the failed rows (docs/protocol/storage.md §4).
 *
 * The listing is read from the document's state, not from automerge-repo's materialized document
 * object: Automerge 3.5 can leave that object stale after a batch of remote changes while the
 * state (heads, `toJS`, a fresh load) is right (test/convergence/automerge-known-bugs.test.ts).
 * Materializing from the state costs ~0.1 ms a contact (a change touching 20 contacts: ~2 ms; a
 * whole 10,000-contact shard: ~1 s, against ~20 ms for reading the object), so the whole-shard
 * rebuild at open reads the object when it is safe: the bug needs an object that already showed a
 * value when a batch of changes arrived, and a shard no change has reached since the projector
 * started was materialized from storage in one step. So was a shard that a join received in one
 * update, a first sync into an empty document (test/convergence/automerge-known-bugs.test.ts):
 * the join reads only the others from the state (src/apps/node/join.ts). Contacts that a local
 * change created whole (a bulk import's batch) are projected from the values written, not read back
 * (`ContactsChangedEvent.created`): no change has touched them since, so they are the state.
 */
import { flushReady } from '../../adapters/storage-sqlite/record-heads.js'
import * as A from '@automerge/automerge'
import type { AutomergeUrl, DocHandle, Repo } from '@automerge/automerge-repo'
import { parseAutomergeUrl } from '@automerge/automerge-repo'
import type { ContactId } from '../../core/ids.js'
import type { Logger } from '../../core/log.js'
import { readContact, readOrg } from '../../core/model/records.js'
import type { Contact, ContactShardDoc, RootDoc } from '../../core/model/types.js'
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
  /** Shards a change reached since `start`: their document objects may be stale (module comment). */
  readonly #patched = new Set<number>()
  /**
   * Shards whose last projection failed (a full disk): the next one re-projects them whole. A
   * failed write leaves their rows behind the document while a later projection of a few other
   * ids would mark them clean — the rows of the failed ids would then be missing for good.
   */
  readonly #stale = new Set<number>()
  /**
   * Per shard, contacts a local change created whole and no change has touched since, as written
   * (`ContactsChangedEvent.created`): projected without reading them back from the document.
   * Every change emits the ids it touched before the next projection snapshots the document, so an
   * entry still here is what the document holds.
   */
  readonly #created = new Map<number, Map<string, Contact>>()

  constructor(
    private readonly db: OrbitDatabase,
    private readonly repo: Repo,
    private readonly workspace: CrmWorkspace,
    private readonly contacts: ContactIndex,
    private readonly orgs: OrgIndex,
    private readonly config: ConfigStore,
    private readonly log: Logger,
    /** Told about each failed projection (a full disk), e.g. to retry it. */
    private readonly onError: (error: unknown) => void = () => undefined,
    /** While true (the store is failing), changes stay pending instead of being projected. */
    private readonly paused: () => boolean = () => false,
  ) {}

  /** Start following changes (local and remote) of the root and every loaded shard. */
  start(): void {
    this.#unsubscribe.push(
      this.workspace.onContactsChanged(({ shard, ids, created }) => {
        this.#patched.add(shard)
        let set = this.#pending.get(shard)
        if (set === undefined) this.#pending.set(shard, (set = new Set()))
        for (const id of ids) set.add(id)
        const known = this.#created.get(shard)
        if (known !== undefined) for (const id of ids) known.delete(id)
        if (created !== undefined) {
          let map = known
          if (map === undefined) this.#created.set(shard, (map = new Map()))
          for (const [id, contact] of created) map.set(id, contact)
        }
        this.#schedule()
      }),
      // Any root change bumps the root's generation, so re-project on all of them (orgs are few).
      this.workspace.onRootChanged(() => {
        this.#rootPending = true
        this.#schedule()
      }),
    )
  }

  /**
   * Re-project every shard (and the organizations) whose projection is not clean. `fromState`
   * reads every shard (or those it says true for) from the document's state: for documents that
   * arrived by sync in this process before the projector started (a join), whose objects may be
   * stale (module comment). A document that arrived whole in one update was materialized from
   * nothing in one step, as a load is: its object is right.
   */
  async rebuildDirty(options: { fromState?: boolean | ((shard: number) => boolean) } = {}): Promise<number> {
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
      const fromState = options.fromState
      if (fromState === true || (typeof fromState === 'function' && fromState(n))) this.#patched.add(n)
      // The whole shard covers what was pending for it; on failure, it stays pending and stale.
      const ids = this.#pending.get(n)
      this.#pending.delete(n)
      // Read whole from the document: no written value is needed for this shard any more.
      this.#created.delete(n)
      try {
        this.#projectWholeShard(n, handle, docId)
      } catch (error) {
        this.#unprojected([[n, ids ?? new Set()]])
        throw error
      }
      this.#stale.delete(n)
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
      this.log.warn('listing projection failed; the next open (or the save retry) re-projects the stale shards', { error: String(err) })
      this.onError(err)
    })
  }

  async #drain(): Promise<void> {
    if (this.#pending.size === 0 && !this.#rootPending) return
    // The save retry projects them (its flush settles this chain, then re-projects stale shards).
    if (this.paused()) return
    await flushReady(this.repo)
    // From here to the end: synchronous, so the snapshot is consistent (see module comment).
    if (this.#rootPending) {
      this.#rootPending = false
      try {
        this.#projectOrgs()
      } catch (error) {
        this.#rootPending = true
        throw error
      }
    }
    const work = [...this.#pending]
    this.#pending.clear()
    let projected: number[]
    try {
      projected = this.#projectIds(work)
    } catch (error) {
      // Nothing of it was written (one transaction): keep it all for the next projection.
      this.#unprojected(work)
      throw error
    }
    for (const shard of projected) this.#stale.delete(shard)
    // Projected: their written values are no longer needed.
    for (const [shard, ids] of work) {
      const known = this.#created.get(shard)
      if (known === undefined) continue
      for (const id of ids) known.delete(id)
      if (known.size === 0) this.#created.delete(shard)
    }
  }

  /** `work`'s shards were not projected: their ids stay pending, and they are re-projected whole. */
  #unprojected(work: Iterable<[number, Set<string>]>): void {
    for (const [shard, ids] of work) {
      this.#stale.add(shard)
      const set = this.#pending.get(shard)
      if (set === undefined) this.#pending.set(shard, new Set(ids))
      else for (const id of ids) set.add(id)
    }
  }

  /** Projects the pending `ids` of each shard (a stale shard whole), in one transaction; returns the shards projected. */
  #projectIds(work: readonly [number, Set<string>][]): number[] {
    const projected: number[] = []
    this.db.transaction(() => {
      for (const [shard, ids] of work) {
        const url = this.workspace.shardUrls[shard] as AutomergeUrl
        const handle = this.repo.handles[docIdOf(url) as keyof typeof this.repo.handles] as DocHandle<ContactShardDoc> | undefined
        if (handle === undefined) continue
        const docId = docIdOf(url)
        projected.push(shard)
        if (this.#stale.has(shard)) {
          this.#projectWholeShard(shard, handle, docId)
          continue
        }
        const gen = readDocGen(this.db, docId)
        const known = this.#created.get(shard)
        const present: Contact[] = []
        const unknown: string[] = []
        for (const id of ids) {
          const written = known?.get(id)
          if (written === undefined) unknown.push(id)
          else present.push(readContact(written, { includeDeletedNotes: false }))
        }
        const contacts = contactsState(handle.doc(), unknown.length)
        const gone: ContactId[] = []
        for (const id of unknown) {
          const raw = contacts.get(id)
          if (raw === undefined) gone.push(id as ContactId)
          else present.push(readContact(raw, { includeDeletedNotes: false }))
        }
        this.contacts.upsertMany(shard, present, { shard, docId, gen })
        if (gone.length > 0) this.contacts.removeIds(gone)
      }
    })
    return projected
  }

  #projectWholeShard(n: number, handle: DocHandle<ContactShardDoc>, docId: string): void {
    this.db.transaction(() => {
      const gen = readDocGen(this.db, docId)
      const raws = this.#patched.has(n) ? contactsState(handle.doc()).all() : (handle.doc().contacts ?? {})
      const contacts = Object.values(raws).map((raw) => readContact(raw))
      this.contacts.replaceShard(n, contacts, { shard: n, docId, gen })
    })
  }

  #projectOrgs(): void {
    const root: DocHandle<RootDoc> = this.workspace.rootHandle
    const docId = docIdOf(root.url)
    this.db.transaction(() => {
      const gen = readDocGen(this.db, docId)
      // The document's state, not the materialized object (see the module comment).
      const doc = A.toJS(root.doc())
      const orgs = Object.values(doc.orgs ?? {}).map((raw) => readOrg(raw))
      // The fast path shows these without loading the root document.
      this.config.set(CONFIG_KEYS.workspaceName, doc.name)
      this.config.set(CONFIG_KEYS.workspaceId, doc.workspaceId)
      this.config.set(CONFIG_KEYS.deviceCount, Object.keys(doc.devices ?? {}).length)
      this.orgs.replaceShard(ORG_SHARD, orgs, { shard: ORG_SHARD, docId, gen })
    })
  }
}

/** Reads a shard's contacts from the document's state (see the module comment for why not the object). */
export interface ContactsState {
  /** The contact `id` as the document holds it, or undefined if it has none. */
  get(id: string): unknown
  /** Every contact, by id. */
  all(): Record<string, unknown>
}

/**
 * The contacts of shard document `doc` (the current one of its handle), materialized from its
 * state on demand. `expected`: how many `get`s will follow; past a few hundred, materializing the
 * whole map once is cheaper than one contact at a time.
 */
export function contactsState(doc: A.Doc<ContactShardDoc>, expected = 0): ContactsState {
  const backend = A.getBackend(doc)
  const contacts = backend.getWithType('_root', 'contacts')
  const mapId = contacts?.[0] === 'map' ? (contacts[1] as string) : undefined
  let whole: Record<string, unknown> | undefined
  const all = (): Record<string, unknown> => (whole ??= mapId === undefined ? {} : (backend.materialize(mapId) as Record<string, unknown>))
  return {
    get(id) {
      if (mapId === undefined) return undefined
      if (expected > BULK_READ) return Object.hasOwn(all(), id) ? all()[id] : undefined
      const entry = backend.getWithType(mapId, id)
      if (entry === null) return undefined
      return entry[0] === 'map' ? backend.materialize(entry[1] as string) : entry[1]
    },
    all,
  }
}

/** Past this many contacts read from one shard, one materialization of the whole map is cheaper. */
const BULK_READ = 500

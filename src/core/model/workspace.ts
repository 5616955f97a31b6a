/**
 * The CRM workspace: a typed change API over one root document and N contact shard documents in an
 * automerge-repo `Repo`.
 */
import {
  isValidAutomergeUrl,
  parseAutomergeUrl,
  type AutomergeUrl,
  type DocHandle,
  type DocumentId,
  type Repo,
  type RepoEvents,
} from '@automerge/automerge-repo'
import * as A from '@automerge/automerge'

type DocMetrics = Parameters<RepoEvents['doc-metrics']>[0]
import { StoreError, UnknownIdError, ValidationError } from '../errors.js'
import {
  newContactId,
  newNoteId,
  newOrgId,
  newWorkspaceId,
  parseContactId,
  parseNoteId,
  parseOrgId,
  type ContactId,
  type DeviceId,
  type NoteId,
  type OrgId,
  type WorkspaceId,
} from '../ids.js'
import { silentLogger, type Logger } from '../log.js'
import {
  buildContact,
  buildNote,
  buildOrg,
  byNameThenId,
  readContact,
  readDevice,
  readNote,
  readOrg,
} from './records.js'
import { DEFAULT_SHARD_COUNT, MAX_SHARD_COUNT, shardOf } from './shard.js'
import type { Contact, ContactShardDoc, MemberDevice, Note, Organization, RootDoc } from './types.js'
import {
  parseContactInput,
  parseContactPatch,
  parseMemberDevice,
  parseName,
  parseNoteInput,
  parseOrgInput,
  parseOrgPatch,
} from './validate.js'
import { applyContactPatch, contactIdsTouched, prefixed, rootTouched, type PathPatch } from './patch.js'

/** Whether a change was made through this workspace object or arrived from elsewhere (sync, merge). */
export type ChangeSource = 'local' | 'remote'

/** Contacts touched by one change of one shard document. */
export interface ContactsChangedEvent {
  shard: number
  ids: ContactId[]
  source: ChangeSource
  /**
   * Contacts this (local) change created whole, as written, by id: the document after the change
   * holds exactly these values for them, so a listener need not read them back (a bulk import's
   * listing projection). Absent for every other change.
   */
  created?: ReadonlyMap<ContactId, Contact>
}

/** What one change of the root document touched. */
export interface RootChangedEvent {
  orgs: OrgId[]
  devices: DeviceId[]
  /** Whether workspace-level fields (name, shards) changed. */
  workspace: boolean
  source: ChangeSource
}

/** Membership of a device in the workspace. */
export type MemberStatus = 'member' | 'revoked' | 'unknown'

export interface CreateWorkspaceOptions {
  /** Display name of the workspace. */
  name: string
  /** The device creating the workspace; it becomes the first member. */
  founder: MemberDevice
  /** Number of contact shard documents, fixed for the workspace's life. Default 16. */
  shardCount?: number
  now?: () => number
  logger?: Logger
}

export interface OpenWorkspaceOptions {
  now?: () => number
  signal?: AbortSignal
  logger?: Logger
}

export interface ListContactsOptions {
  includeDeleted?: boolean
  offset?: number
  limit?: number
}

function removedError(kind: string, id: string): UnknownIdError {
  const error = new UnknownIdError(kind, id)
  error.message = `${kind} ${id} is removed; restore it first`
  return error
}

function checkPaging(value: number | undefined, field: string): number | undefined {
  if (value === undefined) return undefined
  if (!Number.isInteger(value) || value < 0) {
    throw new ValidationError(`${field}: expected a non-negative integer`, { field })
  }
  return value
}

/** Options of {@link CrmWorkspace.addContact} and {@link CrmWorkspace.addContacts}. */
export interface AddContactOptions {
  /**
   * The shard the new contacts go to (their ids are drawn to hash there), e.g. one already in
   * memory, so that a write does not load another shard. Default: wherever a random id lands.
   * @throws ValidationError (`shard`) when not 0..shardCount-1.
   */
  shard?: number
}

/** How many ids `addContacts` draws, at most, to land one in a chosen shard (each draw has a 1/shardCount chance). */
const MAX_ID_DRAWS = 4096

/**
 * A CRM workspace on automerge-repo.
 *
 * **Layout.** One small root document (workspace id and name, organizations, member devices,
 * revocations, and the URLs of the contact shards) plus `shardCount` contact shard documents; a
 * contact lives in shard `shardOf(id, shardCount)`. {@link CrmWorkspace.open} loads only the root;
 * a shard is loaded on first use, so editing one contact loads one shard, and each edit re-saves a
 * 1/16th-size document's increment rather than one large document. See docs/model.md for why.
 *
 * **Concurrency.** Two devices that edit the same field concurrently end with the same value:
 * Automerge's deterministic last-writer-wins by operation id (not by wall clock). Tags are a set
 * (a map of tag -> true), so concurrent additions of different tags both survive. Removal is a
 * tombstone (`deletedAt`); a concurrent edit never touches `deletedAt`, so remove wins, and the
 * edited values survive in the tombstone: {@link CrmWorkspace.restoreContact} brings them back.
 * A restore deletes only the `deletedAt` it has seen, so a removal the restoring device had not
 * seen survives the merge (the contact ends removed); two concurrent restores end restored.
 * Device revocation is sticky: it is recorded in an add-only map and is never undone.
 *
 * Every method validates all its input before it changes anything: a call that throws has changed
 * nothing.
 *
 * @example
 * const ws = await CrmWorkspace.create(repo, { name: 'Acme', founder })
 * const c = await ws.addContact({ name: 'Ada', emails: ['ada@example.com'] })
 * await ws.editContact(c.id, { addTags: ['vip'] })
 */
export class CrmWorkspace {
  readonly #repo: Repo
  readonly #root: DocHandle<RootDoc>
  readonly #now: () => number
  readonly #log: Logger
  readonly #shardUrls: readonly AutomergeUrl[]
  readonly #workspaceId: WorkspaceId
  readonly #shards: Array<Promise<DocHandle<ContactShardDoc>> | undefined>
  readonly #contactListeners = new Set<(e: ContactsChangedEvent) => void>()
  readonly #rootListeners = new Set<(e: RootChangedEvent) => void>()
  readonly #detach: Array<() => void> = []
  /** Shard numbers whose handle this workspace listens to, and document id -> shard number. */
  readonly #adopted = new Set<number>()
  readonly #shardOfDoc = new Map<DocumentId, number>()
  // Handle 'change' events fire synchronously inside handle.change(), so a counter tells our own
  // changes apart from ones that arrive by sync or merge.
  #localDepth = 0
  /** The contacts that the local change in progress creates whole (set by addContacts around it). */
  #creating: ReadonlyMap<ContactId, Contact> | undefined

  private constructor(repo: Repo, root: DocHandle<RootDoc>, now: () => number, log: Logger) {
    this.#repo = repo
    this.#root = root
    this.#now = now
    this.#log = log
    const doc = root.doc()
    this.#workspaceId = doc.workspaceId
    this.#shardUrls = [...doc.shards] as AutomergeUrl[]
    this.#shards = this.#shardUrls.map(() => undefined)
    this.#listen(root, () => this.#rootListeners.size > 0, (touched, doc) => this.#emitRoot(touched, doc))
    this.#shardUrls.forEach((url, n) => this.#shardOfDoc.set(parseAutomergeUrl(url).documentId, n))
    // A peer can sync a shard this object never asked for (the repo loads it to answer). The repo
    // reports each received sync message before it applies the result, so listening from here
    // on still sees that change: remote changes are reported for every shard, loaded or not.
    const onMetrics = (metrics: DocMetrics) => {
      if (metrics.type !== 'receive-sync-message') return
      const n = this.#shardOfDoc.get(metrics.documentId)
      if (n === undefined || this.#adopted.has(n)) return
      const handle = this.#repo.handles[metrics.documentId] as DocHandle<ContactShardDoc> | undefined
      if (handle !== undefined) this.#adoptShard(handle, n)
    }
    repo.on('doc-metrics', onMetrics)
    this.#detach.push(() => repo.off('doc-metrics', onMetrics))
  }

  /**
   * Create a new workspace: `shardCount` empty shard documents and a root that lists them, with
   * `founder` as the first member device.
   */
  static async create(repo: Repo, options: CreateWorkspaceOptions): Promise<CrmWorkspace> {
    const name = parseName(options.name)
    const founder = parseMemberDevice(options.founder)
    const shardCount = options.shardCount ?? DEFAULT_SHARD_COUNT
    if (!Number.isInteger(shardCount) || shardCount < 1 || shardCount > MAX_SHARD_COUNT) {
      throw new ValidationError(`shardCount: expected an integer from 1 to ${MAX_SHARD_COUNT}`, {
        field: 'shardCount',
      })
    }
    const now = options.now ?? Date.now
    const workspaceId = newWorkspaceId()
    const shards: DocHandle<ContactShardDoc>[] = []
    for (let shard = 0; shard < shardCount; shard++) {
      shards.push(
        repo.create<ContactShardDoc>({
          type: 'orbit-contacts',
          schemaVersion: 1,
          workspaceId,
          shard,
          contacts: {},
        }),
      )
    }
    const root = repo.create<RootDoc>({
      type: 'orbit-root',
      schemaVersion: 1,
      workspaceId,
      name,
      createdAt: now(),
      shards: shards.map((h) => h.url),
      orgs: {},
      devices: { [founder.id]: founder },
      revocations: {},
    })
    const workspace = new CrmWorkspace(repo, root, now, options.logger ?? silentLogger)
    shards.forEach((handle, n) => {
      workspace.#shards[n] = Promise.resolve(workspace.#adoptShard(handle, n))
    })
    return workspace
  }

  /**
   * Open an existing workspace from its root document URL. Loads only the root; shards load lazily.
   * @throws StoreError when the document is unavailable or is not an Orbit workspace root.
   */
  static async open(repo: Repo, rootUrl: AutomergeUrl, options: OpenWorkspaceOptions = {}): Promise<CrmWorkspace> {
    if (!isValidAutomergeUrl(rootUrl)) {
      throw new ValidationError(`rootUrl: not an Automerge URL: ${JSON.stringify(rootUrl)}`, { field: 'rootUrl' })
    }
    options.signal?.throwIfAborted()
    let root: DocHandle<RootDoc>
    try {
      root = await repo.find<RootDoc>(rootUrl, options.signal ? { signal: options.signal } : {})
    } catch (cause) {
      options.signal?.throwIfAborted()
      throw new StoreError(`workspace root ${rootUrl} could not be loaded`, { code: 'UNAVAILABLE', cause })
    }
    const doc = root.doc() as Partial<RootDoc> | undefined
    if (
      doc?.type !== 'orbit-root' ||
      doc.schemaVersion !== 1 ||
      !Array.isArray(doc.shards) ||
      doc.shards.length === 0 ||
      !doc.shards.every((u) => isValidAutomergeUrl(u))
    ) {
      throw new StoreError(`document ${rootUrl} is not an Orbit workspace root (schema version 1)`, {
        code: 'FOREIGN',
      })
    }
    return new CrmWorkspace(repo, root, options.now ?? Date.now, options.logger ?? silentLogger)
  }

  get rootUrl(): AutomergeUrl {
    return this.#root.url
  }
  get workspaceId(): WorkspaceId {
    return this.#workspaceId
  }
  get name(): string {
    return this.#root.doc().name
  }
  get shardCount(): number {
    return this.#shardUrls.length
  }
  get shardUrls(): readonly AutomergeUrl[] {
    return this.#shardUrls
  }
  get rootHandle(): DocHandle<RootDoc> {
    return this.#root
  }

  /** The shard that holds (or will hold) contact `id`. */
  shardOfContact(id: ContactId): number {
    return shardOf(id, this.shardCount)
  }

  /** Whether shard `n` has been loaded (or is loading) in this workspace object. */
  isShardLoaded(n: number): boolean {
    return this.#shards[n] !== undefined
  }

  /** The handle of shard `n`, loading it on first use. */
  async shardHandle(n: number, signal?: AbortSignal): Promise<DocHandle<ContactShardDoc>> {
    if (!Number.isInteger(n) || n < 0 || n >= this.shardCount) {
      throw new ValidationError(`shard: expected 0..${this.shardCount - 1}, got ${n}`, { field: 'shard' })
    }
    let pending = this.#shards[n]
    if (pending === undefined) {
      pending = this.#loadShard(n, signal)
      this.#shards[n] = pending
      // A failed load must not poison the cache: the next call tries again.
      pending.catch(() => {
        if (this.#shards[n] === pending) this.#shards[n] = undefined
      })
    }
    return pending
  }

  /** Load every shard (e.g. before a full listing, or to observe every shard's remote changes). */
  async loadAllShards(signal?: AbortSignal): Promise<void> {
    await Promise.all(this.#shardUrls.map((_, n) => this.shardHandle(n, signal)))
  }

  /** The root and every shard handle, all loaded. */
  async allHandles(): Promise<DocHandle<unknown>[]> {
    const shards = await Promise.all(this.#shardUrls.map((_, n) => this.shardHandle(n)))
    return [this.#root as DocHandle<unknown>, ...(shards as DocHandle<unknown>[])]
  }

  /** Stop emitting events (detaches from the handles; the repo and documents stay as they are). */
  close(): void {
    for (const detach of this.#detach.splice(0)) detach()
    this.#contactListeners.clear()
    this.#rootListeners.clear()
  }

  // ---------------------------------------------------------------- contacts

  /**
   * Add a contact.
   * @throws ValidationError naming the field; UnknownIdError('organization') for an unknown org.
   */
  async addContact(input: unknown, options: AddContactOptions = {}): Promise<Contact> {
    const [contact] = await this.addContacts([input], options)
    return contact as Contact
  }

  /**
   * Add many contacts with one Automerge change per shard (what a bulk import or a benchmark fixture
   * wants). All inputs are validated first; if any is invalid nothing is added, and the error's
   * `field` is prefixed with the input's index (`[3].emails[0]`) when there is more than one.
   */
  async addContacts(inputs: readonly unknown[], options: AddContactOptions = {}): Promise<Contact[]> {
    const now = this.#now()
    const shard = options.shard
    if (shard !== undefined && (!Number.isInteger(shard) || shard < 0 || shard >= this.shardCount)) {
      throw new ValidationError(`shard: expected 0..${this.shardCount - 1}, got ${shard}`, { field: 'shard' })
    }
    const contacts = inputs.map((raw, index) => {
      const input = inputs.length === 1 ? parseContactInput(raw) : prefixed(index, () => parseContactInput(raw))
      if (input.orgId !== undefined) this.#requireLiveOrg(input.orgId)
      return buildContact(shard === undefined ? newContactId() : this.#newContactIdIn(shard), input, now)
    })
    const byShard = new Map<number, Contact[]>()
    for (const contact of contacts) {
      const n = this.shardOfContact(contact.id)
      let group = byShard.get(n)
      if (group === undefined) byShard.set(n, (group = []))
      group.push(contact)
    }
    const handles = await Promise.all([...byShard.keys()].map(async (n) => [n, await this.shardHandle(n)] as const))
    for (const [n, handle] of handles) {
      const group = byShard.get(n) ?? []
      this.#creating = new Map(group.map((c) => [c.id, c]))
      try {
        this.#change(handle, (doc) => {
          for (const contact of group) doc.contacts[contact.id] = contact
        })
      } finally {
        this.#creating = undefined
      }
    }
    return contacts.map((c) => readContact(c))
  }

  /**
   * A new random contact id that lands in shard `n`: ids are drawn until one hashes there (about
   * `shardCount` draws); after {@link MAX_ID_DRAWS} a plain new id (any shard) is returned.
   */
  #newContactIdIn(n: number): ContactId {
    for (let i = 0; i < MAX_ID_DRAWS; i++) {
      const id = newContactId()
      if (this.shardOfContact(id) === n) return id
    }
    return newContactId()
  }

  /**
   * Apply a patch to a live contact and return the result.
   * @throws ValidationError; UnknownIdError for an unknown or removed contact or an unknown org.
   */
  async editContact(id: string, patchInput: unknown): Promise<Contact> {
    const contactId = parseContactId(id)
    const patch = parseContactPatch(patchInput)
    if (patch.orgId !== undefined && patch.orgId !== null) this.#requireLiveOrg(patch.orgId)
    const handle = await this.shardHandle(this.shardOfContact(contactId))
    this.#requireLiveContact(handle, contactId)
    const now = this.#now()
    this.#change(handle, (doc) => {
      const c = doc.contacts[contactId]
      if (c !== undefined) applyContactPatch(c, patch, now)
    })
    return readContact(handle.doc().contacts[contactId])
  }

  /** Remove a contact (a tombstone: `deletedAt` is set). Removing a removed contact does nothing. */
  async removeContact(id: string): Promise<void> {
    const contactId = parseContactId(id)
    const handle = await this.shardHandle(this.shardOfContact(contactId))
    const existing = handle.doc().contacts[contactId]
    if (existing === undefined) throw new UnknownIdError('contact', contactId)
    if (existing.deletedAt !== undefined) return
    const now = this.#now()
    this.#change(handle, (doc) => {
      const c = doc.contacts[contactId]
      if (c !== undefined) c.deletedAt = now
    })
  }

  /** Bring back a removed contact with every value it had (including edits made concurrently). */
  async restoreContact(id: string): Promise<Contact> {
    const contactId = parseContactId(id)
    const handle = await this.shardHandle(this.shardOfContact(contactId))
    const existing = handle.doc().contacts[contactId]
    if (existing === undefined) throw new UnknownIdError('contact', contactId)
    if (existing.deletedAt !== undefined) {
      const now = this.#now()
      this.#change(handle, (doc) => {
        const c = doc.contacts[contactId]
        if (c === undefined) return
        delete c.deletedAt
        c.updatedAt = now
      })
    }
    return readContact(handle.doc().contacts[contactId])
  }

  /** A contact, or `undefined` when there is none (or it is removed, unless `includeDeleted`). */
  async getContact(id: string, options: { includeDeleted?: boolean } = {}): Promise<Contact | undefined> {
    const contactId = parseContactId(id)
    const handle = await this.shardHandle(this.shardOfContact(contactId))
    const raw = handle.doc().contacts[contactId]
    if (raw === undefined) return undefined
    if (raw.deletedAt !== undefined && options.includeDeleted !== true) return undefined
    return readContact(raw)
  }

  /**
   * Contacts sorted by lower-cased name, then id (deterministic everywhere: no locale rules).
   * Loads every shard; a cold-start listing should come from the SQLite projection instead.
   */
  async listContacts(options: ListContactsOptions = {}): Promise<Contact[]> {
    const offset = checkPaging(options.offset, 'offset') ?? 0
    const limit = checkPaging(options.limit, 'limit')
    const handles = await Promise.all(this.#shardUrls.map((_, n) => this.shardHandle(n)))
    const out: Contact[] = []
    for (const handle of handles) {
      for (const raw of Object.values(handle.doc().contacts ?? {})) {
        if (raw.deletedAt !== undefined && options.includeDeleted !== true) continue
        out.push(readContact(raw))
      }
    }
    out.sort(byNameThenId)
    return out.slice(offset, limit === undefined ? undefined : offset + limit)
  }

  /** Add a note or logged interaction to a live contact. */
  async addNote(contactId: string, input: unknown): Promise<Note> {
    const id = parseContactId(contactId, 'contactId')
    const parsed = parseNoteInput(input)
    const handle = await this.shardHandle(this.shardOfContact(id))
    this.#requireLiveContact(handle, id)
    const now = this.#now()
    const note = buildNote(newNoteId(), parsed, now)
    this.#change(handle, (doc) => {
      const c = doc.contacts[id]
      if (c === undefined) return
      c.notes[note.id] = note
      c.updatedAt = now
    })
    return readNote(note)
  }

  /** Remove a note (tombstone). Removing a removed note does nothing. */
  async removeNote(contactId: string, noteId: string): Promise<void> {
    const id = parseContactId(contactId, 'contactId')
    const nid: NoteId = parseNoteId(noteId, 'noteId')
    const handle = await this.shardHandle(this.shardOfContact(id))
    const contact = this.#requireLiveContact(handle, id)
    const note = contact.notes[nid]
    if (note === undefined) throw new UnknownIdError('note', nid)
    if (note.deletedAt !== undefined) return
    const now = this.#now()
    this.#change(handle, (doc) => {
      const n = doc.contacts[id]?.notes[nid]
      if (n !== undefined) n.deletedAt = now
    })
  }

  // ---------------------------------------------------------------- organizations

  /** Add an organization. */
  async addOrg(input: unknown): Promise<Organization> {
    const parsed = parseOrgInput(input)
    const org = buildOrg(newOrgId(), parsed, this.#now())
    this.#change(this.#root, (doc) => {
      doc.orgs[org.id] = org
    })
    return readOrg(org)
  }

  /** Edit a live organization (`logo: null` clears the logo). */
  async editOrg(id: string, patchInput: unknown): Promise<Organization> {
    const orgId = parseOrgId(id, 'id')
    const patch = parseOrgPatch(patchInput)
    this.#requireLiveOrg(orgId)
    const now = this.#now()
    this.#change(this.#root, (doc) => {
      const o = doc.orgs[orgId]
      if (o === undefined) return
      if (patch.name !== undefined) o.name = patch.name
      if (patch.logo === null) delete o.logo
      else if (patch.logo !== undefined) o.logo = patch.logo
      o.updatedAt = now
    })
    return readOrg(this.#root.doc().orgs[orgId])
  }

  /** Remove an organization (tombstone). Contacts keep their `orgId`; readers show it as removed. */
  async removeOrg(id: string): Promise<void> {
    const orgId = parseOrgId(id, 'id')
    const existing = this.#root.doc().orgs[orgId]
    if (existing === undefined) throw new UnknownIdError('organization', orgId)
    if (existing.deletedAt !== undefined) return
    const now = this.#now()
    this.#change(this.#root, (doc) => {
      const o = doc.orgs[orgId]
      if (o !== undefined) o.deletedAt = now
    })
  }

  /** Bring back a removed organization. */
  async restoreOrg(id: string): Promise<Organization> {
    const orgId = parseOrgId(id, 'id')
    const existing = this.#root.doc().orgs[orgId]
    if (existing === undefined) throw new UnknownIdError('organization', orgId)
    if (existing.deletedAt !== undefined) {
      const now = this.#now()
      this.#change(this.#root, (doc) => {
        const o = doc.orgs[orgId]
        if (o === undefined) return
        delete o.deletedAt
        o.updatedAt = now
      })
    }
    return readOrg(this.#root.doc().orgs[orgId])
  }

  /** An organization, or `undefined` (also when removed, unless `includeDeleted`). */
  async getOrg(id: string, options: { includeDeleted?: boolean } = {}): Promise<Organization | undefined> {
    const orgId = parseOrgId(id, 'id')
    const raw = this.#root.doc().orgs[orgId]
    if (raw === undefined) return undefined
    if (raw.deletedAt !== undefined && options.includeDeleted !== true) return undefined
    return readOrg(raw)
  }

  /** Organizations sorted by lower-cased name, then id. */
  async listOrgs(options: { includeDeleted?: boolean } = {}): Promise<Organization[]> {
    return Object.values(this.#root.doc().orgs ?? {})
      .filter((o) => o.deletedAt === undefined || options.includeDeleted === true)
      .map(readOrg)
      .sort(byNameThenId)
  }

  // ---------------------------------------------------------------- devices

  /**
   * Record a member device. Re-adding a known device updates its name but never un-revokes it.
   * @throws ValidationError when `publicKey` differs from the one recorded for that id.
   */
  async addDevice(memberInput: MemberDevice): Promise<MemberDevice> {
    const member = parseMemberDevice(memberInput)
    const existing = this.#root.doc().devices[member.id]
    if (existing !== undefined && existing.publicKey !== member.publicKey) {
      throw new ValidationError(`publicKey: device ${member.id} is already a member with another key`, {
        field: 'publicKey',
      })
    }
    this.#change(this.#root, (doc) => {
      const d = doc.devices[member.id]
      if (d === undefined) {
        const fresh: MemberDevice = { ...member }
        // Only `revokeDevice` sets revocation; an add never carries one in.
        delete fresh.revokedAt
        doc.devices[member.id] = fresh
      } else if (d.name !== member.name) {
        d.name = member.name
      }
    })
    if (member.revokedAt !== undefined) await this.revokeDevice(member.id)
    return this.#device(member.id) as MemberDevice
  }

  /** Revoke a member device. Sticky: nothing un-revokes it. Revoking twice keeps the first time. */
  async revokeDevice(id: string): Promise<void> {
    const doc = this.#root.doc()
    if (doc.devices[id] === undefined) throw new UnknownIdError('device', id)
    if (doc.revocations?.[id] !== undefined && doc.devices[id]?.revokedAt !== undefined) return
    const now = this.#now()
    this.#change(this.#root, (d) => {
      if (d.revocations === undefined) d.revocations = {}
      if (d.revocations[id] === undefined) d.revocations[id] = now
      const device = d.devices[id]
      if (device !== undefined && device.revokedAt === undefined) device.revokedAt = now
    })
  }

  /** Every device ever added, revoked ones included (with `revokedAt`), by `addedAt` then id. */
  listDevices(): MemberDevice[] {
    const doc = this.#root.doc()
    return Object.keys(doc.devices ?? {})
      .map((id) => this.#device(id) as MemberDevice)
      .sort((a, b) => a.addedAt - b.addedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  }

  /** A member device record (with `revokedAt` if revoked), or `undefined`. */
  getDevice(id: string): MemberDevice | undefined {
    return this.#device(id)
  }

  /** Whether `deviceId` is a current member, a revoked one, or unknown to this workspace. */
  memberStatus(deviceId: string): MemberStatus {
    const doc = this.#root.doc()
    if (doc.revocations?.[deviceId] !== undefined || doc.devices[deviceId]?.revokedAt !== undefined) {
      return 'revoked'
    }
    return doc.devices[deviceId] !== undefined ? 'member' : 'unknown'
  }

  // ---------------------------------------------------------------- events

  /**
   * Listen to contact changes: local ones (made through this object) and remote ones. Changes
   * that arrive by the sync protocol are reported for every shard, even one this object has not
   * loaded; changes applied by other means (`handle.merge`, another object on the same repo) are
   * reported for the shards this object has loaded ({@link loadAllShards} loads them all). A
   * shard that arrives whole (a first sync) reports every contact in it in one event, without
   * diffing it. Returns `unsubscribe`.
   */
  onContactsChanged(listener: (event: ContactsChangedEvent) => void): () => void {
    this.#contactListeners.add(listener)
    return () => this.#contactListeners.delete(listener)
  }

  /** Listen to root document changes (organizations, devices, workspace name). Returns `unsubscribe`. */
  onRootChanged(listener: (event: RootChangedEvent) => void): () => void {
    this.#rootListeners.add(listener)
    return () => this.#rootListeners.delete(listener)
  }

  // ---------------------------------------------------------------- internals

  #device(id: string): MemberDevice | undefined {
    const doc = this.#root.doc()
    const raw = doc.devices[id]
    if (raw === undefined) return undefined
    const device = readDevice(raw)
    const revokedAt = doc.revocations?.[id]
    if (revokedAt !== undefined && (device.revokedAt === undefined || revokedAt < device.revokedAt)) {
      device.revokedAt = revokedAt
    }
    return device
  }

  #requireLiveOrg(orgId: OrgId): void {
    const org = this.#root.doc().orgs[orgId]
    if (org === undefined || org.deletedAt !== undefined) throw new UnknownIdError('organization', orgId)
  }

  #requireLiveContact(handle: DocHandle<ContactShardDoc>, id: ContactId): Contact {
    const contact = handle.doc().contacts[id]
    if (contact === undefined) throw new UnknownIdError('contact', id)
    if (contact.deletedAt !== undefined) throw removedError('contact', id)
    return contact
  }

  #change<T>(handle: DocHandle<T>, fn: (doc: T) => void): void {
    this.#localDepth++
    try {
      handle.change(fn)
    } finally {
      this.#localDepth--
    }
  }

  async #loadShard(n: number, signal?: AbortSignal): Promise<DocHandle<ContactShardDoc>> {
    const url = this.#shardUrls[n] as AutomergeUrl
    let handle: DocHandle<ContactShardDoc>
    try {
      handle = await this.#repo.find<ContactShardDoc>(url, signal ? { signal } : {})
    } catch (cause) {
      signal?.throwIfAborted()
      throw new StoreError(`contact shard ${n} (${url}) could not be loaded`, { code: 'UNAVAILABLE', cause })
    }
    const doc = handle.doc() as Partial<ContactShardDoc> | undefined
    if (doc?.type !== 'orbit-contacts' || doc.workspaceId !== this.#workspaceId || doc.shard !== n) {
      throw new StoreError(`document ${url} is not shard ${n} of workspace ${this.#workspaceId}`, {
        code: 'FOREIGN',
      })
    }
    return this.#adoptShard(handle, n)
  }

  #adoptShard(handle: DocHandle<ContactShardDoc>, n: number): DocHandle<ContactShardDoc> {
    if (this.#adopted.has(n)) return handle
    this.#adopted.add(n)
    this.#listen(handle, () => this.#contactListeners.size > 0, (touched, doc) => this.#emitContacts(n, touched, doc))
    return handle
  }

  /**
   * Calls `onChange` with what each update of `handle` changed. Listens to 'heads-changed', not
   * 'change': automerge-repo computes the patches of 'change' with a diff, and for a document that
   * arrives whole (a first sync, a load) that is a diff from nothing, a patch per op. Here the diff
   * runs only when someone listens (`wanted`), and a document with no previous heads is reported
   * as 'whole' instead of diffed (see scripts/patch-deps.mjs for the repo's side of this).
   */
  #listen<T>(handle: DocHandle<T>, wanted: () => boolean, onChange: (touched: PathPatch[] | 'whole', doc: T) => void): void {
    let last: A.Heads = handle.isReady() ? A.getHeads(handle.doc() as A.Doc<T>) : []
    const listener = ({ doc }: { doc: A.Doc<T> }) => {
      const before = last
      last = A.getHeads(doc)
      if (!wanted()) return
      let touched: PathPatch[] | 'whole' = 'whole'
      try {
        if (before.length > 0) touched = A.diff(doc, before, last)
      } catch (error) {
        // Heads this document no longer knows (never expected): report it whole rather than throw
        // inside the repo's update.
        this.#log.warn('workspace could not diff a document update; reporting it whole', { error: String(error) })
      }
      onChange(touched, doc)
    }
    handle.on('heads-changed', listener)
    this.#detach.push(() => handle.off('heads-changed', listener))
  }

  #emitContacts(shard: number, touched: PathPatch[] | 'whole', doc: ContactShardDoc): void {
    const ids = touched === 'whole' ? (Object.keys(doc.contacts ?? {}).sort() as ContactId[]) : contactIdsTouched(touched, () => Object.keys(doc.contacts ?? {}))
    if (ids.length === 0) return
    const created = this.#localDepth > 0 ? this.#creating : undefined
    this.#dispatch(this.#contactListeners, { shard, ids, source: this.#source(), ...(created === undefined ? {} : { created }) })
  }

  #emitRoot(touched: PathPatch[] | 'whole', doc: RootDoc): void {
    const changed =
      touched === 'whole'
        ? {
            orgs: Object.keys(doc.orgs ?? {}).sort() as OrgId[],
            devices: [...new Set([...Object.keys(doc.devices ?? {}), ...Object.keys(doc.revocations ?? {})])].sort() as DeviceId[],
            workspace: true,
          }
        : rootTouched(touched)
    if (changed.orgs.length === 0 && changed.devices.length === 0 && !changed.workspace) return
    this.#dispatch(this.#rootListeners, { ...changed, source: this.#source() })
  }

  #source(): ChangeSource {
    return this.#localDepth > 0 ? 'local' : 'remote'
  }

  // A throwing listener must not break the change that triggered it (events fire inside change()).
  #dispatch<E>(listeners: Set<(e: E) => void>, event: E): void {
    for (const listener of [...listeners]) {
      try {
        listener(event)
      } catch (error) {
        this.#log.error('workspace change listener threw', { error: String(error) })
      }
    }
  }
}

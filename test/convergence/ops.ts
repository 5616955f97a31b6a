/**
 * Random CRM operations through the real `CrmWorkspace` API, and the log of what each device was
 * told succeeded ("acknowledged"): the change hash each call produced, and for every register it
 * wrote (a contact field, a tag, the removed flag) the value written, so that the final replicas
 * can be checked against causality.
 */
import * as A from '@automerge/automerge'
import type { DocHandle } from '@automerge/automerge-repo'
import type { Contact, ContactShardDoc } from '../../src/core/model/types.js'
import type { Prng } from '../helpers/prng.js'
import type { Device } from './world.js'

/** A value written to a register; `present: false` is a delete (restore, clearing a title, removing a tag). */
export interface Write {
  device: number
  hash: string
  present: boolean
  value?: unknown
}

/** A register: one field of one contact in one shard. `read` extracts it from a final contact. */
export interface Register {
  shard: number
  contactId: string
  field: string
  read: (c: Contact) => { present: boolean; value?: unknown }
  writes: Write[]
}

export interface AckedChange {
  device: number
  shard: number
  hash: string
  what: string
}

export interface NoteRecord {
  shard: number
  contactId: string
  noteId: string
  body: string
}

/** Everything the scenario's devices did and were told succeeded. */
export class OpLog {
  readonly changes: AckedChange[] = []
  readonly registers = new Map<string, Register>()
  readonly notes: NoteRecord[] = []
  /** One line per operation, printed when a scenario fails. */
  readonly trace: string[] = []

  register(shard: number, contactId: string, field: string, read: Register['read']): Register {
    const key = `${shard}|${contactId}|${field}`
    let r = this.registers.get(key)
    if (r === undefined) this.registers.set(key, (r = { shard, contactId, field, read, writes: [] }))
    return r
  }
}

const TAGS: readonly string[] = ['vip', 'lead', 'cold', 'hot']
const readName = (c: Contact) => ({ present: true, value: c.name })
const readEmails = (c: Contact) => ({ present: true, value: [...c.emails] })
const readTitle = (c: Contact) => (c.title === undefined ? { present: false } : { present: true, value: c.title })
const readRemoved = (c: Contact) => ({ present: c.deletedAt !== undefined })
const readTag = (tag: string) => (c: Contact) => ({ present: c.tags[tag] === true })

function lastLocalHash(handle: DocHandle<ContactShardDoc>): string | undefined {
  const change = A.getLastLocalChange(handle.doc())
  return change === undefined ? undefined : A.decodeChange(change).hash
}

/** Records the registers of a contact as created (creation is an ancestor of every later write). */
export function recordCreation(log: OpLog, device: number, shard: number, hash: string, c: Contact): void {
  log.register(shard, c.id, 'name', readName).writes.push({ device, hash, present: true, value: c.name })
  log.register(shard, c.id, 'emails', readEmails).writes.push({ device, hash, present: true, value: [...c.emails] })
  log.register(shard, c.id, 'title', readTitle).writes.push(
    c.title === undefined ? { device, hash, present: false } : { device, hash, present: true, value: c.title },
  )
  log.register(shard, c.id, 'removed', readRemoved).writes.push({ device, hash, present: false })
  for (const tag of Object.keys(c.tags)) {
    log.register(shard, c.id, `tag:${tag}`, readTag(tag)).writes.push({ device, hash, present: true })
  }
}

/** The initial contacts every device starts with, created by the template's change of each shard. */
export async function recordInitial(log: OpLog, device: Device, creation: readonly (string | undefined)[]): Promise<void> {
  for (let shard = 0; shard < device.ws.shardCount; shard++) {
    const handle = await device.ws.shardHandle(shard)
    for (const c of Object.values(handle.doc().contacts)) {
      const hash = creation[shard]
      if (hash === undefined) throw new Error('initial contact without a creating change')
      recordCreation(log, -1, shard, hash, c)
    }
  }
}

/**
 * Runs one random operation on `device`, chosen to collide often (few contacts, few fields, few
 * tags), and logs what it acknowledged. Operations invalid on the device's current view (editing a
 * contact it sees removed, ...) are not attempted.
 */
export async function randomOp(log: OpLog, device: Device, rng: Prng): Promise<void> {
  const ws = device.ws
  const all = await ws.listContacts({ includeDeleted: true })
  const live = all.filter(c => c.deletedAt === undefined)
  const removed = all.filter(c => c.deletedAt !== undefined)
  const r = rng.next()
  const d = device.index

  const acked = async (contactId: string, what: string, fn: () => Promise<unknown>) => {
    const shard = ws.shardOfContact(contactId as Contact['id'])
    const handle = await ws.shardHandle(shard)
    const before = lastLocalHash(handle)
    await fn()
    const hash = lastLocalHash(handle)
    log.trace.push(`d${d} ${what}${hash === before ? ' (no change)' : ''}`)
    if (hash === undefined || hash === before) return undefined
    log.changes.push({ device: d, shard, hash, what })
    return { shard, hash }
  }

  if (r < 0.1 || all.length === 0) {
    const name = `New ${rng.word()}`
    const withTitle = rng.chance(0.5)
    const input = { name, emails: [`${rng.word()}@example.com`], tags: rng.chance(0.5) ? [rng.pick(TAGS)] : [], ...(withTitle ? { title: rng.word() } : {}) }
    // The id is only known after the call: find the shard through the returned contact.
    const before = new Map<number, string | undefined>()
    for (let s = 0; s < ws.shardCount; s++) before.set(s, lastLocalHash(await ws.shardHandle(s)))
    const created = await ws.addContact(input)
    const shard = ws.shardOfContact(created.id)
    const hash = lastLocalHash(await ws.shardHandle(shard))
    if (hash === undefined || hash === before.get(shard)) throw new Error('addContact made no change')
    log.trace.push(`d${d} add ${created.id} ${JSON.stringify(input)}`)
    log.changes.push({ device: d, shard, hash, what: `add ${created.id}` })
    recordCreation(log, d, shard, hash, created)
    return
  }

  if (r < 0.55 && live.length > 0) {
    const c = rng.pick(live)
    const patch: Record<string, unknown> = {}
    if (rng.chance(0.6)) patch.name = `Name ${rng.word()}`
    if (rng.chance(0.3)) patch.title = rng.chance(0.3) ? null : `Title ${rng.word()}`
    if (rng.chance(0.2)) patch.emails = rng.chance(0.2) ? [] : [`${rng.word()}@example.com`]
    const addTags = rng.chance(0.3) ? [rng.pick(TAGS)].filter(t => c.tags[t] !== true) : []
    const present = Object.keys(c.tags)
    const removeTags = rng.chance(0.15) && present.length > 0 ? [rng.pick(present)] : []
    if (addTags.length > 0) patch.addTags = addTags
    if (removeTags.length > 0 && !addTags.includes(removeTags[0] as string)) patch.removeTags = removeTags
    if (Object.keys(patch).length === 0) patch.name = `Name ${rng.word()}`
    const res = await acked(c.id, `edit ${c.id} ${JSON.stringify(patch)}`, () => ws.editContact(c.id, patch))
    if (res === undefined) return
    const w = (field: string, read: Register['read'], write: Omit<Write, 'device' | 'hash'>) =>
      log.register(res.shard, c.id, field, read).writes.push({ device: d, hash: res.hash, ...write })
    if (patch.name !== undefined) w('name', readName, { present: true, value: patch.name })
    if (patch.title !== undefined) w('title', readTitle, patch.title === null ? { present: false } : { present: true, value: patch.title })
    if (patch.emails !== undefined) w('emails', readEmails, { present: true, value: patch.emails })
    for (const t of (patch.addTags as string[] | undefined) ?? []) w(`tag:${t}`, readTag(t), { present: true })
    for (const t of (patch.removeTags as string[] | undefined) ?? []) w(`tag:${t}`, readTag(t), { present: false })
    return
  }

  if (r < 0.7 && live.length > 0) {
    const c = rng.pick(live)
    const res = await acked(c.id, `remove ${c.id}`, () => ws.removeContact(c.id))
    if (res !== undefined) log.register(res.shard, c.id, 'removed', readRemoved).writes.push({ device: d, hash: res.hash, present: true })
    return
  }

  if (r < 0.82 && removed.length > 0) {
    const c = rng.pick(removed)
    const res = await acked(c.id, `restore ${c.id}`, () => ws.restoreContact(c.id))
    if (res !== undefined) log.register(res.shard, c.id, 'removed', readRemoved).writes.push({ device: d, hash: res.hash, present: false })
    return
  }

  if (live.length > 0) {
    const c = rng.pick(live)
    const body = `note ${rng.word(8)}`
    let noteId = ''
    const res = await acked(c.id, `note ${c.id} ${body}`, async () => {
      noteId = (await ws.addNote(c.id, { body })).id
    })
    if (res !== undefined) log.notes.push({ shard: res.shard, contactId: c.id, noteId, body })
  }
}

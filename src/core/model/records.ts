/**
 * Conversions between Automerge document values and the plain records the change API returns.
 *
 * Reads are defensive: a document is written by other devices (possibly other versions of this
 * code), so a missing or odd-typed field degrades to a default instead of crashing a listing.
 * Writes store only JSON-compatible values and omit absent optionals (Automerge rejects
 * `undefined`).
 */
import { isImmutableString } from '@automerge/automerge'
import type { BlobHash, ContactId, NoteId, OrgId } from '../ids.js'
import type { Contact, MemberDevice, Note, NoteKind, Organization } from './types.js'
import type { ContactInput, NoteInput, OrgInput } from './validate.js'

type Raw = Record<string, unknown>

// Strings are stored as Automerge text (read back as JS strings); a scalar string written by
// another client reads back as an ImmutableString object, whose toString() is its value.
const optStr = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : isImmutableString(v) ? v.toString() : undefined
const str = (v: unknown): string => optStr(v) ?? (v === undefined || v === null ? '' : String(v))
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0)
const strList = (v: unknown): string[] => (Array.isArray(v) ? v.map(str) : [])
const isRecord = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v)
const NOTE_KINDS: readonly string[] = ['note', 'call', 'email', 'meeting']

/** Copy a stored note into a plain record. */
export function readNote(raw: unknown): Note {
  const r = isRecord(raw) ? raw : {}
  const kind = str(r.kind)
  const note: Note = {
    id: str(r.id) as NoteId,
    kind: (NOTE_KINDS.includes(kind) ? kind : 'note') as NoteKind,
    body: str(r.body),
    at: num(r.at),
    createdAt: num(r.createdAt),
  }
  if (typeof r.deletedAt === 'number') note.deletedAt = r.deletedAt
  return note
}

/** Copy a stored contact into a plain record; removed notes are left out unless asked for. */
export function readContact(raw: unknown, options: { includeDeletedNotes?: boolean } = {}): Contact {
  const r = isRecord(raw) ? raw : {}
  const tags: Record<string, true> = {}
  if (isRecord(r.tags)) for (const tag of Object.keys(r.tags)) tags[tag] = true
  const notes: Record<string, Note> = {}
  if (isRecord(r.notes)) {
    for (const [id, value] of Object.entries(r.notes)) {
      const note = readNote(value)
      if (note.deletedAt === undefined || options.includeDeletedNotes === true) notes[id] = note
    }
  }
  const contact: Contact = {
    id: str(r.id) as ContactId,
    name: str(r.name),
    emails: strList(r.emails),
    phones: strList(r.phones),
    tags,
    notes,
    createdAt: num(r.createdAt),
    updatedAt: num(r.updatedAt),
  }
  const title = optStr(r.title)
  const orgId = optStr(r.orgId)
  const logo = optStr(r.logo)
  if (title !== undefined) contact.title = title
  if (orgId !== undefined) contact.orgId = orgId as OrgId
  if (logo !== undefined) contact.logo = logo as BlobHash
  if (typeof r.deletedAt === 'number') contact.deletedAt = r.deletedAt
  return contact
}

/** Copy a stored organization into a plain record. */
export function readOrg(raw: unknown): Organization {
  const r = isRecord(raw) ? raw : {}
  const org: Organization = {
    id: str(r.id) as OrgId,
    name: str(r.name),
    createdAt: num(r.createdAt),
    updatedAt: num(r.updatedAt),
  }
  const logo = optStr(r.logo)
  if (logo !== undefined) org.logo = logo as BlobHash
  if (typeof r.deletedAt === 'number') org.deletedAt = r.deletedAt
  return org
}

/** Copy a stored member device into a plain record. */
export function readDevice(raw: unknown): MemberDevice {
  const r = isRecord(raw) ? raw : {}
  const device: MemberDevice = {
    id: str(r.id) as MemberDevice['id'],
    publicKey: str(r.publicKey),
    name: str(r.name),
    addedAt: num(r.addedAt),
    addedBy: str(r.addedBy) as MemberDevice['addedBy'],
  }
  if (typeof r.revokedAt === 'number') device.revokedAt = r.revokedAt
  return device
}

/** The stored form of a new contact. */
export function buildContact(id: ContactId, input: ContactInput, now: number): Contact {
  const tags: Record<string, true> = {}
  for (const tag of input.tags ?? []) tags[tag] = true
  const contact: Contact = {
    id,
    name: input.name,
    emails: [...(input.emails ?? [])],
    phones: [...(input.phones ?? [])],
    tags,
    notes: {},
    createdAt: now,
    updatedAt: now,
  }
  if (input.title !== undefined) contact.title = input.title
  if (input.orgId !== undefined) contact.orgId = input.orgId
  if (input.logo !== undefined) contact.logo = input.logo
  return contact
}

/** The stored form of a new note. */
export function buildNote(id: NoteId, input: NoteInput, now: number): Note {
  return { id, kind: input.kind ?? 'note', body: input.body, at: input.at ?? now, createdAt: now }
}

/** The stored form of a new organization. */
export function buildOrg(id: OrgId, input: OrgInput, now: number): Organization {
  const org: Organization = { id, name: input.name, createdAt: now, updatedAt: now }
  if (input.logo !== undefined) org.logo = input.logo
  return org
}

/** Deterministic order for listings: lower-cased name (code units, no locale), then id. */
export function byNameThenId(a: { name: string; id: string }, b: { name: string; id: string }): number {
  const an = a.name.toLowerCase()
  const bn = b.name.toLowerCase()
  if (an !== bn) return an < bn ? -1 : 1
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0
}

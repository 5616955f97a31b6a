/**
 * Branded ids. A string read from a TXT record, a QR code, a CLI argument or an HTTP body is
 * untrusted until one of the `parse*` functions here returns the branded type.
 */
import { ValidationError } from './errors.js'

export type DeviceId = string & { readonly __deviceId: true }
export type WorkspaceId = string & { readonly __workspaceId: true }
export type ContactId = string & { readonly __contactId: true }
export type OrgId = string & { readonly __orgId: true }
export type NoteId = string & { readonly __noteId: true }
/** Lower-case hex SHA-256 of a blob's bytes. */
export type BlobHash = string & { readonly __blobHash: true }

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567'

/** Lower-case RFC 4648 base32 without padding. */
export function base32(bytes: Uint8Array): string {
  let out = ''
  let bits = 0
  let value = 0
  for (const byte of bytes) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31]
  return out
}

/** Random bytes from the platform's CSPRNG (Web Crypto, present in browsers, Node ≥ 19, RN with a polyfill). */
export function randomBytes(length: number): Uint8Array {
  const bytes = new Uint8Array(length)
  globalThis.crypto.getRandomValues(bytes)
  return bytes
}

const ENTITY_ID = /^(ct|org|nt)_[a-z2-7]{16}$/

function newEntityId(prefix: 'ct' | 'org' | 'nt'): string {
  return `${prefix}_${base32(randomBytes(10))}`
}

export const newContactId = (): ContactId => newEntityId('ct') as ContactId
export const newOrgId = (): OrgId => newEntityId('org') as OrgId
export const newNoteId = (): NoteId => newEntityId('nt') as NoteId

function parseEntityId(value: unknown, prefix: string, kind: string, field: string): string {
  if (typeof value !== 'string' || !ENTITY_ID.test(value) || !value.startsWith(`${prefix}_`)) {
    throw new ValidationError(
      `${field}: not a ${kind} id (expected "${prefix}_" followed by 16 base32 characters, got ${JSON.stringify(value)})`,
      { field },
    )
  }
  return value
}

export const parseContactId = (value: unknown, field = 'id'): ContactId =>
  parseEntityId(value, 'ct', 'contact', field) as ContactId
export const parseOrgId = (value: unknown, field = 'org'): OrgId =>
  parseEntityId(value, 'org', 'organization', field) as OrgId
export const parseNoteId = (value: unknown, field = 'note'): NoteId =>
  parseEntityId(value, 'nt', 'note', field) as NoteId

const BLOB_HASH = /^[0-9a-f]{64}$/
export function parseBlobHash(value: unknown, field = 'logo'): BlobHash {
  if (typeof value !== 'string' || !BLOB_HASH.test(value)) {
    throw new ValidationError(`${field}: not a blob hash (64 lower-case hex characters)`, { field })
  }
  return value as BlobHash
}

const WORKSPACE_ID = /^ws_[a-z2-7]{26}$/
export const newWorkspaceId = (): WorkspaceId => `ws_${base32(randomBytes(16))}` as WorkspaceId
export function parseWorkspaceId(value: unknown, field = 'workspace'): WorkspaceId {
  if (typeof value !== 'string' || !WORKSPACE_ID.test(value)) {
    throw new ValidationError(`${field}: not a workspace id`, { field })
  }
  return value as WorkspaceId
}

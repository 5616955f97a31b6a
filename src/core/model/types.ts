/**
 * The CRM model as stored in Automerge documents.
 *
 * Layout (see README "Document layout"): one small *root* document per workspace (its identity,
 * organizations, member devices, and the URLs of the contact shards), and a fixed number of
 * *contact shard* documents; a contact lives in shard `shardOf(id, shardCount)`.
 *
 * Removal is a tombstone: `deletedAt` set. Remove wins against a concurrent edit, and the edited
 * fields survive inside the tombstone, so nothing acknowledged is lost (`contact restore` brings
 * it back).
 */
import type { BlobHash, ContactId, DeviceId, NoteId, OrgId, WorkspaceId } from '../ids.js'
import type { Timestamp } from '../sync/types.js'

export type NoteKind = 'note' | 'call' | 'email' | 'meeting'

/** A note or logged interaction on a contact. */
export interface Note {
  id: NoteId
  kind: NoteKind
  body: string
  /** When the interaction happened (defaults to creation time). */
  at: Timestamp
  createdAt: Timestamp
  deletedAt?: Timestamp
}

export interface Contact {
  id: ContactId
  name: string
  emails: string[]
  phones: string[]
  title?: string
  orgId?: OrgId
  /** A set: keys are tags, values are `true` (concurrent adds of different tags both survive). */
  tags: Record<string, true>
  notes: Record<string, Note>
  /** SHA-256 of the logo image, stored as a content-addressed blob. */
  logo?: BlobHash
  createdAt: Timestamp
  updatedAt: Timestamp
  deletedAt?: Timestamp
}

export interface Organization {
  id: OrgId
  name: string
  logo?: BlobHash
  createdAt: Timestamp
  updatedAt: Timestamp
  deletedAt?: Timestamp
}

/** A workspace member. `revokedAt` is sticky: once set by anyone, the device stays revoked. */
export interface MemberDevice {
  id: DeviceId
  /** Ed25519 public key, base64url. */
  publicKey: string
  name: string
  addedAt: Timestamp
  addedBy: DeviceId
  revokedAt?: Timestamp
}

export interface RootDoc {
  type: 'orbit-root'
  schemaVersion: 1
  workspaceId: WorkspaceId
  name: string
  createdAt: Timestamp
  /** Automerge URLs of the contact shard documents; the length is the shard count, fixed. */
  shards: string[]
  orgs: Record<string, Organization>
  devices: Record<string, MemberDevice>
  /**
   * Device id -> when it was revoked. Kept apart from `devices` so that revocation survives a
   * concurrent re-add of the same device (which replaces `devices[id]` as a whole): entries are
   * only ever added, never deleted. Created with the workspace; absent in none but hand-made docs.
   */
  revocations?: Record<string, Timestamp>
}

export interface ContactShardDoc {
  type: 'orbit-contacts'
  schemaVersion: 1
  workspaceId: WorkspaceId
  shard: number
  contacts: Record<string, Contact>
}

/**
 * The shapes the page reads from the daemon's HTTP API (docs/protocol/http.md). Core's types are
 * imported as they are (core is platform-free); the node app's rows are mirrored here because the
 * page may not depend on Node-only modules.
 */
import type { Contact } from '../../core/model/types.js'
import type { SyncMethod, SyncSession, SyncStatus } from '../../core/sync/types.js'

export type { Contact, SyncMethod, SyncSession, SyncStatus }

/** A contact as the API answers it. */
export type ApiContact = Contact

/** `GET contacts`: one page of the sorted, filtered listing. */
export interface ApiContactPage {
  total: number
  offset: number
  items: ApiContact[]
}

/** What the contact form sends (`POST contacts`, `PATCH contacts/:id`). */
export interface ContactForm {
  name: string
  emails?: string[]
  phones?: string[]
  title?: string
  tags?: string[]
  logo?: string
}

/** `GET status`. */
export interface ApiStatus {
  device: { id: string; name: string }
  workspace: { id: string; name: string }
  listen?: unknown
  discovery?: unknown
  sync: { status: SyncStatus; currentMethod: SyncMethod | null; lastSyncTimestamp: number | null }
}

/** A peer's sync state as the node reports it (mirrors src/apps/node/sync-state.ts `PeerSyncView`). */
export interface PeerSyncView {
  state: 'in-sync' | 'behind' | 'ahead' | 'diverged' | 'unknown'
  behind: number
  ahead: number
  unknown: number
  documents: number
  via?: SyncMethod
  at?: number
  reason?: string
  detail?: string
}

/** A row of `GET peers` (mirrors src/apps/node/api.ts `PeerRow`). */
export interface PeerRow {
  deviceId: string
  name: string
  addresses: string[]
  lastSeen: number | null
  paired: boolean
  revoked: boolean
  connected: boolean
  link?: 'local-network' | 'webrtc'
  discovered: boolean
  sync: PeerSyncView
}

/** One blob being received (mirrors core/blobs `BlobTransfer`). */
export interface BlobTransferView {
  hash: string
  size: number
  received: number
  from: string
  bytesPerSecond?: number
  etaMs?: number
}

/** The sync store's blob slice (mirrors core/blobs `BlobProgress` plus the manifest counts). */
export interface BlobsView {
  transfers?: BlobTransferView[]
  queued?: number
  completed?: number
  failed?: Array<{ hash: string; reason: string }>
  bytesTotal?: number
  bytesDone?: number
  etaMs?: number
  referenced?: number | string[]
  present?: number | string[]
  missing?: number | string[]
}

/** The `state` event of `GET events`: the daemon's sync store. */
export interface SyncStateEvent {
  status: SyncStatus
  currentMethod: SyncMethod | null
  lastSyncTimestamp: number | null
  activeSessions: Record<string, SyncSession>
  recentSessions: SyncSession[]
  peers: PeerRow[]
  /** `null` until the node reports its blobs. */
  blobs?: BlobsView | null
}

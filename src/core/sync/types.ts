/**
 * The sync vocabulary of the roadmap (`SyncMethod`, `SyncStatus`, `SyncSession`, `DeviceInfo`,
 * `ImageSyncManifest`), shared by every tier, the orchestrator, the CLI and the web UI.
 */
import type { BlobProgress, BlobTransfer } from '../blobs/exchange.js'
import type { BlobHash, DeviceId } from '../ids.js'

/** Milliseconds since the Unix epoch. Injected clocks return this. */
export type Timestamp = number

/** The three tiers, best first. (`manual` of the roadmap is an address typed by the user: `lan`.) */
export type SyncMethod = 'local-network' | 'webrtc' | 'qr-code'

/** All methods, in the order the orchestrator prefers them. */
export const SYNC_METHODS: readonly SyncMethod[] = ['local-network', 'webrtc', 'qr-code']

/**
 * The state of one session, a discriminated union: each state carries what is true in it.
 * `completed` and `error` are terminal; a terminal session leaves `activeSessions`.
 */
export type SyncStatus =
  | 'idle'
  | 'discovering'
  | 'connecting'
  | 'syncing'
  | 'completed'
  | 'error'

/** One sync with one peer over one method, counted for real. */
export interface SyncSession {
  id: string
  peerId: DeviceId | undefined
  method: SyncMethod
  status: SyncStatus
  startedAt: Timestamp
  completedAt?: Timestamp
  /** Automerge changes this device sent to the peer (counted from the messages, not estimated). */
  changesSent: number
  /** Automerge changes received from the peer and applied. */
  changesReceived: number
  bytesSent: number
  bytesReceived: number
  /** Set when `status === 'error'`: the error's `name` and message. */
  error?: { name: string; message: string }
}

/** A device as the sync layer knows it: from discovery (a hint) and/or from pairing (trusted). */
export interface DeviceInfo {
  deviceId: DeviceId
  deviceName: string
  lastSeen: Timestamp
  /** Addresses it was seen at (mDNS A/AAAA records or an address the user gave). Hints, not identity. */
  addresses: string[]
  port?: number
  /** Protocol version it advertised. */
  protocolVersion?: number
  /** Whether this device is a paired member of our workspace (trusted), or only discovered. */
  paired: boolean
  revoked?: boolean
}

/** Which blobs a set of documents refers to, and which of them this device holds. */
export interface ImageSyncManifest {
  /** Every blob hash the documents refer to. */
  referenced: BlobHash[]
  /** Referenced blobs this device does not hold yet (pending until a live tier carries them). */
  missing: BlobHash[]
  /** Byte size per held blob. */
  sizes: Record<string, number>
}

/** One blob being received, as the sync store shows it: the exchange's `BlobTransfer`. */
export type BlobTransferView = BlobTransfer

/**
 * The blob slice of the sync store (docs/architecture.md, "Images"): the exchange's progress
 * (`BlobProgress` of src/core/blobs/exchange.ts) plus the workspace's manifest counts — how many
 * blobs the documents reference, how many of those this device holds, how many it lacks.
 */
export interface BlobSyncState extends BlobProgress {
  /** Distinct blobs the workspace's documents reference (deleted contacts' logos included). */
  referenced: number
  /** Referenced blobs stored here. */
  present: number
  /** Referenced blobs not stored here (pending until a live tier carries them). */
  missing: number
}

/** The blob slice before anything is known: nothing referenced, nothing moving. */
export const EMPTY_BLOB_SYNC_STATE: BlobSyncState = Object.freeze({
  transfers: [],
  queued: 0,
  completed: 0,
  failed: [],
  bytesTotal: 0,
  bytesDone: 0,
  etaMs: undefined,
  referenced: 0,
  present: 0,
  missing: 0,
}) as BlobSyncState

/**
 * The sync state of an open device (docs/architecture.md, "Sync state across tiers"): its session history (`sync_history`) and what
 * each peer is known to hold (`peer_heads`), wired once per device so the node, its in-process API
 * and the QR tier share one peer-heads learner (one listener on the Repo's sync protocol).
 */
import type { DocHandle, DocumentId } from '@automerge/automerge-repo'
import * as A from '@automerge/automerge'
import type { DeviceId } from '../../core/ids.js'
import type { Logger } from '../../core/log.js'
import { silentLogger } from '../../core/log.js'
import { sessionRecorder, type SessionRecorder, type SessionRecorderOptions, type SyncHistoryEntry } from '../../core/engine/session-recorder.js'
import { PeerHeadsLearner, peerSyncState, type PeerSyncState } from '../../core/engine/peer-state.js'
import { workspaceDocIds } from '../../core/engine/sync-session.js'
import type { SyncStore } from '../../core/sync/store.js'
import { DocHeadsStore, PeerHeadsStore, SyncHistoryStore } from '../../adapters/storage-sqlite/index.js'
import type { OrbitDevice } from './device.js'

/** Why a peer is not in sync, from the orchestrator (`Orchestrator.condition`), when one runs. */
export type ConditionProvider = (deviceId: DeviceId) => { reason?: string | undefined; detail?: string | undefined } | undefined

/** `PeerRow.sync`: the peer's state, and the reason when it is not in sync. */
export interface PeerSyncView extends PeerSyncState {
  reason?: string
  detail?: string
}

type SyncDevice = Pick<OrbitDevice, 'db' | 'repo' | 'workspace' | 'identity'>

/** One device's sync state. */
export interface DeviceSyncState {
  readonly history: SyncHistoryStore
  readonly heads: PeerHeadsStore
  readonly learner: PeerHeadsLearner
  /** The recorder options that persist every ended session and what it taught. */
  recorderOptions(logger?: Logger): SessionRecorderOptions
  /** A recorder into `store` (none for an in-process command) that persists. */
  recorder(store?: SyncStore, logger?: Logger): SessionRecorder
  /** How `deviceId`'s copy compares with ours now (no document is loaded for it). */
  peerSync(deviceId: string): PeerSyncState
  /** The heads `deviceId` is known to hold, per document (stored and not yet written). */
  knownHeads(deviceId: string): Record<string, string[]>
}

const states = new WeakMap<SyncDevice, DeviceSyncState>()

/** The sync state of `device`, made on first use (it listens to the device's Repo until it closes). */
export function deviceSyncState(device: SyncDevice): DeviceSyncState {
  let state = states.get(device)
  if (state === undefined) states.set(device, (state = create(device)))
  return state
}

function create(device: SyncDevice): DeviceSyncState {
  const history = new SyncHistoryStore(device.db)
  const heads = new PeerHeadsStore(device.db)
  const cache = new DocHeadsStore(device.db)
  // Asked on every sync message: recomputed only when the workspace's layout changes.
  let layout: { key: string; ids: string[] } | undefined
  const ids = (): string[] => {
    const key = `${device.workspace.rootUrl} ${device.workspace.shardUrls.length}`
    if (layout?.key !== key) layout = { key, ids: [...workspaceDocIds(device.workspace.rootUrl, device.workspace.shardUrls)] }
    return layout.ids
  }
  const loaded = (id: string): A.Doc<unknown> | undefined => {
    const handle = device.repo.handles[id as DocumentId] as DocHandle<unknown> | undefined
    return handle !== undefined && handle.isReady() ? (handle.doc() as A.Doc<unknown>) : undefined
  }
  const ours = (id: string): string[] | undefined => {
    const doc = loaded(id)
    return doc !== undefined ? A.getHeads(doc) : cache.heads(id)
  }
  let log: Logger = silentLogger
  const learner = new PeerHeadsLearner({
    port: heads,
    documentIds: ids,
    ours,
    contains: (id, h) => {
      const doc = loaded(id)
      return doc === undefined ? undefined : A.hasHeads(doc, [...h])
    },
    // Peer ids are device ids on every tier; only members' heads are worth keeping.
    deviceOf: (peerId) => (peerId !== device.identity.deviceId && device.workspace.memberStatus(peerId) === 'member' ? peerId : undefined),
    onError: (error) => log.warn('peer heads not stored', { error: String(error) }),
  })
  learner.observe(device.repo)
  const recorderOptions = (logger?: Logger): SessionRecorderOptions => {
    if (logger !== undefined) log = logger.forComponent('orbit:sync-state')
    return {
      // One transaction (one fsync) per ended session: its history row and the heads it taught.
      history: {
        append: (entry: SyncHistoryEntry) =>
          device.db.transaction(() => {
            history.append(entry)
            learner.flush(entry.deviceId)
          }),
        list: (query) => history.list(query),
      },
      onBegun: (init) => learner.linked(init.deviceId, init.method),
      onSummary: (deviceId, summary, method) => learner.summary(deviceId, summary, method),
      onError: (error) => log.warn('sync history not stored', { error: String(error) }),
    }
  }
  return {
    history,
    heads,
    learner,
    recorderOptions,
    recorder: (store, logger) => sessionRecorder(store, recorderOptions(logger)),
    peerSync: (deviceId) =>
      peerSyncState({
        documentIds: ids(),
        known: learner.known(deviceId),
        ours,
        loaded: (id) => {
          const doc = loaded(id)
          return doc === undefined ? undefined : { heads: A.getHeads(doc), has: (h) => A.hasHeads(doc, [...h]) }
        },
      }),
    knownHeads: (deviceId) => Object.fromEntries(learner.known(deviceId).map((r) => [r.documentId, r.heads])),
  }
}

/**
 * The row's `sync`: the state, and for any state but in sync its reason — the orchestrator's
 * condition when one is given, else what this process can tell for itself.
 */
export function peerSyncView(state: PeerSyncState, condition: ReturnType<ConditionProvider>, fallback: { reason: string; detail: string } | undefined): PeerSyncView {
  if (state.state === 'in-sync') return state
  const reason = condition?.reason ?? fallback?.reason ?? (state.state === 'unknown' ? 'never-synced' : undefined)
  const detail = condition?.detail ?? fallback?.detail ?? (state.state === 'unknown' ? 'no session with this device has told what it holds yet' : undefined)
  return { ...state, ...(reason === undefined ? {} : { reason }), ...(detail === undefined ? {} : { detail }) }
}


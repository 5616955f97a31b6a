/**
 * Peer sync states from a read-only store, without Automerge (`orbit status` without a daemon):
 * our heads from the `doc_heads` cache only, what each peer holds from `peer_heads`.
 */
import { peerSyncState, type PeerSyncState } from '../../core/engine/peer-state.js'
import { DocHeadsStore, PeerHeadsStore, type OrbitDatabase } from '../../adapters/storage-sqlite/index.js'

/** Every device anything is known of, with its state against `documentIds` (the workspace's). */
export function readOnlyPeerSync(db: OrbitDatabase, documentIds: readonly string[]): Array<{ deviceId: string; sync: PeerSyncState }> {
  const heads = new PeerHeadsStore(db)
  const cache = new DocHeadsStore(db)
  return heads.devices().map((deviceId) => ({ deviceId, sync: peerSyncState({ documentIds, known: heads.get(deviceId), ours: (id) => cache.heads(id) }) }))
}

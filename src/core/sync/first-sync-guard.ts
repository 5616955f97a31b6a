/**
 * The first-sync race, closed on Orbit's own links instead of in automerge-repo's shared files
 * (README, "Patched dependencies").
 *
 * A receiver asks a peer for a document it lacks (`request`) while that peer, on connect,
 * announces it (a `sync` message with its heads only). When the announcement arrives before the
 * data, automerge-repo 2.5 answers it with a `sync` message carrying empty heads, which Automerge
 * reads as "the peer lost everything": the holder resets and sends the whole document a second
 * time (~430 KB after a 10,000-contact LAN sync; every shard twice over WebRTC). The answer to
 * the request carries the document anyway, and the receiver's next message after applying it
 * acknowledges it — so while a document is still empty here and we have requested it from that
 * peer, a `sync` message of ours with empty heads and no changes says nothing the peer needs, and
 * is held back.
 *
 * A host app's own `Repo` is untouched: this runs in Orbit's network adapters
 * (src/core/link/link-adapter.ts), on the messages they send. Holding the reply back cannot stall
 * a sync: our next message, once the document arrived, carries our real heads; and a peer that
 * leaves is forgotten, so a reconnect behaves as upstream.
 */
import { decodeSyncMessage } from '@automerge/automerge'
import type { Message, PeerId } from '@automerge/automerge-repo'

export class FirstSyncGuard {
  /** Per peer, the documents we requested and still hold nothing of. */
  readonly #requested = new Map<PeerId, Set<string>>()
  /** Messages held back (for tests and logs). */
  held = 0

  /** Whether `message` (about to be sent) should go. Call for every outgoing message, in order. */
  outgoing(message: Message): boolean {
    const documentId = (message as { documentId?: string }).documentId
    if (documentId === undefined) return true
    if (message.type === 'request') {
      let docs = this.#requested.get(message.targetId)
      if (docs === undefined) this.#requested.set(message.targetId, (docs = new Set()))
      docs.add(documentId)
      return true
    }
    if (message.type !== 'sync') return true
    const docs = this.#requested.get(message.targetId)
    if (docs?.has(documentId) !== true) return true
    const data = (message as { data?: Uint8Array }).data
    let empty: boolean
    try {
      const decoded = decodeSyncMessage(data ?? new Uint8Array())
      empty = decoded.heads.length === 0 && decoded.changes.length === 0
    } catch {
      return true
    }
    if (!empty) {
      // The document arrived: from now on every message matters.
      docs.delete(documentId)
      return true
    }
    this.held++
    return false
  }

  /** The peer left: what we had requested from it is forgotten. */
  peerLeft(peerId: PeerId): void {
    this.#requested.delete(peerId)
  }
}

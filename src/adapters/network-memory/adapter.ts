import { NetworkAdapter } from '@automerge/automerge-repo'
import type { Message, PeerId, PeerMetadata } from '@automerge/automerge-repo'
import type { MemoryHub } from './hub.js'

/**
 * One device's port on a {@link MemoryHub}: an automerge-repo `NetworkAdapter` whose wire is the
 * hub's queues. Create it with `hub.createAdapter(name)`, hand it to `new Repo({ network: [a] })`.
 *
 * It is ready at once. `connect` puts it online (every live link to an online adapter announces
 * the peer on both sides); `disconnect` takes it offline (peers disconnected, queued messages on
 * its links dropped); `connect` again reconnects.
 */
export class MemoryNetworkAdapter extends NetworkAdapter {
  readonly #hub: MemoryHub
  #online = false

  /** @internal use {@link MemoryHub.createAdapter}. */
  constructor(hub: MemoryHub, readonly name: string) {
    super()
    this.#hub = hub
  }

  /** Whether `connect` was called (and `disconnect` was not called since). */
  get online(): boolean {
    return this.#online
  }

  isReady(): boolean {
    return true
  }

  whenReady(): Promise<void> {
    return Promise.resolve()
  }

  connect(peerId: PeerId, peerMetadata?: PeerMetadata): void {
    if (this.#online) this.disconnect()
    this.peerId = peerId
    this.peerMetadata = peerMetadata ?? {}
    this.#online = true
    this.#hub._adapterOnline(this)
  }

  send(message: Message): void {
    // A repo may still send to a peer it has not yet heard is gone: the wire drops it, as a dead socket would.
    if (!this.#online) return
    this.#hub._route(this, message)
  }

  disconnect(): void {
    if (!this.#online) return
    this.#online = false
    this.#hub._adapterOffline(this)
  }

  /** @internal called by the hub when a message comes off a link. */
  _receive(message: Message): void {
    if (!this.#online) return
    this.emit('message', message)
  }

  /** @internal called by the hub when a link to `peer` becomes live. */
  _peerUp(peer: MemoryNetworkAdapter): void {
    if (peer.peerId === undefined) return
    this.emit('peer-candidate', { peerId: peer.peerId, peerMetadata: peer.peerMetadata ?? {} })
  }

  /** @internal called by the hub when a live link to `peer` stops being live. */
  _peerDown(peerId: PeerId): void {
    this.emit('peer-disconnected', { peerId })
  }
}

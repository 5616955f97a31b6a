/**
 * The smallest tier there is: an in-memory byte pipe pair and a link host over it. It shows that
 * a transport only has to move bytes (docs/protocol/link.md), and runs the link suites fast.
 */
import type { PeerId, PeerMetadata } from '@automerge/automerge-repo'
import type { DeviceId } from '../../src/core/ids.js'
import { LinkNetworkAdapter, type LinkAdapterOptions } from '../../src/core/link/link-adapter.js'
import type { Link } from '../../src/core/link/link.js'
import type { BytePipe } from '../../src/core/link/pipe.js'

/** One end of an in-memory pipe. */
export interface MemoryPipe extends BytePipe {
  /** Everything this end sent, in order. */
  readonly sent: Uint8Array[]
}

/** One end; delivery to the other end happens on a later microtask, in order. */
class MemoryEnd implements MemoryPipe {
  readonly sent: Uint8Array[] = []
  peer: MemoryEnd | undefined
  readonly #handlers = new Set<(b: Uint8Array) => void>()
  readonly #early: Uint8Array[] = []
  readonly #closeHandlers: Array<(e: Error | undefined) => void> = []
  #closed = false
  #closeError: Error | undefined

  constructor(readonly remoteDeviceId: DeviceId) {}

  get closed(): boolean {
    return this.#closed
  }

  send(bytes: Uint8Array): void {
    if (this.#closed) return
    this.sent.push(bytes)
    const copy = bytes.slice()
    const peer = this.peer
    queueMicrotask(() => peer?.deliver(copy))
  }

  deliver(bytes: Uint8Array): void {
    if (this.#closed) return
    if (this.#handlers.size === 0) this.#early.push(bytes)
    else for (const h of this.#handlers) h(bytes)
  }

  onBytes(handler: (b: Uint8Array) => void): () => void {
    this.#handlers.add(handler)
    if (this.#handlers.size === 1) for (const b of this.#early.splice(0)) handler(b)
    return () => this.#handlers.delete(handler)
  }

  onClose(handler: (e: Error | undefined) => void): void {
    if (this.#closed) handler(this.#closeError)
    else this.#closeHandlers.push(handler)
  }

  end(error: Error | undefined): void {
    if (this.#closed) return
    this.#closed = true
    this.#closeError = error
    for (const h of this.#closeHandlers.splice(0)) h(error)
  }

  close(error?: Error): void {
    if (this.#closed) return
    const peer = this.peer
    this.end(error)
    // The peer sees an orderly end after what was already in flight.
    queueMicrotask(() => queueMicrotask(() => peer?.end(undefined)))
  }
}

/** Two connected ends: `a.remoteDeviceId` is `deviceB` and vice versa. */
export function memoryPipePair(deviceA: DeviceId, deviceB: DeviceId): [MemoryPipe, MemoryPipe] {
  const a = new MemoryEnd(deviceB)
  const b = new MemoryEnd(deviceA)
  a.peer = b
  b.peer = a
  return [a, b]
}

/** A link host over in-memory pipes: the whole transport is `attach`. */
export class MemoryLinkAdapter extends LinkNetworkAdapter<{ name: string }> {
  #ready = false
  constructor(options: LinkAdapterOptions = {}) {
    super(options)
  }
  isReady(): boolean {
    return this.#ready
  }
  whenReady(): Promise<void> {
    return Promise.resolve()
  }
  override connect(peerId: PeerId, peerMetadata?: PeerMetadata): void {
    this.#ready = true
    super.connect(peerId, peerMetadata)
  }
  disconnect(): void {
    this.leaveLinks()
    this.peerId = undefined
  }
  attach(pipe: BytePipe, dialledBy: 'local' | 'remote' = 'local'): Link<{ name: string }> {
    return this.addLink(pipe, { name: `memory:${pipe.remoteDeviceId}` }, dialledBy)
  }
  /** Every link this host holds. */
  allLinks(): Link<{ name: string }>[] {
    return this.links()
  }
}

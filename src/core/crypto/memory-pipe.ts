/**
 * An in-memory, in-order pair of {@link HandshakeIO} endpoints, delivering on microtasks
 * (deterministic; no timers). For tests and for in-process devices.
 */
import { WireError } from '../errors.js'
import type { HandshakeIO } from './channel.js'

/** One end of a memory pipe: a HandshakeIO that can also be closed (the other end's receive then rejects). */
export interface MemoryPipeEnd extends HandshakeIO {
  close(): void
  /** Every frame this end sent, in order (tests use it to replay or tamper). */
  readonly sent: Uint8Array[]
}

/** Two connected ends: what `a` sends, `b` receives and vice versa. */
export function createMemoryPipe(): [MemoryPipeEnd, MemoryPipeEnd] {
  const a = new End()
  const b = new End()
  a.peer = b
  b.peer = a
  return [a, b]
}

class End implements MemoryPipeEnd {
  peer: End | undefined
  readonly sent: Uint8Array[] = []
  #queue: Uint8Array[] = []
  #waiters: Array<{ resolve(f: Uint8Array): void; reject(e: unknown): void }> = []
  #closed = false

  send(frame: Uint8Array): void {
    if (this.#closed) throw new WireError('pipe closed', { code: 'CLOSED' })
    const copy = frame.slice()
    this.sent.push(copy)
    const peer = this.peer
    queueMicrotask(() => peer?.deliver(copy))
  }

  deliver(frame: Uint8Array): void {
    if (this.#closed) return
    const waiter = this.#waiters.shift()
    if (waiter) waiter.resolve(frame)
    else this.#queue.push(frame)
  }

  receive(signal?: AbortSignal): Promise<Uint8Array> {
    const queued = this.#queue.shift()
    if (queued) return Promise.resolve(queued)
    if (this.#closed) return Promise.reject(new WireError('pipe closed', { code: 'CLOSED' }))
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject }
      this.#waiters.push(waiter)
      signal?.addEventListener(
        'abort',
        () => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter)
          reject(signal.reason as unknown)
        },
        { once: true },
      )
    })
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const waiter of this.#waiters.splice(0)) waiter.reject(new WireError('pipe closed', { code: 'CLOSED' }))
    const peer = this.peer
    queueMicrotask(() => peer?.closeFromPeer())
  }

  closeFromPeer(): void {
    if (this.#closed) return
    this.#closed = true
    for (const waiter of this.#waiters.splice(0)) waiter.reject(new WireError('pipe closed by peer', { code: 'CLOSED' }))
  }
}

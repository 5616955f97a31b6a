/**
 * A `node:net` socket seen as a stream of frames (frames.ts), with the pull-style `receive()`
 * the handshake wants and a push-style `onFrame` for the session afterwards.
 */
import type { Socket } from 'node:net'
import { AbortedError, WireError } from '../../core/errors.js'
import { FrameDecoder, encodeFrame, encodeFrameHeader } from './frames.js'
import type { ChannelIo } from './channel-contract.js'

const MAX_QUEUED_FRAMES = 16
/** How long a flushing close waits for the peer before destroying the socket. */
export const FLUSH_MS = 1000

/** Takes one frame; `false` means "not now": see {@link FramedSocket.onFrame}. */
export type FrameHandler = (frame: Uint8Array) => boolean | void

/** A socket's frames: pulled during the handshake, pushed to a handler after it. */
export class FramedSocket {
  readonly socket: Socket
  readonly #decoder: FrameDecoder
  readonly #max: number
  readonly #queue: Uint8Array[] = []
  readonly #waiters = new Set<{ resolve: (f: Uint8Array) => void; reject: (e: Error) => void }>()
  #onFrame: FrameHandler | undefined
  /** Frames read but not yet taken by `onFrame` (it said wait), in order. */
  readonly #backlog: Uint8Array[] = []
  #paused = false
  #closed: Error | undefined
  readonly #closeListeners: Array<(error: Error | undefined) => void> = []
  bytesSent = 0
  bytesReceived = 0

  constructor(socket: Socket, maxFrameBytes: number) {
    this.socket = socket
    this.#max = maxFrameBytes
    this.#decoder = new FrameDecoder(maxFrameBytes)
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => {
      this.bytesReceived += chunk.length
      let frames: Uint8Array[]
      try {
        frames = this.#decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))
      } catch (error) {
        this.close(error as Error)
        return
      }
      for (const frame of frames) {
        if (this.#closed) return
        if (this.#paused) this.#backlog.push(frame)
        else this.#deliver(frame)
      }
    })
    socket.on('end', () => {
      try {
        this.#decoder.end()
        this.close(new WireError('connection closed by peer', { code: 'CLOSED' }))
      } catch (error) {
        this.close(error as Error)
      }
    })
    socket.on('error', (error) => this.close(new WireError(`socket error: ${error.message}`, { code: 'SOCKET', cause: error })))
    socket.on('close', () => this.close(new WireError('connection closed', { code: 'CLOSED' })))
  }

  /** The frame I/O for the handshake. */
  get io(): ChannelIo {
    return { send: (frame) => this.send(frame), receive: (signal) => this.receive(signal) }
  }

  get closedReason(): Error | undefined {
    return this.#closed
  }

  send(frame: Uint8Array): void {
    if (this.#closed) return
    const bytes = encodeFrame(frame, this.#max)
    this.bytesSent += bytes.length
    this.socket.write(bytes)
  }

  /**
   * Sends several frames (the frames of one channel message) as one write: each header and
   * payload go to the kernel as they are, gathered by one `writev`, not copied into a frame each
   * and written one syscall per frame.
   */
  sendAll(frames: readonly Uint8Array[]): void {
    if (this.#closed || frames.length === 0) return
    if (frames.length === 1) return this.send(frames[0]!)
    this.socket.cork()
    try {
      for (const frame of frames) {
        const header = encodeFrameHeader(frame.length, this.#max)
        this.bytesSent += header.length + frame.length
        this.socket.write(header)
        this.socket.write(frame)
      }
    } finally {
      this.socket.uncork()
    }
  }

  receive(signal?: AbortSignal): Promise<Uint8Array> {
    const queued = this.#queue.shift()
    if (queued) return Promise.resolve(queued)
    if (this.#closed) return Promise.reject(this.#closed)
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (f: Uint8Array) => {
          signal?.removeEventListener('abort', onAbort)
          resolve(f)
        },
        reject: (e: Error) => {
          signal?.removeEventListener('abort', onAbort)
          reject(e)
        },
      }
      const onAbort = (): void => {
        this.#waiters.delete(waiter)
        reject(new AbortedError('receive aborted', { code: 'ABORTED', cause: signal?.reason }))
      }
      if (signal?.aborted) return onAbort()
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#waiters.add(waiter)
    })
  }

  /**
   * From now on, frames go to `handler` (queued ones first) instead of `receive()`. A handler that
   * returns `false` has not taken the frame: it is kept, in order, and reading stops until
   * {@link FramedSocket.resume} (backpressure: the peer's bytes wait in its socket, not here).
   */
  set onFrame(handler: FrameHandler) {
    this.#onFrame = handler
    this.#backlog.unshift(...this.#queue.splice(0))
    this.#drain()
  }

  /** Whether reading is stopped (a frame handler said wait). */
  get paused(): boolean {
    return this.#paused
  }

  /** Reading goes on: kept frames are offered again first. */
  resume(): void {
    if (!this.#paused || this.#closed) return
    this.#paused = false
    this.#drain()
    if (!this.#paused && !this.#closed) this.socket.resume()
  }

  #drain(): void {
    while (this.#backlog.length > 0 && !this.#paused && !this.#closed) this.#deliver(this.#backlog.shift()!)
  }

  /** Stops reading until {@link FramedSocket.resume}: frames already read are kept, in order. */
  pause(): void {
    if (this.#paused || this.#closed) return
    this.#paused = true
    this.socket.pause()
  }

  #pause(frame: Uint8Array): void {
    this.#backlog.unshift(frame)
    this.pause()
  }

  onClose(listener: (error: Error | undefined) => void): void {
    if (this.#closed) listener(this.#closed)
    else this.#closeListeners.push(listener)
  }

  /**
   * Closes; idempotent. Pending `receive()`s reject with `error`, close listeners run now. With
   * `flush`, what was written still goes out (a goodbye, an `unsupported` notice): the socket is
   * ended and destroyed when the peer closes too, or after {@link FLUSH_MS}. Without it, destroyed
   * at once (a peer sending garbage gets nothing more).
   */
  close(error: Error = new WireError('connection closed', { code: 'CLOSED' }), options: { flush?: boolean } = {}): void {
    if (this.#closed) return
    this.#closed = error
    this.#queue.length = 0
    this.#backlog.length = 0
    for (const waiter of this.#waiters) waiter.reject(error)
    this.#waiters.clear()
    if (options.flush === true && !this.socket.destroyed) {
      const timer = setTimeout(() => this.socket.destroy(), FLUSH_MS)
      timer.unref()
      this.socket.once('close', () => clearTimeout(timer))
      this.socket.once('end', () => this.socket.destroy())
      this.socket.end()
    } else this.socket.destroy()
    for (const listener of this.#closeListeners.splice(0)) listener(error)
  }

  #deliver(frame: Uint8Array): void {
    if (this.#onFrame) {
      if (this.#onFrame(frame) === false) this.#pause(frame)
      return
    }
    const waiter = this.#waiters.values().next().value
    if (waiter) {
      this.#waiters.delete(waiter)
      waiter.resolve(frame)
    } else if (this.#queue.length >= MAX_QUEUED_FRAMES) {
      // Before the session takes over only the handshake reads, one frame at a time: a peer
      // that floods us here is not speaking the protocol.
      this.close(new WireError('too many unread frames', { code: 'FLOOD' }))
    } else {
      this.#queue.push(frame)
    }
  }
}

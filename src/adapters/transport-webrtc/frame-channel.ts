/**
 * Turns one werift data channel into an ordered stream of frames of any size: each frame is cut
 * into data-channel messages under the peer's SCTP max-message-size, and writes wait while the
 * channel's send buffer is above a high-water mark (backpressure through `bufferedamountlow`).
 *
 * Channel framing (docs/protocol/webrtc.md): `message := u8 flags • bytes`, flags bit 0 = "more
 * fragments of this frame follow". A frame is the concatenation of its fragments. A message that is
 * exactly `0x02` says goodbye: the sender is closing (werift would otherwise only notice through ICE
 * consent expiry, ~30 s later).
 */
import type { RTCDataChannel } from 'werift'
import { AbortedError, WebRtcError } from '../../core/errors.js'
import { concatAll } from '../../core/crypto/bytes.js'

const GOODBYE = 0x02

/** Largest frame the reader reassembles; above it the peer is misbehaving. */
export const MAX_FRAME_BYTES = 1 << 20

/** Options for {@link FrameChannel}. */
export interface FrameChannelOptions {
  /** Largest data-channel message to send, including the 1-byte header. Default 16 KiB. */
  readonly chunkBytes?: number
  /** Writes wait while more than this many bytes are buffered. Default 64 KiB (werift's SCTP loses throughput to deeper queues). */
  readonly highWaterMark?: number
  /** They resume once the buffer drains to this. Default 16 KiB. */
  readonly lowWaterMark?: number
}

type Waiter = { resolve: (frame: Uint8Array) => void; reject: (error: Error) => void }

/**
 * Frame stream over an OPEN data channel. Construct it only after the channel's `open` event
 * (and, on the offering side, after the answer was applied): writing earlier is the roadmap defect
 * this type exists to rule out, so the constructor refuses a channel that is not open.
 */
export class FrameChannel {
  readonly #dc: RTCDataChannel
  readonly #chunk: number
  readonly #high: number
  readonly #queue: Uint8Array[] = []
  readonly #waiters: Waiter[] = []
  readonly #closeHandlers = new Set<(error: Error | undefined) => void>()
  #partial: Uint8Array[] = []
  #partialBytes = 0
  #closed: Error | undefined | null = null
  #drain: (() => void)[] = []
  #sendChain: Promise<void> = Promise.resolve()
  /** Bytes of frames handed to the channel, for session statistics. */
  bytesSent = 0
  bytesReceived = 0

  constructor(dc: RTCDataChannel, options: FrameChannelOptions = {}) {
    if (dc.readyState !== 'open') throw new WebRtcError('data channel is not open yet', { code: 'CHANNEL_NOT_OPEN' })
    this.#dc = dc
    const remoteMax = dc.sctp.remoteMaxMessageSize ?? 65536
    const limit = remoteMax === 0 ? 65536 : remoteMax
    this.#chunk = Math.max(2, Math.min(options.chunkBytes ?? 16 * 1024, limit))
    this.#high = options.highWaterMark ?? 64 * 1024
    dc.bufferedAmountLowThreshold = options.lowWaterMark ?? 16 * 1024
    dc.bufferedAmountLow.subscribe(() => this.#wake())
    dc.onMessage.subscribe((data) => this.#onMessage(data))
    dc.stateChanged.subscribe((state) => {
      if (state === 'closed' || state === 'closing') this.#finish(undefined)
    })
  }

  /** True once the channel closed (either side) or {@link close} was called. */
  get closed(): boolean {
    return this.#closed !== null
  }

  /** Called once when the stream ends: `undefined` for an orderly close, the error otherwise. */
  onClose(handler: (error: Error | undefined) => void): void {
    if (this.#closed !== null) handler(this.#closed)
    else this.#closeHandlers.add(handler)
  }

  /**
   * Queues one frame. Resolves when all its fragments were handed to SCTP; waits first while the
   * send buffer is above the high-water mark. Frames keep their order across concurrent calls.
   */
  send(frame: Uint8Array): Promise<void> {
    const next = this.#sendChain.then(() => this.#write(frame))
    // The chain must survive a failed write so later sends report the close, not hang.
    this.#sendChain = next.catch(() => undefined)
    return next
  }

  async #write(frame: Uint8Array): Promise<void> {
    const body = this.#chunk - 1
    for (let offset = 0; offset < frame.length || offset === 0; offset += body) {
      if (this.#closed !== null) throw this.#closedError()
      while (this.#dc.bufferedAmount > this.#high) {
        await new Promise<void>((resolve) => this.#drain.push(resolve))
        if (this.#closed !== null) throw this.#closedError()
      }
      const end = Math.min(frame.length, offset + body)
      const message = Buffer.allocUnsafe(1 + end - offset)
      message[0] = end < frame.length ? 1 : 0
      message.set(frame.subarray(offset, end), 1)
      this.#dc.send(message)
      if (frame.length === 0) break
    }
    this.bytesSent += frame.length
  }

  /** The next frame; rejects with the close error (or `WebRtcError` `CHANNEL_CLOSED`) when the stream ended. */
  receive(signal?: AbortSignal): Promise<Uint8Array> {
    const ready = this.#queue.shift()
    if (ready !== undefined) return Promise.resolve(ready)
    if (this.#closed !== null) return Promise.reject(this.#closedError())
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { resolve, reject }
      this.#waiters.push(waiter)
      signal?.addEventListener(
        'abort',
        () => {
          const i = this.#waiters.indexOf(waiter)
          if (i >= 0) this.#waiters.splice(i, 1)
          reject(new AbortedError('receive aborted', { cause: signal.reason }))
        },
        { once: true },
      )
    })
  }

  /**
   * Tells the peer we are closing (best effort: waits up to `maxWaitMs` for the goodbye to leave
   * the send buffer), then closes. Use before closing the peer connection.
   */
  async goodbye(error?: Error, maxWaitMs = 250): Promise<void> {
    if (this.#closed === null && this.#dc.readyState === 'open') {
      try {
        this.#dc.send(Buffer.from([GOODBYE]))
        const deadline = Date.now() + maxWaitMs
        while (this.#dc.bufferedAmount > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
      } catch {
        // The channel is already going away; closing is all that is left.
      }
    }
    this.close(error)
  }

  /** Closes the channel; pending receivers get `error` (or `CHANNEL_CLOSED`). Idempotent. */
  close(error?: Error): void {
    this.#finish(error)
    try {
      this.#dc.close()
    } catch {
      // Already closed by the transport: nothing left to release.
    }
  }

  #onMessage(data: string | Uint8Array): void {
    if (this.#closed !== null) return
    if (typeof data === 'string' || data.length === 0) {
      this.close(new WebRtcError('peer sent a non-binary or empty data-channel message', { code: 'CHANNEL_PROTOCOL' }))
      return
    }
    const flags = data[0] as number
    if (flags === GOODBYE && data.length === 1 && this.#partialBytes === 0) {
      this.close()
      return
    }
    if (flags > 1) {
      this.close(new WebRtcError('peer sent a data-channel message with unknown flags', { code: 'CHANNEL_PROTOCOL' }))
      return
    }
    this.#partialBytes += data.length - 1
    if (this.#partialBytes > MAX_FRAME_BYTES) {
      this.close(new WebRtcError('peer sent an oversized frame', { code: 'CHANNEL_PROTOCOL' }))
      return
    }
    // Copy: werift reuses nothing, but a Buffer view must not outlive our reassembly.
    this.#partial.push(Uint8Array.prototype.slice.call(data, 1))
    if (flags === 1) return
    const frame = this.#partial.length === 1 ? (this.#partial[0] as Uint8Array) : concatAll(this.#partial)
    this.#partial = []
    this.#partialBytes = 0
    this.bytesReceived += frame.length
    const waiter = this.#waiters.shift()
    if (waiter !== undefined) waiter.resolve(frame)
    else this.#queue.push(frame)
  }

  #wake(): void {
    const drain = this.#drain
    this.#drain = []
    for (const resolve of drain) resolve()
  }

  #closedError(): Error {
    return this.#closed ?? new WebRtcError('data channel closed', { code: 'CHANNEL_CLOSED' })
  }

  #finish(error: Error | undefined): void {
    if (this.#closed !== null) return
    this.#closed = error
    // After an error nothing more is delivered; after an orderly close, frames already received still are.
    if (error !== undefined) this.#queue.length = 0
    const waiters = this.#waiters.splice(0)
    for (const w of waiters) w.reject(this.#closedError())
    this.#wake()
    for (const handler of this.#closeHandlers) handler(error)
    this.#closeHandlers.clear()
  }
}

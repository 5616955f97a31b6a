/**
 * TCP framing (docs/protocol/lan.md):
 *
 *     frame := u8 version(=1) • u32be length • bytes[length]      length ≤ maxFrameBytes
 *
 * The payload of every frame is one secure-channel message (a handshake message, or a
 * ciphertext). The decoder checks the version and the length from the 5-byte header *before*
 * buffering the body, so a peer cannot make us allocate more than `maxFrameBytes` per frame.
 * Platform-free (Uint8Array only) so a React Native TCP adapter can reuse it.
 */
import { WireError } from '../../core/errors.js'

/** The framing version this build writes and accepts. */
export const FRAME_VERSION = 1
/** Header bytes before each payload. */
export const FRAME_HEADER_BYTES = 5
/**
 * Default largest payload: a Noise transport message is at most 65 535 bytes (the channel
 * splits larger repo messages), plus room for the channel's own small header.
 */
export const DEFAULT_MAX_FRAME_BYTES = 65_535 + 64

/** Encodes one frame (header + payload) into a new array. */
export function encodeFrame(payload: Uint8Array, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES + payload.length)
  writeHeader(out, payload.length, maxFrameBytes)
  out.set(payload, FRAME_HEADER_BYTES)
  return out
}

/** The 5-byte header of a frame whose payload is `length` bytes (the payload follows it as it is). */
export function encodeFrameHeader(length: number, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES)
  writeHeader(out, length, maxFrameBytes)
  return out
}

function writeHeader(out: Uint8Array, n: number, maxFrameBytes: number): void {
  if (n > maxFrameBytes) throw new WireError(`frame payload of ${n} bytes exceeds ${maxFrameBytes}`, { code: 'FRAME_TOO_LARGE' })
  out[0] = FRAME_VERSION
  out[1] = (n >>> 24) & 0xff
  out[2] = (n >>> 16) & 0xff
  out[3] = (n >>> 8) & 0xff
  out[4] = n & 0xff
}

/**
 * Incremental frame decoder for a byte stream. `push` returns the frames completed by a chunk;
 * it throws WireError (codes `FRAME_VERSION`, `FRAME_TOO_LARGE`) on a bad header, after which the
 * decoder is poisoned and the connection must be dropped. `end()` throws `FRAME_TRUNCATED` if the
 * stream stopped inside a frame.
 */
export class FrameDecoder {
  readonly #max: number
  #chunks: Uint8Array[] = []
  #buffered = 0
  /** Payload length of the frame being read, once its header is known. */
  #need: number | undefined
  #failed: WireError | undefined

  constructor(maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {
    this.#max = maxFrameBytes
  }

  /** Bytes held for an incomplete frame. */
  get buffered(): number {
    return this.#buffered
  }

  push(chunk: Uint8Array): Uint8Array[] {
    if (this.#failed) throw this.#failed
    if (chunk.length > 0) {
      this.#chunks.push(chunk)
      this.#buffered += chunk.length
    }
    const frames: Uint8Array[] = []
    for (;;) {
      if (this.#need === undefined) {
        if (this.#buffered < FRAME_HEADER_BYTES) break
        const header = this.#take(FRAME_HEADER_BYTES)
        const version = header[0]!
        const length = ((header[1]! << 24) >>> 0) + ((header[2]! << 16) | (header[3]! << 8) | header[4]!)
        if (version !== FRAME_VERSION) {
          throw this.#fail(new WireError(`unsupported frame version ${version}`, { code: 'FRAME_VERSION' }))
        }
        if (length > this.#max) {
          throw this.#fail(new WireError(`frame of ${length} bytes exceeds ${this.#max}`, { code: 'FRAME_TOO_LARGE' }))
        }
        this.#need = length
      }
      if (this.#buffered < this.#need) break
      frames.push(this.#take(this.#need))
      this.#need = undefined
    }
    return frames
  }

  /** Call when the stream ends; throws if it ended mid-frame. */
  end(): void {
    if (this.#failed) return
    if (this.#buffered > 0 || this.#need !== undefined) {
      throw this.#fail(new WireError('stream ended inside a frame', { code: 'FRAME_TRUNCATED' }))
    }
  }

  #fail(error: WireError): WireError {
    this.#failed = error
    this.#chunks = []
    this.#buffered = 0
    return error
  }

  /** Removes and returns the first `n` buffered bytes (n ≤ buffered). */
  #take(n: number): Uint8Array {
    if (n === 0) return new Uint8Array(0)
    const first = this.#chunks[0]!
    if (first.length === n) {
      this.#chunks.shift()
      this.#buffered -= n
      return first
    }
    if (first.length > n) {
      this.#chunks[0] = first.subarray(n)
      this.#buffered -= n
      return first.subarray(0, n)
    }
    const out = new Uint8Array(n)
    let offset = 0
    while (offset < n) {
      const chunk = this.#chunks[0]!
      const part = Math.min(chunk.length, n - offset)
      out.set(chunk.subarray(0, part), offset)
      offset += part
      if (part === chunk.length) this.#chunks.shift()
      else this.#chunks[0] = chunk.subarray(part)
    }
    this.#buffered -= n
    return out
  }
}

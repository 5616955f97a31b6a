/**
 * QR frames, version 1: one fountain symbol per QR code, binary (QR byte mode), self-describing
 * and checksummed. Byte layout (big-endian), also in docs/protocol/qr.md:
 *
 * ```
 * frame := u8 magic 0x4F ('O') • u8 version 0x01 • bundleId[4] • u16 k • u32 bundleLength
 *          • u32 index • symbol[blockSize] • u32 crc32(all preceding bytes)
 * ```
 *
 * `bundleId` is the first 4 bytes of SHA-256(bundle): frames of another bundle are told apart, and
 * the decoded bundle is checked against it. `blockSize` is implied by the frame's length and must
 * equal `ceil(bundleLength / k)`.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { QrError } from '../errors.js'
import { crc32 } from './crc32.js'
import { FountainDecoder, FountainEncoder, fountainLayout } from './fountain.js'

export const FRAME_MAGIC = 0x4f
export const FRAME_VERSION = 1
/** Bytes of a frame that are not symbol: 16 of header + 4 of CRC. */
export const FRAME_OVERHEAD = 20
/**
 * Largest frame that fits QR version 25 at error-correction level L in byte mode (1,273 bytes).
 * We stop at 25 because denser codes are hard for phone cameras to resolve.
 */
export const MAX_QR_FRAME_BYTES = 1273
/** Default (and largest) symbol size: 1,253 payload bytes per frame at QR version 25-L. */
export const DEFAULT_PAYLOAD_SIZE = MAX_QR_FRAME_BYTES - FRAME_OVERHEAD
const MAX_K = 0xffff

/** A parsed, checksum-verified frame. */
export interface Frame {
  version: number
  /** 8 lower-case hex characters. */
  bundleId: string
  k: number
  bundleLength: number
  index: number
  symbol: Uint8Array
}

function hex(bytes: Uint8Array): string {
  let s = ''
  for (const b of bytes) s += b.toString(16).padStart(2, '0')
  return s
}

/** The 4-byte id of a bundle, as hex. */
export function bundleIdOf(bundle: Uint8Array): string {
  return hex(sha256(bundle).subarray(0, 4))
}

/**
 * The default number of frames to export for `k` source blocks: one frame when the bundle fits
 * one (a single static code), else enough that a quarter of them may be lost, plus two spare
 * frames for the rare dependent combination.
 */
export function defaultFrameCount(k: number): number {
  return k === 1 ? 1 : Math.ceil(k / 0.75) + 2
}

export interface EncodeFramesOptions {
  /** How many frames to produce (≥ 1). Defaults to {@link defaultFrameCount}. */
  frameCount?: number
  /** Largest symbol per frame, bytes. Defaults to {@link DEFAULT_PAYLOAD_SIZE}. */
  payloadSize?: number
}

/**
 * Cuts a bundle into fountain-coded frames: frames `0..k-1` are the bundle's blocks, later ones
 * repair frames. Any `k` (rarely `k+1`) distinct frames rebuild it.
 *
 * @example
 * const frames = encodeFrames(bundle)            // survives a quarter of them lost
 * const more = encodeFrames(bundle, { frameCount: 40 })
 */
export function encodeFrames(bundle: Uint8Array, options: EncodeFramesOptions = {}): Uint8Array[] {
  if (bundle.length === 0) throw new QrError('cannot encode an empty bundle', { code: 'QR_EMPTY' })
  const payloadSize = options.payloadSize ?? DEFAULT_PAYLOAD_SIZE
  if (!Number.isInteger(payloadSize) || payloadSize < 1) {
    throw new QrError('payloadSize must be a positive integer', { code: 'QR_OPTIONS' })
  }
  const { k, blockSize } = fountainLayout(bundle.length, payloadSize)
  if (k > MAX_K) throw new QrError(`bundle too large for QR transfer (${k} blocks > ${MAX_K})`, { code: 'QR_TOO_LARGE' })
  const frameCount = options.frameCount ?? defaultFrameCount(k)
  if (!Number.isInteger(frameCount) || frameCount < 1) {
    throw new QrError('frameCount must be a positive integer', { code: 'QR_OPTIONS' })
  }
  const encoder = new FountainEncoder(bundle, blockSize)
  const id = sha256(bundle).subarray(0, 4)
  const frames: Uint8Array[] = []
  for (let index = 0; index < frameCount; index++) {
    frames.push(buildFrame(id, k, bundle.length, index, encoder.symbol(index)))
  }
  return frames
}

function buildFrame(id: Uint8Array, k: number, length: number, index: number, symbol: Uint8Array): Uint8Array {
  const frame = new Uint8Array(FRAME_OVERHEAD + symbol.length)
  const view = new DataView(frame.buffer)
  frame[0] = FRAME_MAGIC
  frame[1] = FRAME_VERSION
  frame.set(id, 2)
  view.setUint16(6, k)
  view.setUint32(8, length)
  view.setUint32(12, index)
  frame.set(symbol, 16)
  view.setUint32(frame.length - 4, crc32(frame.subarray(0, frame.length - 4)))
  return frame
}

/** Parses and verifies one frame. Throws {@link QrError} (never anything else) on any defect. */
export function parseFrame(bytes: Uint8Array): Frame {
  if (!(bytes instanceof Uint8Array)) throw new QrError('frame is not bytes', { code: 'QR_FRAME' })
  if (bytes.length < FRAME_OVERHEAD + 1) throw new QrError('frame too short', { code: 'QR_FRAME' })
  if (bytes[0] !== FRAME_MAGIC) throw new QrError('not an Orbit QR frame (bad magic)', { code: 'QR_FRAME' })
  if (bytes[1] !== FRAME_VERSION) {
    throw new QrError(`unsupported QR frame version ${bytes[1]}`, { code: 'QR_VERSION' })
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (view.getUint32(bytes.length - 4) !== crc32(bytes.subarray(0, bytes.length - 4))) {
    throw new QrError('QR frame checksum mismatch', { code: 'QR_CHECKSUM' })
  }
  const k = view.getUint16(6)
  const bundleLength = view.getUint32(8)
  const index = view.getUint32(12)
  const symbol = bytes.slice(16, bytes.length - 4)
  if (k === 0 || bundleLength === 0 || Math.ceil(bundleLength / symbol.length) !== k) {
    throw new QrError('QR frame header is inconsistent', { code: 'QR_FRAME' })
  }
  return { version: FRAME_VERSION, bundleId: hex(bytes.subarray(2, 6)), k, bundleLength, index, symbol }
}

export type PushStatus = 'accepted' | 'duplicate' | 'foreign' | 'corrupt' | 'complete'

/** What {@link FrameDecoder.push} reports: the frame's fate and the progress ("7 of ≈12 frames"). */
export interface PushResult {
  status: PushStatus
  /** Useful frames so far (independent symbols). */
  received: number
  /** Frames needed in all: `k` (one more in ≈1 of 256 transfers); 0 before the first good frame. */
  needed: number
  /** Why a frame was refused, for `corrupt`. */
  error?: QrError
}

/**
 * Reassembles a bundle from frames pushed in any order. Locks onto the bundle of the first valid
 * frame (or the `bundleId` given); frames of other bundles are `foreign`, damaged ones `corrupt`,
 * repeats and frames that add nothing `duplicate`. Never throws on bad input.
 *
 * @example
 * const dec = new FrameDecoder()
 * for (const f of frames) if (dec.push(f).status === 'complete') break
 * const bundle = dec.result()
 */
export class FrameDecoder {
  readonly #fixedId: string | undefined
  #bundleId: string | undefined
  #decoder: FountainDecoder | undefined
  #result: Uint8Array | undefined

  constructor(options: { bundleId?: string } = {}) {
    this.#fixedId = options.bundleId
    this.#bundleId = options.bundleId
  }

  /** The id of the bundle being assembled, once known. */
  get bundleId(): string | undefined {
    return this.#bundleId
  }

  push(bytes: Uint8Array): PushResult {
    let frame: Frame
    try {
      frame = parseFrame(bytes)
    } catch (error) {
      return this.#report('corrupt', error instanceof QrError ? error : new QrError('bad frame', { cause: error }))
    }
    if (this.#bundleId !== undefined && frame.bundleId !== this.#bundleId) return this.#report('foreign')
    const dec = this.#decoder
    if (dec === undefined) {
      this.#bundleId = frame.bundleId
      this.#decoder = new FountainDecoder(frame.k, frame.symbol.length, frame.bundleLength)
    } else if (dec.k !== frame.k || dec.blockSize !== frame.symbol.length || dec.messageLength !== frame.bundleLength) {
      return this.#report('corrupt', new QrError('frame disagrees with its bundle header', { code: 'QR_FRAME' }))
    }
    if (this.#result !== undefined) return this.#report('complete')
    const decoder = this.#decoder!
    if (!decoder.add(frame.index, frame.symbol)) return this.#report('duplicate')
    if (!decoder.isComplete) return this.#report('accepted')
    const bundle = decoder.result()!
    if (bundleIdOf(bundle) !== this.#bundleId) {
      // Only a CRC collision or a forged frame gets here; start over rather than return garbage.
      this.#decoder = undefined
      this.#bundleId = this.#fixedId
      return this.#report('corrupt', new QrError('reassembled bundle does not match its id', { code: 'QR_CHECKSUM' }))
    }
    this.#result = bundle
    return this.#report('complete')
  }

  /** The bundle once complete, else `undefined`. */
  result(): Uint8Array | undefined {
    return this.#result
  }

  /** Progress without pushing. */
  get progress(): { received: number; needed: number } {
    return { received: this.#decoder?.rank ?? 0, needed: this.#decoder?.k ?? 0 }
  }

  #report(status: PushStatus, error?: QrError): PushResult {
    const result: PushResult = { status, ...this.progress }
    if (error !== undefined) result.error = error
    return result
  }
}

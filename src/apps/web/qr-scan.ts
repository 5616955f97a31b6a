/**
 * Camera QR scanning in the page: each video frame is drawn to a canvas, read by jsQR as binary,
 * and pushed into core's `FrameDecoder` (src/core/qr/frame.ts) — the same decoder the CLI uses,
 * running in the browser unchanged.
 */
import jsQR from 'jsqr'
import { FrameDecoder, type PushResult } from '../../core/qr/frame.js'

/** Progress of a scan, for "7 of ≈12 frames". */
export interface ScanProgress {
  received: number
  needed: number
  /** Video frames looked at, and how many of them held a readable QR code. */
  looked: number
  read: number
  /** Codes that belong to another bundle (another workspace's or an old export). */
  foreign: number
  corrupt: number
  last: PushResult['status'] | undefined
  /** Milliseconds from the first readable code to now (or to completion). */
  elapsedMs: number
  /** Milliseconds from the first camera frame looked at to now (or to completion). */
  scanMs: number
}

/** Reads QR frames from a `<video>` until the bundle is complete or `signal` aborts. */
export class CameraScanner {
  readonly decoder = new FrameDecoder()
  readonly progress: ScanProgress = { received: 0, needed: 0, looked: 0, read: 0, foreign: 0, corrupt: 0, last: undefined, elapsedMs: 0, scanMs: 0 }
  readonly #canvas = document.createElement('canvas')
  readonly #ctx: CanvasRenderingContext2D
  #firstRead: number | undefined
  #firstLook: number | undefined

  constructor() {
    const ctx = this.#canvas.getContext('2d', { willReadFrequently: true })
    if (ctx === null) throw new Error('this browser has no 2D canvas')
    this.#ctx = ctx
  }

  /** Decodes the video's current frame; returns the bundle once complete. */
  scan(video: HTMLVideoElement): Uint8Array | undefined {
    const w = video.videoWidth
    const h = video.videoHeight
    if (w === 0 || h === 0) return undefined
    if (this.#canvas.width !== w) this.#canvas.width = w
    if (this.#canvas.height !== h) this.#canvas.height = h
    this.#ctx.drawImage(video, 0, 0, w, h)
    const image = this.#ctx.getImageData(0, 0, w, h)
    this.progress.looked++
    this.#firstLook ??= performance.now()
    this.progress.scanMs = performance.now() - this.#firstLook
    const code = jsQR(image.data, w, h, { inversionAttempts: 'dontInvert' })
    if (code === null) return undefined
    this.progress.read++
    const now = performance.now()
    this.#firstRead ??= now
    this.progress.elapsedMs = now - this.#firstRead
    const result = this.decoder.push(Uint8Array.from(code.binaryData))
    this.progress.received = result.received
    this.progress.needed = result.needed
    this.progress.last = result.status
    if (result.status === 'foreign') this.progress.foreign++
    if (result.status === 'corrupt') this.progress.corrupt++
    return this.decoder.result()
  }
}

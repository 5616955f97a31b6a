/**
 * A Y4M video (YUV4MPEG2, 4:2:0 "C420jpeg", progressive) from RGBA images, for Chromium's fake
 * camera: each image centred on a white canvas, held for `hold` video frames. RGB → Y′CbCr with the
 * full-range BT.601 matrix (JPEG's, which C420jpeg names), chroma averaged over each 2×2 block.
 */
import { PNG } from 'pngjs'

/** One RGBA image. */
export interface RgbaImage {
  width: number
  height: number
  data: Uint8Array
}

/** Decodes a PNG into RGBA. */
export function pngToRgba(png: Uint8Array): RgbaImage {
  const img = PNG.sync.read(Buffer.from(png))
  return { width: img.width, height: img.height, data: new Uint8Array(img.data) }
}

/** Converts one RGBA image (placed centred on white `width`×`height`) to I420 planes. */
export function toI420(image: RgbaImage, width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height * 1.5)
  const rgb = new Uint8Array(width * height * 3).fill(255)
  const ox = Math.floor((width - image.width) / 2)
  const oy = Math.floor((height - image.height) / 2)
  for (let y = 0; y < image.height; y++) {
    const ty = y + oy
    if (ty < 0 || ty >= height) continue
    for (let x = 0; x < image.width; x++) {
      const tx = x + ox
      if (tx < 0 || tx >= width) continue
      const s = (y * image.width + x) * 4
      const d = (ty * width + tx) * 3
      rgb[d] = image.data[s]!
      rgb[d + 1] = image.data[s + 1]!
      rgb[d + 2] = image.data[s + 2]!
    }
  }
  const uOff = width * height
  const vOff = uOff + (width / 2) * (height / 2)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = (y * width + x) * 3
      out[y * width + x] = clamp(0.299 * rgb[p]! + 0.587 * rgb[p + 1]! + 0.114 * rgb[p + 2]!)
    }
  }
  for (let y = 0; y < height / 2; y++) {
    for (let x = 0; x < width / 2; x++) {
      let r = 0
      let g = 0
      let b = 0
      for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]] as const) {
        const p = ((2 * y + dy) * width + 2 * x + dx) * 3
        r += rgb[p]!
        g += rgb[p + 1]!
        b += rgb[p + 2]!
      }
      r /= 4
      g /= 4
      b /= 4
      out[uOff + y * (width / 2) + x] = clamp(128 - 0.168736 * r - 0.331264 * g + 0.5 * b)
      out[vOff + y * (width / 2) + x] = clamp(128 + 0.5 * r - 0.418688 * g - 0.081312 * b)
    }
  }
  return out
}

const clamp = (v: number): number => Math.max(0, Math.min(255, Math.round(v)))

/** The whole Y4M file: a header, then `FRAME\n` + I420 planes per video frame. */
export function y4mVideo(images: RgbaImage[], o: { width: number; height: number; fps: number; hold: number }): Buffer {
  if (o.width % 2 !== 0 || o.height % 2 !== 0) throw new RangeError('Y4M 4:2:0 needs even dimensions')
  const parts: Buffer[] = [Buffer.from(`YUV4MPEG2 W${o.width} H${o.height} F${o.fps}:1 Ip A1:1 C420jpeg\n`)]
  for (const image of images) {
    const planes = Buffer.from(toI420(image, o.width, o.height))
    for (let i = 0; i < o.hold; i++) parts.push(Buffer.from('FRAME\n'), planes)
  }
  return Buffer.concat(parts)
}

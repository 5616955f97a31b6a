/**
 * Pixel degradations that imitate a phone camera filming a screen, written on raw RGBA buffers
 * (pngjs), so that tests decode real pixels: rescaling, blur, rotation, sensor noise, contrast loss.
 */
import { PNG } from 'pngjs'

export interface Image {
  width: number
  height: number
  /** RGBA, 4 bytes per pixel. */
  data: Uint8Array
}

export function readPng(buffer: Uint8Array): Image {
  const png = PNG.sync.read(Buffer.from(buffer))
  return { width: png.width, height: png.height, data: new Uint8Array(png.data) }
}

export function writePng(image: Image): Buffer {
  const png = new PNG({ width: image.width, height: image.height })
  png.data.set(image.data)
  return PNG.sync.write(png)
}

function gray(image: Image): Float32Array {
  const g = new Float32Array(image.width * image.height)
  for (let i = 0; i < g.length; i++) g[i] = (image.data[i * 4]! * 0.299 + image.data[i * 4 + 1]! * 0.587 + image.data[i * 4 + 2]! * 0.114)
  return g
}

function fromGray(g: Float32Array, width: number, height: number): Image {
  const data = new Uint8Array(width * height * 4)
  for (let i = 0; i < g.length; i++) {
    const v = Math.max(0, Math.min(255, Math.round(g[i]!)))
    data[i * 4] = v
    data[i * 4 + 1] = v
    data[i * 4 + 2] = v
    data[i * 4 + 3] = 255
  }
  return { width, height, data }
}

function sample(g: Float32Array, width: number, height: number, x: number, y: number, background = 255): number {
  const x0 = Math.floor(x)
  const y0 = Math.floor(y)
  const fx = x - x0
  const fy = y - y0
  const at = (xx: number, yy: number): number => (xx < 0 || yy < 0 || xx >= width || yy >= height ? background : g[yy * width + xx]!)
  return (at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx) * (1 - fy) + (at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx) * fy
}

/** Bilinear resize to `factor` × the size. */
export function resize(image: Image, factor: number): Image {
  const g = gray(image)
  const w = Math.max(1, Math.round(image.width * factor))
  const h = Math.max(1, Math.round(image.height * factor))
  const out = new Float32Array(w * h)
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) out[y * w + x] = sample(g, image.width, image.height, (x + 0.5) / factor - 0.5, (y + 0.5) / factor - 0.5)
  }
  return fromGray(out, w, h)
}

/** Box blur of the given radius (separable). */
export function boxBlur(image: Image, radius: number): Image {
  const taps = Array.from({ length: 2 * radius + 1 }, () => 1 / (2 * radius + 1))
  return convolve(image, taps)
}

/** Gaussian blur with standard deviation `sigma` (separable, 3σ kernel). */
export function gaussianBlur(image: Image, sigma: number): Image {
  const r = Math.ceil(3 * sigma)
  const taps = Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)))
  const sum = taps.reduce((a, b) => a + b, 0)
  return convolve(image, taps.map((t) => t / sum))
}

function convolve(image: Image, taps: number[]): Image {
  const { width: w, height: h } = image
  const r = (taps.length - 1) / 2
  const g = gray(image)
  const tmp = new Float32Array(w * h)
  const out = new Float32Array(w * h)
  const clamp = (v: number, max: number): number => (v < 0 ? 0 : v > max ? max : v)
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0
      for (let t = -r; t <= r; t++) s += g[y * w + clamp(x + t, w - 1)]! * taps[t + r]!
      tmp[y * w + x] = s
    }
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0
      for (let t = -r; t <= r; t++) s += tmp[clamp(y + t, h - 1) * w + x]! * taps[t + r]!
      out[y * w + x] = s
    }
  }
  return fromGray(out, w, h)
}

/** Rotation by `degrees` about the centre, bilinear sampling, white where the source ends. */
export function rotate(image: Image, degrees: number): Image {
  const { width: w, height: h } = image
  const g = gray(image)
  const a = (degrees * Math.PI) / 180
  const cos = Math.cos(a)
  const sin = Math.sin(a)
  // The canvas grows so that the whole rotated picture stays in view, as it would in a camera frame.
  const W = Math.ceil(Math.abs(w * cos) + Math.abs(h * sin))
  const H = Math.ceil(Math.abs(w * sin) + Math.abs(h * cos))
  const cx = (w - 1) / 2
  const cy = (h - 1) / 2
  const out = new Float32Array(W * H)
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const dx = x - (W - 1) / 2
      const dy = y - (H - 1) / 2
      out[y * W + x] = sample(g, w, h, cx + dx * cos + dy * sin, cy - dx * sin + dy * cos)
    }
  }
  return fromGray(out, W, H)
}

/** Seeded additive Gaussian-ish noise (sum of uniforms) with standard deviation ≈ `sigma`. */
export function addNoise(image: Image, sigma: number, seed = 1): Image {
  let s = seed >>> 0 || 1
  const rnd = (): number => {
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    return (s >>> 0) / 0x100000000
  }
  const g = gray(image)
  for (let i = 0; i < g.length; i++) g[i] = g[i]! + (rnd() + rnd() + rnd() + rnd() - 2) * sigma * 1.732
  return fromGray(g, image.width, image.height)
}

/**
 * What a screen filmed and JPEG-compressed looks like: contrast squeezed into [low, high] (a grey
 * black, a grey white) and each 8×8 block's detail partly flattened toward its mean.
 */
export function contrastLoss(image: Image, low: number, high: number, flatten = 0.25): Image {
  const { width: w, height: h } = image
  const g = gray(image)
  for (let i = 0; i < g.length; i++) g[i] = low + (g[i]! / 255) * (high - low)
  for (let by = 0; by < h; by += 8) {
    for (let bx = 0; bx < w; bx += 8) {
      let sum = 0
      let n = 0
      for (let y = by; y < Math.min(h, by + 8); y++) {
        for (let x = bx; x < Math.min(w, bx + 8); x++) {
          sum += g[y * w + x]!
          n++
        }
      }
      const mean = sum / n
      for (let y = by; y < Math.min(h, by + 8); y++) {
        for (let x = bx; x < Math.min(w, bx + 8); x++) g[y * w + x] = g[y * w + x]! + (mean - g[y * w + x]!) * flatten
      }
    }
  }
  return fromGray(g, w, h)
}

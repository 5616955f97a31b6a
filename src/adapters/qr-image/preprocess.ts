/**
 * Cheap image clean-ups tried when jsQR cannot read a capture as it is. jsQR's local-threshold
 * binarizer is fragile with grey, noisy, or non-integer-scaled pictures; a global (Otsu) threshold
 * or a bilinear upscale often rescues them.
 */

/** A grey RGBA image. */
export interface Rgba {
  data: Uint8ClampedArray
  width: number
  height: number
}

function luma(src: Uint8ClampedArray, i: number): number {
  return (src[i]! * 77 + src[i + 1]! * 150 + src[i + 2]! * 29) >> 8
}

/** Black/white image thresholded at Otsu's level (the one that best separates two classes). */
export function otsuBinarize(img: Rgba): Rgba {
  const n = img.width * img.height
  const grey = new Uint8Array(n)
  const hist = new Float64Array(256)
  for (let i = 0; i < n; i++) {
    const v = luma(img.data, i * 4)
    grey[i] = v
    hist[v]!++
  }
  let total = 0
  for (let t = 0; t < 256; t++) total += t * hist[t]!
  let sumB = 0
  let weightB = 0
  let best = -1
  let threshold = 128
  for (let t = 0; t < 256; t++) {
    weightB += hist[t]!
    if (weightB === 0) continue
    const weightF = n - weightB
    if (weightF === 0) break
    sumB += t * hist[t]!
    const diff = sumB / weightB - (total - sumB) / weightF
    const between = weightB * weightF * diff * diff
    if (between > best) {
      best = between
      threshold = t
    }
  }
  const out = new Uint8ClampedArray(n * 4)
  for (let i = 0; i < n; i++) {
    const v = grey[i]! > threshold ? 255 : 0
    out[i * 4] = v
    out[i * 4 + 1] = v
    out[i * 4 + 2] = v
    out[i * 4 + 3] = 255
  }
  return { data: out, width: img.width, height: img.height }
}

/** Bilinear resize by `factor` (grey output). */
export function resizeBilinear(img: Rgba, factor: number): Rgba {
  const w = Math.max(1, Math.round(img.width * factor))
  const h = Math.max(1, Math.round(img.height * factor))
  const out = new Uint8ClampedArray(w * h * 4)
  const at = (x: number, y: number): number =>
    luma(img.data, (Math.min(img.height - 1, Math.max(0, y)) * img.width + Math.min(img.width - 1, Math.max(0, x))) * 4)
  for (let y = 0; y < h; y++) {
    const sy = (y + 0.5) / factor - 0.5
    const y0 = Math.floor(sy)
    const fy = sy - y0
    for (let x = 0; x < w; x++) {
      const sx = (x + 0.5) / factor - 0.5
      const x0 = Math.floor(sx)
      const fx = sx - x0
      const v =
        (at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx) * (1 - fy) + (at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx) * fy
      const o = (y * w + x) * 4
      out[o] = v
      out[o + 1] = v
      out[o + 2] = v
      out[o + 3] = 255
    }
  }
  return { data: out, width: w, height: h }
}

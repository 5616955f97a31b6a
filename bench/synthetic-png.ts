/** Synthetic images for the blob tests and the blob bench: real PNG headers, seeded noise after them. */

/** A synthetic PNG: the magic, an IHDR that decodes to `width`×`height`, then `size` bytes in all of seeded noise. */
export function syntheticPng(size: number, seed = 1, width = 640, height = 480): Uint8Array {
  const out = new Uint8Array(size)
  out.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52])
  const view = new DataView(out.buffer)
  view.setUint32(16, width)
  view.setUint32(20, height)
  out.set([8, 6, 0, 0, 0], 24)
  view.setUint32(29, crc32(out.subarray(12, 29)))
  let x = seed >>> 0 || 1
  for (let i = 33; i < size; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

/** CRC-32 (IEEE), as PNG chunks carry it. */
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff
  for (const b of bytes) {
    c ^= b
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1
  }
  return (c ^ 0xffffffff) >>> 0
}

import { PNG } from 'pngjs'
import { describe, expect, it } from 'vitest'
import { CHUNK_SIZE, DEFAULT_MAX_BLOB_BYTES, MAX_IMAGE_DIMENSION, inspectImage, validateImage } from '../../src/core/blobs/index.js'

const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0))
const le16 = (n: number): number[] => [n & 0xff, (n >> 8) & 0xff]
const be16 = (n: number): number[] => [(n >> 8) & 0xff, n & 0xff]
const le24 = (n: number): number[] => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff]

/** A real PNG, encoded by pngjs. */
function png(width: number, height: number): Uint8Array {
  const image = new PNG({ width, height })
  image.data.fill(0x80)
  return new Uint8Array(PNG.sync.write(image))
}

/** A minimal JPEG: SOI, an APP0 (JFIF) segment, optional extra segments, then a SOF0 frame header. */
function jpeg(width: number, height: number, sof = 0xc0, before: number[][] = []): Uint8Array {
  const app0 = [0xff, 0xe0, ...be16(16), ...ascii('JFIF'), 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]
  const frame = [0xff, sof, ...be16(11), 8, ...be16(height), ...be16(width), 1, 1, 0x11, 0]
  return new Uint8Array([0xff, 0xd8, ...app0, ...before.flat(), ...frame, 0xff, 0xd9])
}

const gif = (width: number, height: number, version = 'GIF89a'): Uint8Array =>
  new Uint8Array([...ascii(version), ...le16(width), ...le16(height), 0, 0, 0, 0x3b])

const riff = (chunk: string, payload: number[]): Uint8Array =>
  new Uint8Array([...ascii('RIFF'), ...le24(payload.length + 12), 0, ...ascii('WEBP'), ...ascii(chunk), ...le24(payload.length), 0, ...payload])

// VP8: frame tag (key frame), start code, 14-bit dimensions.
const webpVp8 = (width: number, height: number, tag = 0x10): Uint8Array =>
  riff('VP8 ', [tag, 0x02, 0x00, 0x9d, 0x01, 0x2a, ...le16(width), ...le16(height), 0, 0])

function webpVp8l(width: number, height: number): Uint8Array {
  const bits = ((width - 1) & 0x3fff) | (((height - 1) & 0x3fff) << 14)
  return riff('VP8L', [0x2f, bits & 0xff, (bits >>> 8) & 0xff, (bits >>> 16) & 0xff, (bits >>> 24) & 0xff, 0, 0, 0, 0])
}

const webpVp8x = (width: number, height: number): Uint8Array => riff('VP8X', [0, 0, 0, 0, ...le24(width - 1), ...le24(height - 1)])

const codeOf = (f: () => unknown): { name?: string; code?: string; field?: string } => {
  try {
    f()
  } catch (err) {
    return err as { name: string; code: string; field: string }
  }
  return {}
}

describe('inspectImage', () => {
  it('decodes the dimensions of real PNGs from IHDR', () => {
    expect(inspectImage(png(1, 1))).toEqual({ type: 'image/png', width: 1, height: 1 })
    expect(inspectImage(png(640, 480))).toEqual({ type: 'image/png', width: 640, height: 480 })
    expect(inspectImage(png(3, 257).subarray(0, 33))).toEqual({ type: 'image/png', width: 3, height: 257 })
  })

  it('decodes JPEG frame headers, scanning past other segments and fill bytes', () => {
    expect(inspectImage(jpeg(800, 600))).toEqual({ type: 'image/jpeg', width: 800, height: 600 })
    expect(inspectImage(jpeg(12, 34, 0xc2))).toEqual({ type: 'image/jpeg', width: 12, height: 34 }) // progressive
    const exif = [0xff, 0xe1, ...be16(2 + 3000), ...new Array<number>(3000).fill(0xaa)]
    const dht = [0xff, 0xc4, ...be16(4), 0, 0] // C4 is in the SOF range but is not a frame header
    expect(inspectImage(jpeg(5, 7, 0xc0, [exif, dht, [0xff, 0xff]]))).toEqual({ type: 'image/jpeg', width: 5, height: 7 })
  })

  it('decodes GIF logical screens and the three WebP headers', () => {
    expect(inspectImage(gif(300, 200))).toEqual({ type: 'image/gif', width: 300, height: 200 })
    expect(inspectImage(gif(1, 2, 'GIF87a'))).toEqual({ type: 'image/gif', width: 1, height: 2 })
    expect(inspectImage(webpVp8(320, 240))).toEqual({ type: 'image/webp', width: 320, height: 240 })
    expect(inspectImage(webpVp8l(1000, 16383))).toEqual({ type: 'image/webp', width: 1000, height: 16383 })
    expect(inspectImage(webpVp8x(4000, 3000))).toEqual({ type: 'image/webp', width: 4000, height: 3000 })
  })

  it('refuses non-images, truncated and forged headers with NOT_IMAGE', () => {
    const real = png(10, 10)
    const badCrc = real.slice()
    badCrc[17] = badCrc[17]! ^ 1 // width changed, CRC not
    const noIhdr = real.slice()
    noIhdr.set(ascii('IDAT'), 12)
    const sosFirst = new Uint8Array([0xff, 0xd8, 0xff, 0xda, 0, 2, 0xff, 0xd9])
    const brokenSegment = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 1])
    const noSof = jpeg(5, 5).subarray(0, 20)
    const notKey = webpVp8(10, 10, 0x11)
    const badStart = webpVp8(10, 10).slice()
    badStart[23] = 0
    const unknownWebp = riff('ABCD', new Array<number>(12).fill(0))
    const cases: Uint8Array[] = [
      new TextEncoder().encode('hello, not an image'),
      real.subarray(0, 30),
      badCrc,
      noIhdr,
      sosFirst,
      brokenSegment,
      noSof,
      gif(1, 1).subarray(0, 9),
      webpVp8(1, 1).subarray(0, 25),
      notKey,
      badStart,
      unknownWebp,
    ]
    for (const bytes of cases) expect(codeOf(() => inspectImage(bytes, 'photo'))).toMatchObject({ name: 'ValidationError', code: 'NOT_IMAGE', field: 'photo' })
    expect(codeOf(() => inspectImage(new Uint8Array(0)))).toMatchObject({ name: 'ValidationError', code: 'EMPTY', field: 'logo' })
  })

  it('refuses zero and absurd dimensions with BAD_DIMENSIONS', () => {
    for (const bytes of [gif(0, 10), gif(10, 0), jpeg(0, 5), webpVp8(0, 4), webpVp8x(MAX_IMAGE_DIMENSION + 1, 2), webpVp8x(2, 1 << 24)]) {
      expect(codeOf(() => inspectImage(bytes))).toMatchObject({ name: 'ValidationError', code: 'BAD_DIMENSIONS' })
    }
    // A PNG IHDR with a forged but CRC-consistent width of 2^31 − 1.
    const image = new PNG({ width: 1, height: 1 })
    const real = new Uint8Array(PNG.sync.write(image))
    expect(inspectImage(real)).toMatchObject({ width: 1 })
    const forged = new PNG({ width: 70000, height: 1 })
    expect(codeOf(() => inspectImage(new Uint8Array(PNG.sync.write(forged)).subarray(0, 64)))).toMatchObject({ code: 'BAD_DIMENSIONS' })
  })

  it('looks only at the first chunk', () => {
    const padded = new Uint8Array(CHUNK_SIZE + 10)
    padded.set([0xff, 0xd8])
    // Segments of 0xffe0 padding until past the first chunk, then the frame header.
    let at = 2
    while (at + 4 + 65533 < CHUNK_SIZE) {
      padded.set([0xff, 0xe0, 0xff, 0xff], at)
      at += 2 + 65535
    }
    expect(codeOf(() => inspectImage(padded))).toMatchObject({ code: 'NOT_IMAGE' })
  })
})

describe('validateImage', () => {
  it('checks size against maxBytes (10 MB by default) before decoding', () => {
    const ok = png(2, 2)
    expect(validateImage(ok)).toEqual({ type: 'image/png', width: 2, height: 2 })
    expect(validateImage(ok, { maxBytes: ok.length })).toEqual({ type: 'image/png', width: 2, height: 2 })
    expect(codeOf(() => validateImage(ok, { maxBytes: ok.length - 1, field: 'upload' }))).toMatchObject({ code: 'TOO_LARGE', field: 'upload' })
    const big = new Uint8Array(DEFAULT_MAX_BLOB_BYTES + 1)
    big.set(ok)
    expect(codeOf(() => validateImage(big))).toMatchObject({ name: 'ValidationError', code: 'TOO_LARGE', field: 'logo' })
    expect(codeOf(() => validateImage(new Uint8Array(0)))).toMatchObject({ code: 'EMPTY' })
    expect(codeOf(() => validateImage(new TextEncoder().encode('GIF89a')))).toMatchObject({ code: 'NOT_IMAGE' })
  })
})

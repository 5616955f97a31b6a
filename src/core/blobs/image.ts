/**
 * Image inspection for logos (docs/protocol/blobs.md, "Limits"): the type from the magic bytes,
 * never from a file name, and the dimensions decoded from the header — PNG's IHDR (with its CRC),
 * JPEG's first SOFn frame header, GIF's logical screen, WebP's VP8 / VP8L / VP8X header. A
 * receiver runs {@link inspectImage} on the first chunk of a blob before it accepts the rest, so a
 * forged or truncated header is refused after at most one chunk.
 */
import { CHUNK_SIZE, DEFAULT_MAX_BLOB_BYTES } from './port.js'
import { ValidationError } from '../errors.js'

/** The image types a logo may be. */
export type ImageType = 'image/png' | 'image/jpeg' | 'image/gif' | 'image/webp'

/** What an image header says. */
export interface ImageInfo {
  type: ImageType
  width: number
  height: number
}

/** Options of {@link validateImage}. */
export interface ValidateImageOptions {
  /** Largest accepted size in bytes; {@link DEFAULT_MAX_BLOB_BYTES} by default. */
  maxBytes?: number
  /** The field errors name; `logo` by default. */
  field?: string
}

/** Largest width or height accepted: beyond it a header is forged or the image is absurd for a logo. */
export const MAX_IMAGE_DIMENSION = 65535

const startsWith = (bytes: Uint8Array, prefix: readonly number[], at = 0): boolean =>
  bytes.length >= at + prefix.length && prefix.every((b, i) => bytes[at + i] === b)

const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0))

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]

/** The image type the magic bytes announce, or `undefined` if they match none we accept. */
export function sniffImageType(bytes: Uint8Array): ImageType | undefined {
  if (startsWith(bytes, PNG_MAGIC)) return 'image/png'
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'image/jpeg'
  if (startsWith(bytes, ascii('GIF87a')) || startsWith(bytes, ascii('GIF89a'))) return 'image/gif'
  if (startsWith(bytes, ascii('RIFF')) && startsWith(bytes, ascii('WEBP'), 8)) return 'image/webp'
  return undefined
}

const u16be = (b: Uint8Array, at: number): number => (b[at]! << 8) | b[at + 1]!
const u16le = (b: Uint8Array, at: number): number => b[at]! | (b[at + 1]! << 8)
const u24le = (b: Uint8Array, at: number): number => b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16)
const u32be = (b: Uint8Array, at: number): number => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0

let crcTable: Uint32Array | undefined
function crc32(bytes: Uint8Array): number {
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256)
    for (let n = 0; n < 256; n++) {
      let c = n
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
      crcTable[n] = c >>> 0
    }
  }
  let c = 0xffffffff
  for (const byte of bytes) c = crcTable[(c ^ byte) & 0xff]! ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

/** Why a header could not be decoded; becomes a NOT_IMAGE ValidationError. */
class Undecodable extends Error {}

function pngSize(b: Uint8Array): [number, number] {
  // signature(8) · length(4) = 13 · "IHDR" · width(4) height(4) depth, colour, compression, filter, interlace · CRC(4)
  if (b.length < 33) throw new Undecodable('the PNG header is truncated')
  if (u32be(b, 8) !== 13 || !startsWith(b, ascii('IHDR'), 12)) throw new Undecodable('the PNG does not start with an IHDR chunk')
  if (crc32(b.subarray(12, 29)) !== u32be(b, 29)) throw new Undecodable('the PNG IHDR chunk fails its CRC')
  return [u32be(b, 16), u32be(b, 20)]
}

// Start-of-frame markers carry the dimensions; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
const isSof = (m: number): boolean => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc

function jpegSize(b: Uint8Array): [number, number] {
  let at = 2
  for (;;) {
    if (at >= b.length) throw new Undecodable('no JPEG frame header in the first bytes')
    if (b[at] !== 0xff) throw new Undecodable(`JPEG marker expected at byte ${at}`)
    while (at < b.length && b[at] === 0xff) at++ // fill bytes
    if (at >= b.length) throw new Undecodable('the JPEG header is truncated')
    const marker = b[at]!
    at++
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue // no length
    if (marker === 0xd9 || marker === 0xda) throw new Undecodable('the JPEG has no frame header before its image data')
    if (at + 2 > b.length) throw new Undecodable('the JPEG header is truncated')
    const length = u16be(b, at)
    if (length < 2) throw new Undecodable(`a JPEG segment at byte ${at} has length ${length}`)
    if (isSof(marker)) {
      // length(2) · precision(1) · height(2) · width(2)
      if (length < 8 || at + 7 > b.length) throw new Undecodable('the JPEG frame header is truncated')
      return [u16be(b, at + 5), u16be(b, at + 3)]
    }
    at += length
  }
}

function gifSize(b: Uint8Array): [number, number] {
  if (b.length < 10) throw new Undecodable('the GIF header is truncated')
  return [u16le(b, 6), u16le(b, 8)]
}

function webpSize(b: Uint8Array): [number, number] {
  const truncated = (need: number): void => {
    if (b.length < need) throw new Undecodable('the WebP header is truncated')
  }
  truncated(16)
  const chunk = String.fromCharCode(b[12]!, b[13]!, b[14]!, b[15]!)
  if (chunk === 'VP8 ') {
    // frame tag(3) · start code 9d 01 2a · 14-bit width, 14-bit height (top 2 bits: scale)
    truncated(30)
    if ((b[20]! & 1) !== 0) throw new Undecodable('the WebP VP8 frame is not a key frame')
    if (!startsWith(b, [0x9d, 0x01, 0x2a], 23)) throw new Undecodable('the WebP VP8 start code is missing')
    return [u16le(b, 26) & 0x3fff, u16le(b, 28) & 0x3fff]
  }
  if (chunk === 'VP8L') {
    // signature 0x2f · 14 bits width − 1 · 14 bits height − 1 (little-endian bit order)
    truncated(25)
    if (b[20] !== 0x2f) throw new Undecodable('the WebP VP8L signature is missing')
    const bits = (b[21]! | (b[22]! << 8) | (b[23]! << 16) | (b[24]! << 24)) >>> 0
    return [(bits & 0x3fff) + 1, ((bits >>> 14) & 0x3fff) + 1]
  }
  if (chunk === 'VP8X') {
    // flags(1) · reserved(3) · canvas width − 1 (24 bits) · canvas height − 1 (24 bits)
    truncated(30)
    return [u24le(b, 24) + 1, u24le(b, 27) + 1]
  }
  throw new Undecodable(`the WebP starts with an unknown chunk ${JSON.stringify(chunk)}`)
}

/**
 * The type and dimensions of the image whose first bytes are `head` (up to one CHUNK_SIZE is
 * plenty: every header it decodes sits near the start; a JPEG's frame header must come within
 * the bytes given).
 * @throws ValidationError naming `field` with code `EMPTY` (no bytes), `NOT_IMAGE` (no accepted
 *   magic, or a truncated / malformed header), `BAD_DIMENSIONS` (a width or height of 0 or above
 *   {@link MAX_IMAGE_DIMENSION}).
 * @example
 * inspectImage(png.subarray(0, CHUNK_SIZE)) // { type: 'image/png', width: 640, height: 480 }
 */
export function inspectImage(head: Uint8Array, field = 'logo'): ImageInfo {
  if (head.length === 0) throw new ValidationError(`${field}: the file is empty`, { field, code: 'EMPTY' })
  const b = head.length > CHUNK_SIZE ? head.subarray(0, CHUNK_SIZE) : head
  const type = sniffImageType(b)
  if (type === undefined) throw new ValidationError(`${field}: not a PNG, JPEG, GIF or WebP image`, { field, code: 'NOT_IMAGE' })
  let width: number
  let height: number
  try {
    ;[width, height] = type === 'image/png' ? pngSize(b) : type === 'image/jpeg' ? jpegSize(b) : type === 'image/gif' ? gifSize(b) : webpSize(b)
  } catch (err) {
    if (!(err instanceof Undecodable)) throw err
    throw new ValidationError(`${field}: not a PNG, JPEG, GIF or WebP image (${err.message})`, { field, code: 'NOT_IMAGE' })
  }
  if (width === 0 || height === 0 || width > MAX_IMAGE_DIMENSION || height > MAX_IMAGE_DIMENSION) {
    throw new ValidationError(`${field}: the image says it is ${width}×${height} pixels; each side must be 1 to ${MAX_IMAGE_DIMENSION}`, { field, code: 'BAD_DIMENSIONS' })
  }
  return { type, width, height }
}

/**
 * Checks that `bytes` are an acceptable image (for `--logo`, an upload, a received blob's head):
 * not empty, no larger than `maxBytes`, and {@link inspectImage} decodes its header.
 * @throws ValidationError naming the field, code `EMPTY`, `TOO_LARGE`, `NOT_IMAGE` or `BAD_DIMENSIONS`.
 */
export function validateImage(bytes: Uint8Array, options: ValidateImageOptions = {}): ImageInfo {
  const field = options.field ?? 'logo'
  const limit = options.maxBytes ?? DEFAULT_MAX_BLOB_BYTES
  if (bytes.length === 0) throw new ValidationError(`${field}: the file is empty`, { field, code: 'EMPTY' })
  if (bytes.length > limit) {
    throw new ValidationError(`${field}: the image is ${bytes.length} bytes; the limit is ${limit} bytes (${formatMb(limit)})`, { field, code: 'TOO_LARGE' })
  }
  return inspectImage(bytes, field)
}

const formatMb = (bytes: number): string => `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MB`

/**
 * Small byte helpers shared by the crypto and pairing formats. Platform-free (no Buffer).
 */
import { ValidationError } from '../errors.js'

/** Concatenates byte arrays into a new array. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  return concatAll(parts)
}

/** {@link concatBytes} for a list of any length (spreading a long list into arguments can throw). */
export function concatAll(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0
  for (const part of parts) length += part.length
  const out = new Uint8Array(length)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

/** Constant-time equality: the time taken depends only on the lengths, never on where bytes differ. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number)
  return diff === 0
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const B64URL_INDEX = new Int16Array(128).fill(-1)
for (let i = 0; i < B64URL.length; i++) B64URL_INDEX[B64URL.charCodeAt(i)] = i

/** RFC 4648 §5 base64url, no padding. */
export function toBase64Url(bytes: Uint8Array): string {
  let out = ''
  let i = 0
  for (; i + 2 < bytes.length; i += 3) {
    const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number)
    out += B64URL[n >>> 18]! + B64URL[(n >>> 12) & 63]! + B64URL[(n >>> 6) & 63]! + B64URL[n & 63]!
  }
  const rest = bytes.length - i
  if (rest === 1) {
    const n = (bytes[i] as number) << 16
    out += B64URL[n >>> 18]! + B64URL[(n >>> 12) & 63]!
  } else if (rest === 2) {
    const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8)
    out += B64URL[n >>> 18]! + B64URL[(n >>> 12) & 63]! + B64URL[(n >>> 6) & 63]!
  }
  return out
}

/**
 * Strict base64url decoding (no padding, no whitespace, canonical trailing bits), so that every
 * byte string has exactly one accepted text form. Throws ValidationError naming `field`.
 */
export function fromBase64Url(text: string, field = 'value'): Uint8Array {
  if (text.length % 4 === 1) throw new ValidationError(`${field}: not base64url (bad length)`, { field })
  const out = new Uint8Array(Math.floor((text.length * 3) / 4))
  let bits = 0
  let value = 0
  let o = 0
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    const digit = code < 128 ? (B64URL_INDEX[code] as number) : -1
    if (digit < 0) throw new ValidationError(`${field}: not base64url (bad character at ${i})`, { field })
    value = ((value << 6) | digit) & 0xffffff
    bits += 6
    if (bits >= 8) {
      bits -= 8
      out[o++] = (value >>> bits) & 0xff
    }
  }
  if ((value & ((1 << bits) - 1)) !== 0) {
    throw new ValidationError(`${field}: not canonical base64url`, { field })
  }
  return out
}

/** Big-endian u16/u32 writers and readers over a DataView-free array (no allocation). */
export function writeU16(out: Uint8Array, offset: number, value: number): void {
  out[offset] = (value >>> 8) & 0xff
  out[offset + 1] = value & 0xff
}
export function writeU32(out: Uint8Array, offset: number, value: number): void {
  out[offset] = (value >>> 24) & 0xff
  out[offset + 1] = (value >>> 16) & 0xff
  out[offset + 2] = (value >>> 8) & 0xff
  out[offset + 3] = value & 0xff
}
export function readU16(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] as number) << 8) | (bytes[offset + 1] as number)
}
export function readU32(bytes: Uint8Array, offset: number): number {
  return (
    (((bytes[offset] as number) << 24) >>> 0) +
    (((bytes[offset + 1] as number) << 16) | ((bytes[offset + 2] as number) << 8) | (bytes[offset + 3] as number))
  )
}

const encoder = new TextEncoder()
const strictDecoder = new TextDecoder('utf-8', { fatal: true })

/** UTF-8 encode. */
export const utf8 = (text: string): Uint8Array => encoder.encode(text)

/** Strict UTF-8 decode; returns undefined on invalid UTF-8 so callers can raise their own typed error. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return strictDecoder.decode(bytes)
  } catch {
    return undefined
  }
}

const B32 = 'abcdefghijklmnopqrstuvwxyz234567'

/** Strict lower-case RFC 4648 base32 decoding without padding (the inverse of ids.ts `base32`). */
export function fromBase32(text: string, field = 'value'): Uint8Array {
  const out = new Uint8Array(Math.floor((text.length * 5) / 8))
  let bits = 0
  let value = 0
  let o = 0
  for (let i = 0; i < text.length; i++) {
    const digit = B32.indexOf(text[i] as string)
    if (digit < 0) throw new ValidationError(`${field}: not base32 (bad character at ${i})`, { field })
    value = ((value << 5) | digit) & 0xffff
    bits += 5
    if (bits >= 8) {
      bits -= 8
      out[o++] = (value >>> bits) & 0xff
    }
  }
  if (bits >= 5 || (value & ((1 << bits) - 1)) !== 0) throw new ValidationError(`${field}: not canonical base32`, { field })
  return out
}

/** Lower-case hex. */
export function toHex(bytes: Uint8Array): string {
  let out = ''
  for (const b of bytes) out += b.toString(16).padStart(2, '0')
  return out
}

/** Bounds-checked sequential reader for binary formats; `fail(what)` builds the caller's typed error. */
export class ByteReader {
  #offset = 0
  constructor(
    readonly data: Uint8Array,
    readonly fail: (what: string) => Error,
  ) {}
  get offset(): number {
    return this.#offset
  }
  get remaining(): number {
    return this.data.length - this.#offset
  }
  bytes(length: number, what = 'field'): Uint8Array {
    if (length < 0 || this.#offset + length > this.data.length) throw this.fail(`${what} truncated`)
    const out = this.data.subarray(this.#offset, this.#offset + length)
    this.#offset += length
    return out
  }
  u8(what = 'field'): number {
    return this.bytes(1, what)[0] as number
  }
  u16(what = 'field'): number {
    return readU16(this.bytes(2, what), 0)
  }
  u32(what = 'field'): number {
    return readU32(this.bytes(4, what), 0)
  }
  /** u8 length-prefixed strict UTF-8. */
  string8(what = 'string'): string {
    const text = decodeUtf8(this.bytes(this.u8(what), what))
    if (text === undefined) throw this.fail(`${what} is not UTF-8`)
    return text
  }
  /** u16 length-prefixed strict UTF-8. */
  string16(what = 'string'): string {
    const text = decodeUtf8(this.bytes(this.u16(what), what))
    if (text === undefined) throw this.fail(`${what} is not UTF-8`)
    return text
  }
  end(what = 'message'): void {
    if (this.#offset !== this.data.length) throw this.fail(`${what} has trailing bytes`)
  }
}

/** u8 length-prefixed UTF-8; throws ValidationError naming `field` above 255 bytes. */
export function string8(text: string, field = 'string'): Uint8Array {
  const bytes = utf8(text)
  if (bytes.length > 255) throw new ValidationError(`${field}: at most 255 UTF-8 bytes`, { field })
  return concatBytes(Uint8Array.of(bytes.length), bytes)
}

/** u16 length-prefixed UTF-8; throws ValidationError naming `field` above 65535 bytes. */
export function string16(text: string, field = 'string'): Uint8Array {
  const bytes = utf8(text)
  if (bytes.length > 0xffff) throw new ValidationError(`${field}: at most 65535 UTF-8 bytes`, { field })
  const out = new Uint8Array(2 + bytes.length)
  writeU16(out, 0, bytes.length)
  out.set(bytes, 2)
  return out
}

/**
 * Byte plumbing for the signalling code: a bounds-checked reader, a growable writer and
 * base64url. Kept private to this folder so the code format has no moving dependencies.
 */
import { WebRtcError } from '../errors.js'
import { fromBase64Url, toBase64Url } from '../crypto/bytes.js'

/** Sequential reader that throws `WebRtcError` code `CODE_TRUNCATED` when it runs off the end. */
export class ByteReader {
  #offset = 0
  constructor(private readonly bytes: Uint8Array) {}
  get remaining(): number {
    return this.bytes.length - this.#offset
  }
  take(length: number): Uint8Array {
    if (this.remaining < length) throw new WebRtcError('signalling code is truncated', { code: 'CODE_TRUNCATED' })
    const out = this.bytes.subarray(this.#offset, this.#offset + length)
    this.#offset += length
    return out
  }
  u8(): number {
    return this.take(1)[0] as number
  }
  u16(): number {
    const b = this.take(2)
    return ((b[0] as number) << 8) | (b[1] as number)
  }
  u32(): number {
    const b = this.take(4)
    return (((b[0] as number) << 24) >>> 0) + (((b[1] as number) << 16) | ((b[2] as number) << 8) | (b[3] as number))
  }
  /** u8 length • ASCII bytes. */
  ascii(): string {
    const bytes = this.take(this.u8())
    let out = ''
    for (const b of bytes) {
      if (b < 0x21 || b > 0x7e) throw new WebRtcError('signalling code holds a non-printable string', { code: 'CODE_MALFORMED' })
      out += String.fromCharCode(b)
    }
    return out
  }
}

/** Appends big-endian integers and byte strings. */
export class ByteWriter {
  readonly #parts: number[] = []
  u8(n: number): this {
    this.#parts.push(n & 0xff)
    return this
  }
  u16(n: number): this {
    return this.u8(n >>> 8).u8(n)
  }
  u32(n: number): this {
    return this.u8(n >>> 24).u8(n >>> 16).u8(n >>> 8).u8(n)
  }
  bytes(b: Uint8Array): this {
    for (const x of b) this.#parts.push(x)
    return this
  }
  ascii(s: string): this {
    if (s.length > 255) throw new WebRtcError('string too long for a signalling code', { code: 'CODE_MALFORMED' })
    this.u8(s.length)
    for (let i = 0; i < s.length; i++) this.#parts.push(s.charCodeAt(i) & 0x7f)
    return this
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.#parts)
  }
}

/** RFC 4648 §5 base64url without padding (the shared codec of core/crypto/bytes). */
export const encodeBase64Url = toBase64Url

/**
 * Inverse of {@link encodeBase64Url}: undefined for any text that is not canonical base64url
 * (a character outside the alphabet, an impossible length, stray trailing bits), so every code has
 * exactly one accepted text form.
 */
export function decodeBase64Url(text: string): Uint8Array | undefined {
  try {
    return fromBase64Url(text, 'code')
  } catch {
    return undefined
  }
}

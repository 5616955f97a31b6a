/**
 * A bounds-checked big-endian reader/writer for the QR bundle format. Every read past the end or
 * malformed field throws `QrError` — the caller's only failure mode on untrusted bytes.
 */
import { QrError } from '../errors.js'

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export class ByteWriter {
  readonly #parts: Uint8Array[] = []
  #length = 0

  u8(v: number): this {
    return this.bytes(Uint8Array.of(v & 0xff))
  }

  u16(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new QrError(`value ${v} does not fit u16`, { code: 'QR_TOO_LARGE' })
    return this.bytes(Uint8Array.of(v >>> 8, v & 0xff))
  }

  u32(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new QrError(`value ${v} does not fit u32`, { code: 'QR_TOO_LARGE' })
    return this.bytes(Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff))
  }

  /** `u16 length • utf8`. */
  str(s: string): this {
    const b = encoder.encode(s)
    return this.u16(b.length).bytes(b)
  }

  /** `u32 length • bytes`. */
  blob(b: Uint8Array): this {
    return this.u32(b.length).bytes(b)
  }

  bytes(b: Uint8Array): this {
    this.#parts.push(b)
    this.#length += b.length
    return this
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.#length)
    let o = 0
    for (const p of this.#parts) {
      out.set(p, o)
      o += p.length
    }
    return out
  }
}

export class ByteReader {
  #offset = 0
  constructor(private readonly buf: Uint8Array, private readonly what = 'QR bundle') {}

  get remaining(): number {
    return this.buf.length - this.#offset
  }

  get offset(): number {
    return this.#offset
  }

  take(n: number): Uint8Array {
    if (n > this.remaining) throw new QrError(`${this.what} is truncated`, { code: 'QR_BUNDLE' })
    const out = this.buf.subarray(this.#offset, this.#offset + n)
    this.#offset += n
    return out
  }

  u8(): number {
    return this.take(1)[0]!
  }

  u16(): number {
    const b = this.take(2)
    return (b[0]! << 8) | b[1]!
  }

  u32(): number {
    const b = this.take(4)
    return ((b[0]! << 24) >>> 0) + ((b[1]! << 16) | (b[2]! << 8) | b[3]!)
  }

  str(): string {
    const b = this.take(this.u16())
    try {
      return decoder.decode(b)
    } catch (cause) {
      throw new QrError(`${this.what} holds invalid UTF-8`, { code: 'QR_BUNDLE', cause })
    }
  }

  blob(): Uint8Array {
    return this.take(this.u32())
  }

  end(): void {
    if (this.remaining !== 0) throw new QrError(`${this.what} has ${this.remaining} trailing bytes`, { code: 'QR_BUNDLE' })
  }
}

/**
 * Bytes to text for contact files: strict UTF-8, decoded chunk by chunk, so a file of any size is
 * read with bounded memory and a bad byte is reported with its line, not replaced by U+FFFD.
 */
import { ValidationError } from '../errors.js'

/** Where the first byte that is not valid UTF-8 is in `bytes` (from `from`), or -1. */
export function firstInvalidUtf8(bytes: Uint8Array, from = 0): number {
  let i = from
  while (i < bytes.length) {
    const b = bytes[i] as number
    if (b < 0x80) {
      i++
      continue
    }
    const need = b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : 0
    if (need === 0) return i
    const min = need === 1 ? 0x80 : need === 2 ? 0x800 : 0x10000
    // A sequence cut by the end of the buffer is not an error here: the caller has more bytes.
    if (i + need >= bytes.length) {
      for (let k = 1; i + k < bytes.length; k++) if (((bytes[i + k] as number) & 0xc0) !== 0x80) return i
      return -1
    }
    let cp = b & (0xff >> (need + 2))
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k] as number
      if ((c & 0xc0) !== 0x80) return i
      cp = (cp << 6) | (c & 0x3f)
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i
    i += need + 1
  }
  return -1
}

function countNewlines(text: string): number {
  let n = 0
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++
  return n
}

/**
 * Decodes a stream of byte chunks as UTF-8 text chunks. A UTF-8 byte-order mark is dropped.
 *
 * @throws ValidationError field `encoding` for a UTF-16/UTF-32 file (by its byte-order mark) or the
 *   first byte that is not UTF-8, naming its line (1-based) and byte offset, e.g. a Latin-1 or
 *   Windows-1252 export.
 */
export async function* decodeUtf8Chunks(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false })
  let first = true
  let line = 1
  let offset = 0
  let carry: Uint8Array = new Uint8Array(0)
  for await (const chunk of chunks) {
    if (first && chunk.length > 0) {
      first = false
      if ((chunk[0] === 0xff && chunk[1] === 0xfe) || (chunk[0] === 0xfe && chunk[1] === 0xff)) {
        throw new ValidationError('encoding: the file is UTF-16 (it starts with a UTF-16 byte-order mark); save it as UTF-8 and import again', {
          field: 'encoding',
        })
      }
    }
    let text: string
    try {
      text = decoder.decode(chunk, { stream: true })
    } catch (cause) {
      throw badByte(carry, chunk, line, offset, cause)
    }
    // Keep the last bytes of an incomplete sequence to locate an error that straddles chunks.
    carry = chunk.length >= 4 ? chunk.subarray(chunk.length - 4) : chunk
    offset += chunk.length
    line += countNewlines(text)
    if (text !== '') yield text
  }
  let tail: string
  try {
    tail = decoder.decode()
  } catch (cause) {
    throw new ValidationError(`encoding: the file is not UTF-8: it ends inside a multi-byte character (line ${line}, byte ${offset}); save it as UTF-8 and import again`, {
      field: 'encoding',
      cause,
    })
  }
  if (tail !== '') yield tail
}

function badByte(carry: Uint8Array, chunk: Uint8Array, line: number, offset: number, cause: unknown): ValidationError {
  // Re-scan the chunk (with the few bytes before it) to find the first invalid byte and its line.
  const joined = new Uint8Array(carry.length + chunk.length)
  joined.set(carry, 0)
  joined.set(chunk, carry.length)
  let start = 0
  // Skip continuation bytes at the start of the carry that belong to an already-decoded sequence.
  while (start < carry.length && ((joined[start] as number) & 0xc0) === 0x80) start++
  let at = firstInvalidUtf8(joined, start)
  if (at < 0) at = carry.length
  const inChunk = Math.max(0, at - carry.length)
  let lines = line
  for (let i = 0; i < inChunk; i++) if (chunk[i] === 0x0a) lines++
  const byte = offset - carry.length + at
  const hex = (joined[at] ?? 0).toString(16).padStart(2, '0')
  return new ValidationError(
    `encoding: the file is not UTF-8: byte 0x${hex} at line ${lines} (byte offset ${byte}) is not valid UTF-8 ` +
      '(a Latin-1 or Windows-1252 export?); save it as UTF-8 (Excel: "CSV UTF-8") and import again',
    { field: 'encoding', cause },
  )
}

/**
 * StorageKey <-> TEXT, such that "starts with these whole segments" is one index range.
 *
 * A key is stored as the concatenation of each segment's JSON string literal followed by `,`:
 * `["doc", "snapshot", "h"]` -> `"doc","snapshot","h",`. JSON escaping makes every segment's
 * encoding self-delimiting (a `"` inside a segment is `\"`, control characters and lone
 * surrogates are `\uXXXX`), so the encoding is injective and valid UTF-8, and the encoded keys
 * under a prefix are exactly those in `[enc(prefix), enc(prefix) with its final "," -> "-")`
 * under SQLite's BINARY (memcmp) collation. `["doc"]` therefore never matches `["docX"]`:
 * `"doc",` is not a prefix of `"docX",`.
 */
import type { StorageKey } from '@automerge/automerge-repo'

/** Encode a key (or a prefix) as stored in `chunks.key`. */
export function encodeKey(key: StorageKey): string {
  let out = ''
  for (const segment of key) {
    // JSON.stringify(undefined) is not a string literal: it would corrupt the encoding.
    if (typeof segment !== 'string') throw new TypeError(`storage key segments must be strings, got ${typeof segment}`)
    out += JSON.stringify(segment) + ','
  }
  return out
}

/** Decode a stored key; the inverse of {@link encodeKey}. */
export function decodeKey(encoded: string): StorageKey {
  return JSON.parse(`[${encoded.slice(0, -1)}]`) as StorageKey
}

/**
 * The half-open range `[lower, upper)` of encoded keys that start with `prefix`.
 * `upper` is undefined for the empty prefix (everything matches).
 */
export function prefixRange(prefix: StorageKey): { lower: string; upper: string | undefined } {
  const lower = encodeKey(prefix)
  if (lower === '') return { lower, upper: undefined }
  // ',' (0x2C) + 1 = '-' (0x2D): the smallest string greater than every extension of `lower`.
  return { lower, upper: lower.slice(0, -1) + '-' }
}

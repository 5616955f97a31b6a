import { readFile, stat } from 'node:fs/promises'
import { ValidationError } from '../../../core/errors.js'
import type { BlobHash } from '../../../core/ids.js'

/** A logo read from disk and validated, not yet stored. */
export interface LogoFile {
  bytes: Uint8Array
  hash: BlobHash
  /** The file it came from (for the messages). */
  file: string
}

/**
 * Reads and validates an image file for `--logo`, before anything is opened for writing: a PNG,
 * JPEG, GIF or WebP whose header decodes, at most `maxBytes` (the largest limit a device may set
 * when not given; {@link checkLogoLimit} then checks it against the data dir's own limit).
 * @throws ValidationError field `logo` if unreadable, empty, too large or not an image.
 */
export async function readLogo(file: string, maxBytes?: number): Promise<LogoFile> {
  const { validateImage } = await import('../../../core/blobs/image.js')
  const { blobHashOf } = await import('../../../adapters/blobstore-fs/index.js')
  const { MAX_BLOB_LIMIT } = await import('../../node/blobs.js')
  const limit = maxBytes ?? MAX_BLOB_LIMIT
  let bytes: Uint8Array
  try {
    // Refuse huge files before reading them into memory.
    const st = await stat(file)
    if (!st.isFile()) throw new ValidationError(`logo: ${file} is not a file`, { field: 'logo' })
    if (st.size > limit) throw tooLarge(file, st.size, limit)
    bytes = new Uint8Array(await readFile(file))
  } catch (err) {
    if (err instanceof ValidationError) throw err
    throw new ValidationError(`logo: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, {
      field: 'logo',
      cause: err,
    })
  }
  validateImage(bytes, { field: 'logo', maxBytes: limit })
  return { bytes, hash: blobHashOf(bytes), file }
}

/**
 * Checks a read logo against the device's image limit (`orbit blobs limit`, config
 * `blobs.maxBytes`): called with the limit the API answers, before anything is stored.
 * @throws ValidationError field `logo`, code `TOO_LARGE`.
 */
export function checkLogoLimit(logo: LogoFile, maxBytes: number): void {
  if (logo.bytes.length > maxBytes) throw tooLarge(logo.file, logo.bytes.length, maxBytes)
}

function tooLarge(file: string, size: number, limit: number): ValidationError {
  const mb = (n: number): string => `${Math.round((n / (1024 * 1024)) * 10) / 10} MB`
  return new ValidationError(`logo: ${file} is ${size} bytes (${mb(size)}); the image limit is ${limit} bytes (${mb(limit)}); raise it with \`orbit blobs limit SIZE\``, { field: 'logo', code: 'TOO_LARGE' })
}

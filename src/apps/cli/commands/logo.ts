import { readFile, stat } from 'node:fs/promises'
import { ValidationError } from '../../../core/errors.js'
import type { BlobHash } from '../../../core/ids.js'

/** A logo read from disk and validated, not yet stored. */
export interface LogoFile {
  bytes: Uint8Array
  hash: BlobHash
}

/**
 * Reads and validates an image file for `--logo`, before anything is opened for writing.
 * @throws ValidationError field `logo` if unreadable, empty, too large or not an image.
 */
export async function readLogo(file: string): Promise<LogoFile> {
  const { validateImage, blobHashOf, MAX_IMAGE_BYTES } = await import('../../../adapters/blobstore-fs/index.js')
  let bytes: Uint8Array
  try {
    // Refuse huge files before reading them into memory.
    const st = await stat(file)
    if (!st.isFile()) throw new ValidationError(`logo: ${file} is not a file`, { field: 'logo' })
    if (st.size > MAX_IMAGE_BYTES) {
      throw new ValidationError(`logo: ${file} is ${st.size} bytes; the limit is ${MAX_IMAGE_BYTES} bytes (5 MiB)`, { field: 'logo' })
    }
    bytes = new Uint8Array(await readFile(file))
  } catch (err) {
    if (err instanceof ValidationError) throw err
    throw new ValidationError(`logo: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, {
      field: 'logo',
      cause: err,
    })
  }
  validateImage(bytes, 'logo')
  return { bytes, hash: blobHashOf(bytes) }
}

/**
 * Image validation for logos: the bytes must be a PNG, JPEG, GIF or WebP (checked by magic bytes,
 * never by file name) and no larger than {@link MAX_IMAGE_BYTES}.
 */
import { ValidationError } from '../../core/errors.js'

/** Largest logo accepted, in bytes (5 MiB). Logos travel peer to peer, so keep them small. */
export const MAX_IMAGE_BYTES = 5 * 1024 * 1024

export type ImageType = 'image/png' | 'image/jpeg' | 'image/gif' | 'image/webp'

const startsWith = (bytes: Uint8Array, prefix: readonly number[], at = 0): boolean =>
  bytes.length >= at + prefix.length && prefix.every((b, i) => bytes[at + i] === b)

const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0))

/** The image type the magic bytes announce, or `undefined` if they match none we accept. */
export function sniffImageType(bytes: Uint8Array): ImageType | undefined {
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png'
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'image/jpeg'
  if (startsWith(bytes, ascii('GIF87a')) || startsWith(bytes, ascii('GIF89a'))) return 'image/gif'
  if (startsWith(bytes, ascii('RIFF')) && startsWith(bytes, ascii('WEBP'), 8)) return 'image/webp'
  return undefined
}

/**
 * Checks that `bytes` are an acceptable image; returns its type.
 * @throws ValidationError naming `field` (default `logo`) when empty, too large or not an image.
 */
export function validateImage(bytes: Uint8Array, field = 'logo', maxBytes = MAX_IMAGE_BYTES): ImageType {
  if (bytes.length === 0) throw new ValidationError(`${field}: the file is empty`, { field })
  if (bytes.length > maxBytes) {
    throw new ValidationError(
      `${field}: the image is ${bytes.length} bytes; the limit is ${maxBytes} bytes (${Math.round(maxBytes / 1048576)} MiB)`,
      { field },
    )
  }
  const type = sniffImageType(bytes)
  if (type === undefined) {
    throw new ValidationError(`${field}: not a PNG, JPEG, GIF or WebP image`, { field })
  }
  return type
}

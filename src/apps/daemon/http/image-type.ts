/** The image types the API serves and accepts, told by their magic bytes (never by a client's word). */

/** An image type the UI shows. */
export type ImageMime = 'image/png' | 'image/jpeg' | 'image/gif' | 'image/webp'

/** The type of `bytes` by its first bytes, or `undefined` when it is none of PNG, JPEG, GIF, WebP. */
export function sniffImage(bytes: Uint8Array): ImageMime | undefined {
  const at = (i: number, s: number[]): boolean => s.every((b, k) => bytes[i + k] === b)
  if (at(0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png'
  if (at(0, [0xff, 0xd8, 0xff])) return 'image/jpeg'
  if (at(0, [0x47, 0x49, 0x46, 0x38])) return 'image/gif'
  if (at(0, [0x52, 0x49, 0x46, 0x46]) && at(8, [0x57, 0x45, 0x42, 0x50])) return 'image/webp'
  return undefined
}

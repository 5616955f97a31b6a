/**
 * Image validation for logos now lives in core (src/core/blobs/image.ts, platform-free, so the
 * blob exchange can inspect a received blob's first chunk); these re-exports keep the adapter's
 * earlier names working.
 */
import { DEFAULT_MAX_BLOB_BYTES } from '../../core/blobs/port.js'

export { inspectImage, sniffImageType, validateImage, type ImageInfo, type ImageType, type ValidateImageOptions } from '../../core/blobs/image.js'

/** Largest logo accepted by default, in bytes: the blob limit, {@link DEFAULT_MAX_BLOB_BYTES} (10 MB). */
export const MAX_IMAGE_BYTES = DEFAULT_MAX_BLOB_BYTES

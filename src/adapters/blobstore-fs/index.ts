/** File-system blob store (content-addressed, crash-safe) and logo image validation. */
export { FsBlobStore, blobHashOf, type BlobStat } from './fs-blob-store.js'
export { validateImage, sniffImageType, MAX_IMAGE_BYTES, type ImageType } from './image.js'

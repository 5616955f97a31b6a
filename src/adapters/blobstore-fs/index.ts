/** File-system blob store (content-addressed, crash-safe, resumable receives) and logo image validation. */
export { FsBlobStore, blobHashOf, type BlobStat, type FsBlobStoreOptions } from './fs-blob-store.js'
export { validateImage, sniffImageType, inspectImage, MAX_IMAGE_BYTES, type ImageType, type ImageInfo } from './image.js'

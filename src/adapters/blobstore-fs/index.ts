/** File-system blob store (content-addressed, crash-safe, resumable receives). Image checks are core's (src/core/blobs/image.ts). */
export { FsBlobStore, blobHashOf, type BlobStat, type FsBlobStoreOptions } from './fs-blob-store.js'

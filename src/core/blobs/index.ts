/**
 * Blobs (docs/protocol/blobs.md): the content-addressed store port, chunk lists, an in-memory
 * store, image inspection and the blob manifest with its GC rule.
 */
export * from './port.js'
export { checkChunkList, chunkListOf, sameChunkList, sha256Hex } from './chunks.js'
export { MemoryBlobStore, type MemoryBlobStoreOptions } from './memory-store.js'
export { MAX_IMAGE_DIMENSION, inspectImage, sniffImageType, validateImage, type ImageInfo, type ImageType, type ValidateImageOptions } from './image.js'
export { blobManifest, isCollectable, type BlobManifest, type BlobManifestInput, type MissingBlob, type UnreferencedBlob } from './manifest.js'

/** Device identity, the Noise-based secure channel, sealed envelopes. See docs/protocol/. */
export * from './identity.js'
export * from './channel.js'
export * from './seal.js'
export { createMemoryPipe, type MemoryPipeEnd } from './memory-pipe.js'
export { toBase64Url, fromBase64Url, equalBytes, concatBytes } from './bytes.js'

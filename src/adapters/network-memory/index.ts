/**
 * An in-memory network for automerge-repo with deterministic, test-controlled delivery:
 * ordered, reordered, duplicated, cut and restored links. Platform-free.
 */
export { MemoryNetworkAdapter } from './adapter.js'
export { Channel, MemoryHub, MemoryLink } from './hub.js'
export type { DeliveryMode, LinkStats, MemoryHubOptions } from './hub.js'
export { chaosStep, type ChaosWeights } from './chaos.js'

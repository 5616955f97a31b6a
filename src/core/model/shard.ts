/**
 * Which contact shard document holds a contact.
 *
 * The mapping must be identical on every device and platform forever (a contact written to shard 3
 * on a phone must be looked up in shard 3 on a laptop), so it is a fixed, spelled-out hash rather
 * than anything engine-dependent: FNV-1a 32-bit over the UTF-8 bytes of the id, modulo the count.
 */

/** Shards per new workspace. The count is fixed at creation (it is `RootDoc.shards.length`). */
export const DEFAULT_SHARD_COUNT = 16

/** Largest shard count accepted at workspace creation. */
export const MAX_SHARD_COUNT = 1024

const FNV_OFFSET = 0x811c9dc5
const FNV_PRIME = 0x01000193
const utf8 = new TextEncoder()

/** FNV-1a 32-bit hash of the UTF-8 encoding of `value`, as an unsigned integer. */
export function fnv1a32(value: string): number {
  let hash = FNV_OFFSET
  for (const byte of utf8.encode(value)) {
    hash ^= byte
    hash = Math.imul(hash, FNV_PRIME)
  }
  return hash >>> 0
}

/**
 * The shard (0-based) that holds entity `id` in a workspace of `shardCount` shards.
 *
 * @example shardOf('ct_aaaaaaaaaaaaaaaa', 16) // always the same number in 0..15
 */
export function shardOf(id: string, shardCount: number): number {
  if (!Number.isInteger(shardCount) || shardCount < 1) {
    throw new RangeError(`shardCount must be a positive integer, got ${shardCount}`)
  }
  return fnv1a32(id) % shardCount
}

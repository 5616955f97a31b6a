/**
 * Fuzzing the blob exchange (src/core/blobs/exchange.ts, docs/protocol/blobs.md) against a
 * hostile paired provider (docs/fuzzing.md): the device fetches a real blob; the scripted peer
 * answers its query and want with the right messages, mutated (through the real codec: encoded,
 * mutated as bytes, decoded again — only what the decoder lets through reaches the exchange), and
 * mixes in requests of its own for a blob the device holds. Whatever it sends, the fetch settles,
 * nothing throws or rejects untyped, and the store never holds bytes that do not hash to their name.
 */
import { describe, expect, it } from 'vitest'
import { chunkListOf, sha256Hex } from '../../src/core/blobs/chunks.js'
import { BlobExchange } from '../../src/core/blobs/exchange.js'
import { MemoryBlobStore } from '../../src/core/blobs/memory-store.js'
import { PIECE_SIZE } from '../../src/core/blobs/port.js'
import { decodeBlobMessage, encodeBlobMessage, type BlobMessage, type BlobPort } from '../../src/core/blobs/protocol.js'
import { WireError } from '../../src/core/errors.js'
import type { BlobHash, DeviceId } from '../../src/core/ids.js'
import { Prng } from '../helpers/prng.js'
import { FUZZ_TEST_TIMEOUT, fuzz, mutateBytes } from './harness.js'
import { B, BLOB_SEEDS } from './seeds.js'

const wantedBytes = Uint8Array.from({ length: PIECE_SIZE + 5000 }, (_, i) => (i * 31 + 7) & 0xff)
const wantedList = chunkListOf(wantedBytes)
const heldBytes = Uint8Array.from({ length: 3000 }, (_, i) => (i * 13) & 0xff)
const heldHash = sha256Hex(heldBytes) as BlobHash

/** `m`, or (with probability `p`) what the codec makes of its encoding mutated; undefined when the decoder refuses it. */
function maybeMutate(prng: Prng, m: BlobMessage, p: number): BlobMessage | undefined {
  if (!prng.chance(p)) return m
  try {
    return decodeBlobMessage(mutateBytes(prng, [encodeBlobMessage(m)]))
  } catch (error) {
    if (error instanceof WireError) return undefined
    throw error
  }
}

/** The scripted provider: B, linked to the device; answers what the device sends. */
class HostilePeer implements BlobPort {
  #onBlob: ((d: DeviceId, m: BlobMessage) => void) | undefined
  sent = 0
  constructor(
    readonly prng: Prng,
    readonly p: number,
  ) {}
  blobPeers(): DeviceId[] {
    return [B]
  }
  onBlob(listener: (d: DeviceId, m: BlobMessage) => void): () => void {
    this.#onBlob = listener
    return () => (this.#onBlob = undefined)
  }
  onPeersChanged(): () => void {
    return () => undefined
  }
  /** Delivers `m` (maybe mutated) to the device, later (as a link would). */
  give(m: BlobMessage): void {
    const out = maybeMutate(this.prng, m, this.p)
    if (out === undefined) return
    this.sent++
    setTimeout(() => this.#onBlob?.(B, out), 0)
  }
  /** The device sent `m` to B: answer as a provider of the wanted blob would, plus noise. */
  sendBlob(_to: DeviceId, m: BlobMessage): boolean {
    const prng = this.prng
    if (m.type === 'query') this.give({ type: 'have', id: m.id, hashes: m.hashes.filter((h) => h === wantedList.hash) })
    if (m.type === 'want') {
      for (const item of m.items) {
        if (item.hash !== wantedList.hash) continue
        this.give({ type: 'header', id: m.id, hash: wantedList.hash, size: wantedList.size, chunkSize: wantedList.chunkSize, chunks: wantedList.chunks })
        for (let at = item.from; at < wantedBytes.length; at += PIECE_SIZE) this.give({ type: 'data', id: m.id, hash: wantedList.hash, offset: at, bytes: wantedBytes.subarray(at, at + PIECE_SIZE) })
        if (prng.chance(0.9)) this.give({ type: 'end', id: m.id, hash: wantedList.hash })
        else this.give({ type: 'refuse', id: m.id, hash: wantedList.hash, code: 'BUSY', message: '' })
      }
    }
    // Requests of its own, and stray messages, now and then.
    if (prng.chance(0.3)) this.give(prng.chance(0.5) ? { type: 'want', id: prng.int(0, 5), items: [{ hash: heldHash, from: prng.pick([0, 1, 2999, 3000, 5000]) }], credit: prng.pick([0, 1, 1 << 20]) } : { type: 'query', id: prng.int(0, 5), hashes: [heldHash, wantedList.hash] })
    if (prng.chance(0.2)) this.give(prng.pick(BLOB_SEEDS))
    return true
  }
}

describe('fuzz: the blob exchange against a hostile provider', () => {
  it(
    'mutated answers to a real fetch, and requests of its own: the fetch settles, nothing untyped, no corrupt blob stored',
    async () => {
      let fetched = 0
      const r = await fuzz<{ seed: number; p: number }>({
        name: 'blob-exchange',
        seeds: [],
        generate: (prng) => ({ seed: prng.int(0, 2 ** 31), p: prng.pick([0, 0.1, 0.3, 0.6]) }),
        inputs: 300,
        perInputMs: 10_000,
        run: async ({ seed, p }) => {
          const store = new MemoryBlobStore()
          await store.put(heldBytes)
          const peer = new HostilePeer(new Prng(seed), p)
          const exchange = new BlobExchange({ store, isMember: (d) => d === B, isReferenced: (h) => h === wantedList.hash || h === heldHash, maxBlobBytes: () => 1 << 20, queryTimeoutMs: 30, retryWindowMs: 30, stallMs: 120 })
          exchange.addPort(peer)
          try {
            const result = await exchange.fetch([wantedList.hash])
            if (result.fetched.includes(wantedList.hash)) fetched++
            // Let served answers and stray messages drain before the check.
            await new Promise((resolve) => setTimeout(resolve, 5))
            for (const stat of await store.list()) {
              const bytes = await store.get(stat.hash)
              if (bytes === undefined || sha256Hex(bytes) !== stat.hash) throw new Error(`the store holds ${stat.hash} with bytes that do not hash to it`)
            }
            if (result.fetched.includes(wantedList.hash) && !(await store.has(wantedList.hash))) throw new Error('reported fetched but not stored')
            return result
          } finally {
            await exchange.close()
          }
        },
      })
      console.log(`fuzz blob-exchange: ${fetched} of ${r.inputs} fetches completed despite the damage`)
      if (r.inputs > 0) expect(fetched).toBeGreaterThan(0)
    },
    FUZZ_TEST_TIMEOUT,
  )
})

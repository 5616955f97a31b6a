/**
 * A systematic, rateless fountain code over GF(256).
 *
 * The message is cut into `k` equal source blocks (the last one zero-padded). Symbol `i < k` is
 * source block `i` itself, so a lossless run needs exactly `k` frames and no arithmetic. Symbol
 * `i ≥ k` is a repair symbol: a dense linear combination of all source blocks whose non-zero
 * GF(256) coefficients are drawn from a PRNG seeded by `(i, k)` ({@link repairCoefficients}), so
 * a frame only needs to carry its index. Any `k` symbols whose coefficient vectors are independent
 * decode the message; with dense random GF(256) rows that is almost always the first `k` distinct
 * symbols received (the chance that one more is needed is ≈ 1/256), whatever was lost. That is
 * why we chose this over LT/Luby codes (the family @ngraveio/bc-ur uses), whose peeling decoder
 * needs a noticeable overhead on small `k`.
 *
 * Cost: encoding a repair symbol is `k · blockSize` table lookups; decoding is incremental
 * Gaussian elimination, O(r · (k + blockSize)) per repair symbol (r = current rank), and O(blockSize)
 * per source symbol that arrives before any repair symbol touches its column. Fine for the few
 * hundred frames a QR transfer can realistically carry.
 */
import { addMulRow, gfInv, scaleRow } from './gf256.js'

/** mulberry32: a tiny, well-distributed 32-bit PRNG. Part of the wire format — do not change. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }
}

/**
 * The coefficient vector of symbol `index` for a message of `k` blocks: the unit vector `e_index`
 * for `index < k`, else `k` values in 1..255 from mulberry32 seeded with
 * `(index · 0x9E3779B1) xor (k · 0x85EBCA77)` (32-bit arithmetic), `1 + (next() mod 255)` each.
 */
export function repairCoefficients(index: number, k: number): Uint8Array {
  const coefs = new Uint8Array(k)
  if (index < k) {
    coefs[index] = 1
    return coefs
  }
  const next = mulberry32(Math.imul(index, 0x9e3779b1) ^ Math.imul(k, 0x85ebca77))
  for (let j = 0; j < k; j++) coefs[j] = 1 + (next() % 255)
  return coefs
}

/** Number of source blocks and block size for a message, given the largest block allowed. */
export function fountainLayout(messageLength: number, maxBlockSize: number): { k: number; blockSize: number } {
  if (!Number.isInteger(maxBlockSize) || maxBlockSize < 1) throw new RangeError('maxBlockSize must be a positive integer')
  const k = Math.max(1, Math.ceil(messageLength / maxBlockSize))
  // Balance the blocks so that a message just over one block does not carry a nearly empty one.
  const blockSize = Math.max(1, Math.ceil(messageLength / k))
  return { k, blockSize }
}

/**
 * Produces symbols of a message. Stateless per symbol: `symbol(i)` can be asked in any order,
 * and any number of times.
 *
 * @example
 * const enc = new FountainEncoder(bytes, 1000)
 * const frames = Array.from({ length: enc.k + 3 }, (_, i) => enc.symbol(i))
 */
export class FountainEncoder {
  readonly k: number
  readonly blockSize: number
  readonly messageLength: number
  readonly #blocks: Uint8Array[]

  /** `blockSize` is exact: the caller picks it (see {@link fountainLayout}). */
  constructor(message: Uint8Array, blockSize: number) {
    if (!Number.isInteger(blockSize) || blockSize < 1) throw new RangeError('blockSize must be a positive integer')
    this.messageLength = message.length
    this.blockSize = blockSize
    this.k = Math.max(1, Math.ceil(message.length / blockSize))
    this.#blocks = []
    for (let i = 0; i < this.k; i++) {
      const block = new Uint8Array(blockSize)
      block.set(message.subarray(i * blockSize, Math.min(message.length, (i + 1) * blockSize)))
      this.#blocks.push(block)
    }
  }

  /** Symbol `index` (a fresh array of `blockSize` bytes). */
  symbol(index: number): Uint8Array {
    if (!Number.isInteger(index) || index < 0 || index > 0xffffffff) throw new RangeError('symbol index out of range')
    if (index < this.k) return this.#blocks[index]!.slice()
    const coefs = repairCoefficients(index, this.k)
    const out = new Uint8Array(this.blockSize)
    for (let j = 0; j < this.k; j++) addMulRow(out, this.#blocks[j]!, coefs[j]!)
    return out
  }
}

interface Pivot {
  /** Coefficients; zero in every column before the pivot column, 1 at it. `undefined` = the unit vector. */
  coefs: Uint8Array | undefined
  data: Uint8Array
}

/**
 * Incremental Gaussian-elimination decoder. Feed it symbols in any order; it keeps the rows in
 * echelon form, drops duplicates and dependent rows, and back-substitutes once the rank reaches `k`.
 */
export class FountainDecoder {
  readonly k: number
  readonly blockSize: number
  readonly messageLength: number
  readonly #pivots: (Pivot | undefined)[]
  readonly #seen = new Set<number>()
  #rank = 0
  #result: Uint8Array | undefined

  constructor(k: number, blockSize: number, messageLength: number) {
    if (!Number.isInteger(k) || k < 1) throw new RangeError('k must be a positive integer')
    if (!Number.isInteger(blockSize) || blockSize < 1) throw new RangeError('blockSize must be a positive integer')
    if (!Number.isInteger(messageLength) || messageLength < 0 || messageLength > k * blockSize) {
      throw new RangeError('messageLength does not fit k blocks')
    }
    this.k = k
    this.blockSize = blockSize
    this.messageLength = messageLength
    this.#pivots = new Array<Pivot | undefined>(k).fill(undefined)
  }

  /** Independent symbols received so far (the decoder completes when this reaches `k`). */
  get rank(): number {
    return this.#rank
  }

  get isComplete(): boolean {
    return this.#rank === this.k
  }

  /** Whether symbol `index` was already offered. */
  has(index: number): boolean {
    return this.#seen.has(index)
  }

  /**
   * Offers symbol `index`. Returns true when it raised the rank (it was new information), false
   * for a duplicate index, a dependent combination, or anything after completion.
   */
  add(index: number, symbol: Uint8Array): boolean {
    if (symbol.length !== this.blockSize) throw new RangeError('symbol has the wrong size')
    if (this.isComplete || this.#seen.has(index)) return false
    this.#seen.add(index)
    const data = symbol.slice()

    if (index < this.k && this.#pivots[index] === undefined) {
      // A source block on a free column: already in echelon form, no arithmetic at all.
      this.#pivots[index] = { coefs: undefined, data }
      return this.#raise()
    }

    const coefs = repairCoefficients(index, this.k)
    for (let col = 0; col < this.k; col++) {
      const c = coefs[col]!
      if (c === 0) continue
      const pivot = this.#pivots[col]
      if (pivot === undefined) {
        const inv = gfInv(c)
        scaleRow(coefs, inv)
        scaleRow(data, inv)
        this.#pivots[col] = { coefs, data }
        return this.#raise()
      }
      if (pivot.coefs === undefined) coefs[col] = 0
      else addMulRow(coefs, pivot.coefs, c, col)
      addMulRow(data, pivot.data, c)
    }
    return false // dependent: reduced to the zero row
  }

  /** The decoded message once complete. */
  result(): Uint8Array | undefined {
    return this.#result
  }

  #raise(): true {
    this.#rank++
    if (this.#rank === this.k) this.#solve()
    return true
  }

  /** Back-substitution from the last column up: every pivot becomes a unit row, i.e. a source block. */
  #solve(): void {
    const k = this.k
    const pivots = this.#pivots as Pivot[]
    for (let col = k - 1; col >= 0; col--) {
      const p = pivots[col]!
      if (p.coefs === undefined) continue
      for (let j = col + 1; j < k; j++) {
        const c = p.coefs[j]!
        if (c !== 0) addMulRow(p.data, pivots[j]!.data, c)
      }
      p.coefs = undefined
    }
    const out = new Uint8Array(this.messageLength)
    for (let i = 0; i < k; i++) {
      const start = i * this.blockSize
      if (start >= out.length) break
      out.set(pivots[i]!.data.subarray(0, Math.min(this.blockSize, out.length - start)), start)
    }
    this.#result = out
  }
}

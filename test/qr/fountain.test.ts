import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { FountainDecoder, FountainEncoder, fountainLayout, repairCoefficients } from '../../src/core/qr/fountain.js'
import { addMulRow, gfInv, gfMul } from '../../src/core/qr/gf256.js'

function seededBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n)
  let s = seed >>> 0 || 1
  for (let i = 0; i < n; i++) {
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    out[i] = s & 0xff
  }
  return out
}

describe('GF(256)', () => {
  it('every non-zero element has an inverse', () => {
    for (let a = 1; a < 256; a++) expect(gfMul(a, gfInv(a))).toBe(1)
  })
  it('multiplication distributes over addition (xor)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), (a, b, c) => {
        expect(gfMul(a, b ^ c)).toBe(gfMul(a, b) ^ gfMul(a, c))
      }),
    )
  })
  it('addMulRow applies c·src to dst', () => {
    const dst = new Uint8Array([1, 2, 3])
    addMulRow(dst, new Uint8Array([4, 5, 6]), 7)
    expect([...dst]).toEqual([1 ^ gfMul(7, 4), 2 ^ gfMul(7, 5), 3 ^ gfMul(7, 6)])
  })
})

describe('fountain code', () => {
  it('the first k symbols are the message itself (systematic)', () => {
    const msg = seededBytes(1000, 1)
    const enc = new FountainEncoder(msg, 300)
    expect(enc.k).toBe(4)
    expect([...enc.symbol(0)]).toEqual([...msg.subarray(0, 300)])
    expect([...enc.symbol(3).subarray(0, 100)]).toEqual([...msg.subarray(900)])
    expect([...enc.symbol(3).subarray(100)].every((b) => b === 0)).toBe(true)
  })

  it('repair coefficients are deterministic and non-zero', () => {
    expect([...repairCoefficients(17, 9)]).toEqual([...repairCoefficients(17, 9)])
    expect([...repairCoefficients(17, 9)].every((c) => c > 0)).toBe(true)
    expect([...repairCoefficients(2, 9)]).toEqual([0, 0, 1, 0, 0, 0, 0, 0, 0])
  })

  it('balances blocks', () => {
    expect(fountainLayout(1254, 1253)).toEqual({ k: 2, blockSize: 627 })
    expect(fountainLayout(10, 1253)).toEqual({ k: 1, blockSize: 10 })
  })

  it('decodes from repair symbols only', () => {
    const msg = seededBytes(5000, 2)
    const enc = new FountainEncoder(msg, 500)
    const dec = new FountainDecoder(enc.k, 500, msg.length)
    let i = enc.k
    while (!dec.isComplete) dec.add(i, enc.symbol(i++))
    expect(i - enc.k).toBeLessThanOrEqual(enc.k + 3)
    expect(dec.result()).toEqual(msg)
  })

  it('any order, any loss, duplicates: decodes with at most k+3 distinct symbols', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3000 }),
        fc.integer({ min: 1, max: 400 }),
        fc.integer(),
        fc.array(fc.integer({ min: 0, max: 200 }), { minLength: 1, maxLength: 400 }),
        (len, blockSize, seed, order) => {
          const msg = seededBytes(len, seed)
          const enc = new FountainEncoder(msg, blockSize)
          const dec = new FountainDecoder(enc.k, blockSize, len)
          const distinct = new Set<number>()
          for (const raw of [...order, ...Array.from({ length: enc.k + 40 }, (_, j) => 300 + j)]) {
            if (dec.isComplete) break
            const index = raw
            const fresh = !distinct.has(index)
            distinct.add(index)
            const useful = dec.add(index, enc.symbol(index))
            if (!fresh) expect(useful).toBe(false)
          }
          expect(dec.isComplete).toBe(true)
          expect(distinct.size).toBeLessThanOrEqual(enc.k + 3)
          expect(dec.result()).toEqual(msg)
        },
      ),
      { numRuns: 150 },
    )
  })
})

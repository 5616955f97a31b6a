import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { DEFAULT_SHARD_COUNT, fnv1a32, shardOf } from '../../src/core/model/shard.js'
import { newContactId } from '../../src/core/ids.js'

describe('shardOf', () => {
  it('matches published FNV-1a 32-bit vectors', () => {
    // From the FNV reference test suite (http://www.isthe.com/chongo/src/fnv/test_fnv.c).
    expect(fnv1a32('')).toBe(0x811c9dc5)
    expect(fnv1a32('a')).toBe(0xe40c292c)
    expect(fnv1a32('foobar')).toBe(0xbf9cf968)
  })

  it('is pinned for a known id (the layout depends on it forever)', () => {
    expect(shardOf('ct_aaaaaaaaaaaaaaaa', 16)).toBe(fnv1a32('ct_aaaaaaaaaaaaaaaa') % 16)
    expect(DEFAULT_SHARD_COUNT).toBe(16)
  })

  it('property: in range and deterministic', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 1, max: 1024 }), (id, n) => {
        const s = shardOf(id, n)
        expect(s).toBeGreaterThanOrEqual(0)
        expect(s).toBeLessThan(n)
        expect(shardOf(id, n)).toBe(s)
      }),
    )
  })

  it('spreads random contact ids roughly evenly', () => {
    const counts = new Array<number>(16).fill(0)
    for (let i = 0; i < 16_000; i++) counts[shardOf(newContactId(), 16)]!++
    for (const c of counts) expect(c).toBeGreaterThan(700)
  })

  it('refuses a bad count', () => {
    expect(() => shardOf('x', 0)).toThrow(RangeError)
  })
})

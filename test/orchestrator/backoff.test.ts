/**
 * The redial schedule (src/core/engine/backoff.ts): capped exponential ceilings, full jitter over
 * them, reset on success. The random draw and the clock are injected, so every value is exact.
 */
import { describe, expect, it } from 'vitest'
import { Backoff, backoffCeiling } from '../../src/core/engine/backoff.js'

describe('backoffCeiling', () => {
  it('doubles from the base and stops at the cap', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((n) => backoffCeiling(n, 500, 30_000))).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000])
  })
  it('stays finite for huge attempt counts and treats bad ones as 0', () => {
    expect(backoffCeiling(5000, 500, 30_000)).toBe(30_000)
    expect(backoffCeiling(-3, 500, 30_000)).toBe(500)
    expect(backoffCeiling(Number.NaN, 500, 30_000)).toBe(500)
  })
})

describe('Backoff', () => {
  it('full jitter: the delay is random() times the ceiling of the attempt', () => {
    const draws = [0.5, 0.5, 0.5, 0.25, 0.999]
    let now = 1_000
    const b = new Backoff({ baseMs: 100, capMs: 1000, random: () => draws.shift()!, now: () => now })
    expect(b.fail()).toEqual({ delayMs: 50, at: 1050 }) // 0.5 * 100
    expect(b.fail()).toEqual({ delayMs: 100, at: 1100 }) // 0.5 * 200
    now = 2_000
    expect(b.fail()).toEqual({ delayMs: 200, at: 2200 }) // 0.5 * 400
    expect(b.fail()).toEqual({ delayMs: 200, at: 2200 }) // 0.25 * 800
    expect(b.fail()).toEqual({ delayMs: 999, at: 2999 }) // 0.999 * min(1000, 1600)
    expect(b.attempt).toBe(5)
  })

  it('a draw of 0 retries at once, and out-of-range draws are clamped', () => {
    const draws = [0, 7, -1]
    const b = new Backoff({ baseMs: 100, capMs: 400, random: () => draws.shift()!, now: () => 0 })
    expect(b.fail().delayMs).toBe(0)
    expect(b.fail().delayMs).toBe(200) // clamped to 1 * 200
    expect(b.fail().delayMs).toBe(0)
  })

  it('success and reset start over at the base ceiling', () => {
    const b = new Backoff({ baseMs: 100, capMs: 10_000, random: () => 1, now: () => 0 })
    for (let i = 0; i < 6; i++) b.fail()
    expect(b.delay()).toBe(6400)
    b.succeed()
    expect(b.attempt).toBe(0)
    expect(b.delay()).toBe(100)
    b.fail()
    b.reset()
    expect(b.delay()).toBe(100)
  })

  it('refuses a cap below the base', () => {
    expect(() => new Backoff({ baseMs: 1000, capMs: 10 })).toThrow(expect.objectContaining({ name: 'ValidationError', code: 'VALIDATION' }))
  })
})

import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import {
  DEFAULT_PAYLOAD_SIZE,
  FRAME_OVERHEAD,
  FrameDecoder,
  MAX_QR_FRAME_BYTES,
  defaultFrameCount,
  encodeFrames,
  parseFrame,
} from '../../src/core/qr/frame.js'

function bytes(n: number, seed = 7): Uint8Array {
  const out = new Uint8Array(n)
  let s = seed
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0
    out[i] = s >>> 24
  }
  return out
}

describe('QR frames', () => {
  it('a small bundle is exactly one frame, sized to the bundle', () => {
    const frames = encodeFrames(bytes(300))
    expect(frames).toHaveLength(1)
    expect(frames[0]!.length).toBe(300 + FRAME_OVERHEAD)
    const dec = new FrameDecoder()
    expect(dec.push(frames[0]!)).toMatchObject({ status: 'complete', received: 1, needed: 1 })
    expect(dec.result()).toEqual(bytes(300))
  })

  it('by default survives a quarter of the frames lost; frames fit QR version 25-L', () => {
    const bundle = bytes(20_000)
    const frames = encodeFrames(bundle)
    const k = Math.ceil(20_000 / DEFAULT_PAYLOAD_SIZE)
    expect(frames).toHaveLength(defaultFrameCount(k))
    for (const f of frames) expect(f.length).toBeLessThanOrEqual(MAX_QR_FRAME_BYTES)
    // Drop every 4th frame, and the first two: a quarter lost, the systematic prefix damaged.
    const kept = frames.filter((_, i) => i % 4 !== 1 && i > 1)
    expect(kept.length).toBeLessThanOrEqual(Math.ceil(frames.length * 0.75))
    const dec = new FrameDecoder()
    let last
    for (const f of kept.reverse()) {
      last = dec.push(f)
      if (last.status === 'complete') break
    }
    expect(last?.status).toBe('complete')
    expect(dec.result()).toEqual(bundle)
  })

  it('reports duplicates, foreign and corrupt frames and keeps decoding', () => {
    const a = encodeFrames(bytes(5000, 1), { payloadSize: 1000, frameCount: 8 })
    const b = encodeFrames(bytes(5000, 2), { payloadSize: 1000, frameCount: 8 })
    const dec = new FrameDecoder()
    expect(dec.push(a[0]!)).toMatchObject({ status: 'accepted', received: 1, needed: 5 })
    expect(dec.push(a[0]!).status).toBe('duplicate')
    expect(dec.push(b[1]!).status).toBe('foreign')
    const damaged = a[1]!.slice()
    damaged[40]! ^= 0x10
    const r = dec.push(damaged)
    expect(r.status).toBe('corrupt')
    expect(r.error?.name).toBe('QrError')
    expect(dec.push(new Uint8Array([1, 2, 3])).status).toBe('corrupt')
    for (const f of a.slice(3)) dec.push(f)
    expect(dec.result()).toEqual(bytes(5000, 1))
    expect(dec.push(a[1]!).status).toBe('complete')
  })

  it('refuses frames whose header disagrees with the bundle', () => {
    const a = encodeFrames(bytes(5000, 1), { payloadSize: 1000, frameCount: 3 })
    const dec = new FrameDecoder()
    dec.push(a[0]!)
    const shorter = encodeFrames(bytes(5000, 1), { payloadSize: 900, frameCount: 3 })
    expect(dec.push(shorter[1]!).status).toBe('corrupt')
  })

  it('parseFrame throws only QrError, whatever the bytes (fuzz)', () => {
    const valid = encodeFrames(bytes(3000), { payloadSize: 700, frameCount: 6 })
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 1400 }),
          fc.tuple(fc.constantFrom(...valid), fc.nat(), fc.integer({ min: 1, max: 255 })).map(([f, pos, x]) => {
            const g = f.slice()
            g[pos % g.length]! ^= x
            return g
          }),
          fc.tuple(fc.constantFrom(...valid), fc.nat()).map(([f, cut]) => f.slice(0, cut % f.length)),
        ),
        (input) => {
          try {
            parseFrame(input)
          } catch (error) {
            expect((error as Error).name).toBe('QrError')
          }
          const dec = new FrameDecoder()
          dec.push(valid[0]!)
          const r = dec.push(input)
          expect(['corrupt', 'foreign', 'duplicate', 'accepted']).toContain(r.status)
        },
      ),
      { numRuns: 2000 },
    )
  })

  it('rejects nonsense options and empty bundles with QrError', () => {
    expect(() => encodeFrames(new Uint8Array(0))).toThrow(expect.objectContaining({ name: 'QrError' }))
    expect(() => encodeFrames(bytes(10), { frameCount: 0 })).toThrow(expect.objectContaining({ name: 'QrError' }))
    expect(() => encodeFrames(bytes(10), { payloadSize: 0 })).toThrow(expect.objectContaining({ name: 'QrError' }))
  })
})

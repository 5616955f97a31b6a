import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  decodeQrPng,
  renderQrPng,
  renderQrSvg,
  renderQrTerminal,
  qrModules,
  writeFrameSet,
} from '../../src/adapters/qr-image/index.js'
import { DEFAULT_PAYLOAD_SIZE, FrameDecoder, MAX_QR_FRAME_BYTES, encodeFrames } from '../../src/core/qr/frame.js'
import { addNoise, boxBlur, contrastLoss, gaussianBlur, readPng, resize, rotate, writePng, type Image } from './degrade.js'

function bytes(n: number, seed = 3): Uint8Array {
  const out = new Uint8Array(n)
  let s = seed
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0
    out[i] = s >>> 24
  }
  return out
}

const dirs: string[] = []
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true })
})

describe('QR images', () => {
  it('a full-size frame (1,273 bytes) fits version 25 at level L and reads back from the PNG', () => {
    const frame = encodeFrames(bytes(5 * DEFAULT_PAYLOAD_SIZE))[2]!
    expect(frame.length).toBe(MAX_QR_FRAME_BYTES)
    expect(qrModules(frame).version).toBe(25)
    expect(decodeQrPng(renderQrPng(frame))).toEqual(frame)
  })

  it('refuses bytes that need a version above 25', () => {
    expect(() => renderQrPng(bytes(MAX_QR_FRAME_BYTES + 1))).toThrow(expect.objectContaining({ name: 'QrError' }))
    expect(() => renderQrPng(bytes(1000), { errorCorrection: 'M' })).toThrow(expect.objectContaining({ name: 'QrError' }))
  })

  it('binary bytes survive (no text re-encoding): all 256 byte values', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i)
    expect(decodeQrPng(renderQrPng(all, { errorCorrection: 'M' }))).toEqual(all)
  })

  it('SVG and terminal renderings carry the same modules', () => {
    const data = bytes(40)
    const { size } = qrModules(data)
    const svg = renderQrSvg(data, { margin: 4 })
    expect(svg).toContain(`viewBox="0 0 ${size + 8} ${size + 8}"`)
    const lines = renderQrTerminal(data, { margin: 2 }).trimEnd().split('\n')
    expect(lines[0]!.length).toBe(size + 4)
    expect(lines.length).toBe(Math.ceil((size + 4) / 2))
  })

  it('a truncated PNG and an image without a QR code are QrErrors', () => {
    const png = renderQrPng(bytes(100))
    expect(() => decodeQrPng(png.subarray(0, png.length / 2))).toThrow(expect.objectContaining({ name: 'QrError' }))
    expect(() => decodeQrPng(new Uint8Array([1, 2, 3]))).toThrow(expect.objectContaining({ name: 'QrError' }))
    const blank: Image = { width: 200, height: 200, data: new Uint8Array(200 * 200 * 4).fill(255) }
    expect(() => decodeQrPng(writePng(addNoise(blank, 30)))).toThrow(expect.objectContaining({ name: 'QrError' }))
  })

  describe('reads frames degraded as a camera would deliver them', () => {
    // Full-size frames (version 25, 1,273 bytes) and ~1 KB ones (version 24), 4 px per module.
    const frames = {
      'v25 frame': encodeFrames(bytes(5000))[1]!,
      // 1,020 bytes would be version 23, which jsQR misreads: the renderer moves it to 24.
      'v24 frame': encodeFrames(bytes(4000), { payloadSize: 1000 })[1]!,
    }
    const cases: [string, (img: Image) => Image][] = [
      ['downscaled to 60% and upscaled back', (img) => resize(resize(img, 0.6), 1 / 0.6)],
      ['downscaled to 2.2 px per module', (img) => resize(img, 0.55)],
      ['downscaled to 3.2 px per module', (img) => resize(img, 0.8)],
      ['box blur radius 2', (img) => boxBlur(img, 2)],
      ['gaussian blur σ=1.5', (img) => gaussianBlur(img, 1.5)],
      ['rotated 3°', (img) => rotate(img, 3)],
      ['rotated -8°', (img) => rotate(img, -8)],
      ['additive noise σ=40', (img) => addNoise(img, 40, 42)],
      ['JPEG-like contrast loss', (img) => contrastLoss(img, 90, 170, 0.3)],
      ['rotated 3°, blurred, scaled to 80%, contrast lost, noised', (img) =>
        addNoise(contrastLoss(resize(gaussianBlur(rotate(img, 3), 0.8), 0.8), 60, 200), 12, 7)],
      ['rotated -8°, blurred, scaled to 90%, contrast lost, noised', (img) =>
        addNoise(contrastLoss(resize(gaussianBlur(rotate(img, -8), 0.8), 0.9), 60, 200), 12, 7)],
    ]
    for (const [label, frame] of Object.entries(frames)) {
      const clean = readPng(renderQrPng(frame, { scale: 4 }))
      for (const [name, degrade] of cases) {
        it(`${label}: ${name}`, () => {
          const png = writePng(degrade(clean))
          expect(decodeQrPng(png)).toEqual(frame)
        })
      }
    }
  })

  it('writes frame-0001.png… and a cycling page; the frames read back into the bundle', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'orbit-qr-'))
    dirs.push(dir)
    const bundle = bytes(3000)
    const frames = encodeFrames(bundle, { payloadSize: 1000 })
    const paths = await writeFrameSet(dir, frames)
    expect(paths).toHaveLength(frames.length + 1)
    const names = (await readdir(dir)).sort()
    expect(names[0]).toBe('frame-0001.png')
    expect(names).toContain('index.html')
    const html = await readFile(join(dir, 'index.html'), 'utf8')
    expect(html).toContain('"frame-0001.png"')
    expect(html).not.toMatch(/https?:\/\//)
    const dec = new FrameDecoder()
    for (const name of names.filter((n) => n.endsWith('.png')).reverse()) {
      if (dec.push(decodeQrPng(await readFile(join(dir, name)))).status === 'complete') break
    }
    expect(dec.result()).toEqual(bundle)
  })
})

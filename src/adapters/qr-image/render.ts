/**
 * Renders binary QR frames as images: PNG (pngjs), SVG and terminal text, always in QR byte mode
 * (no base64: a frame's bytes are the code's bytes). Modules come from `qrcode`'s encoder; drawing
 * them ourselves keeps every renderer synchronous and identical in geometry.
 */
import QRCode from 'qrcode'
import { PNG } from 'pngjs'
import { QrError } from '../../core/errors.js'

/** Densest QR version we emit: version 25 (117×117 modules) still films well on a phone. */
export const MAX_QR_VERSION = 25

export type ErrorCorrection = 'L' | 'M' | 'Q' | 'H'

export interface QrRenderOptions {
  /** QR error-correction level. Default `L`: 1,273 bytes at version 25 (M would hold only 997). */
  errorCorrection?: ErrorCorrection
  /** Pixels per module (PNG) — default 4. */
  scale?: number
  /** Quiet zone, in modules — default 4 (the standard's minimum). */
  margin?: number
}

/** The module matrix of a byte-mode QR code for `bytes`, refusing versions above 25. */
export function qrModules(bytes: Uint8Array, errorCorrection: ErrorCorrection = 'L'): { size: number; dark: (x: number, y: number) => boolean; version: number } {
  let qr: QRCode.QRCode
  try {
    qr = QRCode.create([{ data: bytes, mode: 'byte' }], { errorCorrectionLevel: errorCorrection })
    // jsQR 1.4 has version 23's alignment pattern at 74 instead of 78 (ISO 18004 table E.1), so it
    // misreads every version-23 code; one version up costs a few modules and reads fine.
    if (qr.version === 23) qr = QRCode.create([{ data: bytes, mode: 'byte' }], { errorCorrectionLevel: errorCorrection, version: 24 })
  } catch (error) {
    throw new QrError(`${bytes.length} bytes do not fit one QR code at level ${errorCorrection}`, { code: 'QR_TOO_LARGE', cause: error })
  }
  if (qr.version > MAX_QR_VERSION) {
    throw new QrError(`${bytes.length} bytes need QR version ${qr.version} (> ${MAX_QR_VERSION}) at level ${errorCorrection}`, { code: 'QR_TOO_LARGE' })
  }
  const { size, data } = qr.modules
  return { size, version: qr.version, dark: (x, y) => data[y * size + x] === 1 }
}

function geometry(options: QrRenderOptions): { scale: number; margin: number } {
  const scale = options.scale ?? 4
  const margin = options.margin ?? 4
  if (!Number.isInteger(scale) || scale < 1 || scale > 64) throw new QrError('scale must be an integer in 1..64', { code: 'QR_OPTIONS' })
  if (!Number.isInteger(margin) || margin < 0 || margin > 64) throw new QrError('margin must be an integer in 0..64', { code: 'QR_OPTIONS' })
  return { scale, margin }
}

/**
 * A PNG (black on white, grayscale-looking RGBA) of the QR code for `bytes`.
 *
 * @example
 * await fs.writeFile('frame.png', renderQrPng(frame, { scale: 6 }))
 */
export function renderQrPng(bytes: Uint8Array, options: QrRenderOptions = {}): Buffer {
  const { scale, margin } = geometry(options)
  const { size, dark } = qrModules(bytes, options.errorCorrection)
  const side = (size + 2 * margin) * scale
  const png = new PNG({ width: side, height: side })
  png.data.fill(255)
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (!dark(x, y)) continue
      for (let dy = 0; dy < scale; dy++) {
        const row = ((y + margin) * scale + dy) * side
        for (let dx = 0; dx < scale; dx++) {
          const p = (row + (x + margin) * scale + dx) * 4
          png.data[p] = 0
          png.data[p + 1] = 0
          png.data[p + 2] = 0
        }
      }
    }
  }
  return PNG.sync.write(png)
}

/** An SVG document (one path, crisp edges) of the QR code for `bytes`; `scale` is ignored. */
export function renderQrSvg(bytes: Uint8Array, options: QrRenderOptions = {}): string {
  const { margin } = geometry(options)
  const { size, dark } = qrModules(bytes, options.errorCorrection)
  const side = size + 2 * margin
  let path = ''
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (!dark(x, y)) continue
      let run = 1
      while (x + run < size && dark(x + run, y)) run++
      path += `M${x + margin} ${y + margin}h${run}v1h-${run}z`
      x += run - 1
    }
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${side} ${side}" shape-rendering="crispEdges"><rect width="100%" height="100%" fill="#fff"/><path fill="#000" d="${path}"/></svg>\n`
}

/**
 * The QR code as text for a terminal, two modules per character cell (half blocks), light modules
 * drawn as filled blocks so that it reads on the usual dark terminal background.
 */
export function renderQrTerminal(bytes: Uint8Array, options: Pick<QrRenderOptions, 'errorCorrection' | 'margin'> = {}): string {
  const margin = options.margin ?? 2
  const { size, dark } = qrModules(bytes, options.errorCorrection)
  const light = (x: number, y: number): boolean => x < 0 || y < 0 || x >= size || y >= size || !dark(x, y)
  const lines: string[] = []
  for (let y = -margin; y < size + margin; y += 2) {
    let line = ''
    for (let x = -margin; x < size + margin; x++) {
      const top = light(x, y)
      const bottom = y + 1 >= size + margin ? false : light(x, y + 1)
      line += top && bottom ? '█' : top ? '▀' : bottom ? '▄' : ' '
    }
    lines.push(line)
  }
  return lines.join('\n') + '\n'
}

/**
 * Draws a binary QR frame on a canvas, in QR byte mode at level L, with the same geometry rules as
 * the CLI's renderer (src/adapters/qr-image/render.ts): a 4-module quiet zone, and version 24
 * instead of 23, which jsQR 1.4 misreads.
 */
import QRCode from 'qrcode'

/** The dark/light modules of one QR code. */
export interface QrMatrix {
  size: number
  data: Uint8Array
}

/** The module matrix of `bytes` as a byte-mode, level-L QR code. */
export function qrMatrix(bytes: Uint8Array): QrMatrix {
  const segments = [{ data: bytes, mode: 'byte' as const }]
  let qr = QRCode.create(segments, { errorCorrectionLevel: 'L' })
  if (qr.version === 23) qr = QRCode.create(segments, { errorCorrectionLevel: 'L', version: 24 })
  return { size: qr.modules.size, data: qr.modules.data }
}

/**
 * Paints `m` on `canvas` as large as its parent's box allows, one whole number of device pixels
 * per module (quiet zone included) and displayed at exactly that size: a scaled canvas would make
 * modules of uneven width, which cameras read badly.
 */
export function drawQr(canvas: HTMLCanvasElement, m: QrMatrix, margin = 4): void {
  const side = m.size + 2 * margin
  const dpr = window.devicePixelRatio || 1
  const box = canvas.parentElement ?? canvas
  const avail = Math.min(box.clientWidth, box.clientHeight)
  const px = Math.max(1, Math.floor((avail * dpr) / side))
  const dim = side * px
  if (canvas.width !== dim) canvas.width = dim
  if (canvas.height !== dim) canvas.height = dim
  canvas.style.width = canvas.style.height = `${dim / dpr}px`
  const ctx = canvas.getContext('2d')
  if (ctx === null) return
  ctx.fillStyle = '#fff'
  ctx.fillRect(0, 0, dim, dim)
  ctx.fillStyle = '#000'
  for (let y = 0; y < m.size; y++) {
    for (let x = 0; x < m.size; x++) {
      if (m.data[y * m.size + x] === 1) ctx.fillRect((x + margin) * px, (y + margin) * px, px, px)
    }
  }
}

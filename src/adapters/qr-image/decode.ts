/**
 * Reads QR codes back from pixels with jsQR (binary data, not text), from a PNG file's bytes or
 * from a raw RGBA frame (a camera). Anything that is not a readable QR image is a `QrError`.
 */
import jsQRModule from 'jsqr'
import { PNG } from 'pngjs'
import { QrError } from '../../core/errors.js'
import { otsuBinarize, resizeBilinear, type Rgba } from './preprocess.js'

// jsqr is CommonJS with an ES-style default: Node hands us module.exports, whose `default` is the function.
type JsQr = typeof jsQRModule.default
const jsQR: JsQr =
  typeof jsQRModule === 'function' ? (jsQRModule as unknown as JsQr) : (jsQRModule as unknown as { default: JsQr }).default

/** Pixel budget above which we skip the upscaling attempts (they cost time and rarely help). */
const UPSCALE_LIMIT = 1600 * 1600

/**
 * The bytes of the QR code in an RGBA image.
 *
 * Tries the image as given, then clean-ups that rescue typical camera captures (a global
 * threshold, bilinear upscales, a half-size average), stopping at the first that reads.
 */
export function decodeQrRgba(data: Uint8ClampedArray | Uint8Array, width: number, height: number): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || data.length < width * height * 4) {
    throw new QrError('image dimensions do not match its pixels', { code: 'QR_IMAGE' })
  }
  const pixels = data instanceof Uint8ClampedArray ? data : new Uint8ClampedArray(data.buffer, data.byteOffset, width * height * 4)
  const image: Rgba = { data: pixels, width, height }
  const attempts: (() => Rgba)[] = [
    () => image,
    () => otsuBinarize(image),
  ]
  if (width * height <= UPSCALE_LIMIT) {
    attempts.push(
      () => resizeBilinear(image, 1.5),
      () => resizeBilinear(image, 2),
      () => otsuBinarize(resizeBilinear(image, 2)),
    )
  }
  if (width >= 200 && height >= 200) attempts.push(() => resizeBilinear(image, 0.5))
  for (const attempt of attempts) {
    const img = attempt()
    const code = jsQR(img.data, img.width, img.height, { inversionAttempts: img === image ? 'attemptBoth' : 'dontInvert' })
    if (code !== null) return Uint8Array.from(code.binaryData)
  }
  throw new QrError('no QR code found in the image', { code: 'QR_NOT_FOUND' })
}

/**
 * The bytes of the QR code in a PNG image.
 *
 * @example
 * const frame = decodeQrPng(await fs.readFile('frame-0001.png'))
 */
export function decodeQrPng(png: Uint8Array): Uint8Array {
  let image: PNG
  try {
    image = PNG.sync.read(Buffer.from(png.buffer, png.byteOffset, png.byteLength))
  } catch (error) {
    throw new QrError('not a readable PNG image (truncated or corrupt)', { code: 'QR_IMAGE', cause: error })
  }
  return decodeQrRgba(image.data, image.width, image.height)
}

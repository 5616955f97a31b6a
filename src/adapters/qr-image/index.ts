/** QR image I/O: render frames (PNG, SVG, terminal), read them back from pixels, write a filmable frame set. */
export { MAX_QR_VERSION, qrModules, renderQrPng, renderQrSvg, renderQrTerminal } from './render.js'
export type { ErrorCorrection, QrRenderOptions } from './render.js'
export { decodeQrPng, decodeQrRgba } from './decode.js'
export { frameFileName, frameSetHtml, writeFrameSet } from './frame-set.js'
export type { FrameSetOptions } from './frame-set.js'

/**
 * Writes a set of QR frames to a directory: `frame-0001.png`, … and an `index.html` that cycles
 * them full-screen so a phone camera can film them. The page is plain HTML + JS with no network.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { renderQrPng, type QrRenderOptions } from './render.js'

export interface FrameSetOptions extends QrRenderOptions {
  /** Frames per second the page starts at (the page has +/- keys). Default 4. */
  fps?: number
}

/** The file name of frame `i` (0-based): `frame-0001.png` for 0. */
export function frameFileName(i: number): string {
  return `frame-${String(i + 1).padStart(4, '0')}.png`
}

/**
 * Renders and writes every frame, then the cycling page. Returns the paths written (PNGs first).
 *
 * @example
 * await writeFrameSet('/tmp/out', encodeFrames(bundle))
 */
export async function writeFrameSet(dir: string, frames: Uint8Array[], options: FrameSetOptions = {}): Promise<string[]> {
  await mkdir(dir, { recursive: true })
  const paths: string[] = []
  for (let i = 0; i < frames.length; i++) {
    const path = join(dir, frameFileName(i))
    await writeFile(path, renderQrPng(frames[i]!, { scale: options.scale ?? 6, ...withoutScale(options) }))
    paths.push(path)
  }
  const html = join(dir, 'index.html')
  await writeFile(html, frameSetHtml(frames.length, options.fps ?? 4))
  paths.push(html)
  return paths
}

function withoutScale(options: FrameSetOptions): QrRenderOptions {
  const out: QrRenderOptions = {}
  if (options.errorCorrection !== undefined) out.errorCorrection = options.errorCorrection
  if (options.margin !== undefined) out.margin = options.margin
  return out
}

/** The cycling page for `count` frames named by {@link frameFileName}. */
export function frameSetHtml(count: number, fps: number): string {
  const names = Array.from({ length: count }, (_, i) => frameFileName(i))
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Orbit Sync — ${count} QR frame${count === 1 ? '' : 's'}</title>
<style>
  html, body { margin: 0; height: 100%; background: #fff; }
  body { display: flex; align-items: center; justify-content: center; }
  img { max-width: 100vw; max-height: 100vh; width: auto; height: 100vh; object-fit: contain; image-rendering: pixelated; }
  #info { position: fixed; left: 8px; bottom: 6px; font: 14px sans-serif; color: #666; }
</style>
</head>
<body>
<img id="frame" alt="QR frame">
<div id="info"></div>
<script>
  // Frames are fountain-coded: any large enough subset decodes, in any order, so the page just loops.
  const frames = ${JSON.stringify(names)};
  let fps = ${Math.max(1, Math.min(30, Math.round(fps)))};
  let i = 0, paused = false, timer;
  const img = document.getElementById('frame'), info = document.getElementById('info');
  // Preload so that the loop never shows a half-loaded image.
  const cache = frames.map((f) => { const im = new Image(); im.src = f; return im; });
  function show() { img.src = cache[i].src; info.textContent = (i + 1) + ' / ' + frames.length + ' · ' + fps + ' fps' + (paused ? ' · paused' : '') + ' — space: pause, +/-: speed, f: full screen'; }
  function tick() { if (!paused) { i = (i + 1) % frames.length; show(); } }
  function restart() { clearInterval(timer); timer = setInterval(tick, 1000 / fps); show(); }
  document.addEventListener('keydown', (e) => {
    if (e.key === ' ') paused = !paused;
    else if (e.key === '+' || e.key === '=') fps = Math.min(30, fps + 1);
    else if (e.key === '-') fps = Math.max(1, fps - 1);
    else if (e.key === 'f') { if (document.fullscreenElement) document.exitFullscreen(); else document.documentElement.requestFullscreen(); }
    else if (e.key === 'ArrowRight') i = (i + 1) % frames.length;
    else if (e.key === 'ArrowLeft') i = (i + frames.length - 1) % frames.length;
    restart();
  });
  document.addEventListener('click', () => { paused = !paused; show(); });
  restart();
</script>
</body>
</html>
`
}

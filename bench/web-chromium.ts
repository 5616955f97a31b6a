/**
 * Debian's Chromium driven by playwright-core for the web UI's tests (test/web) and bench (docs/ui.md):
 * headless, no sandbox (we run as root in CI), nothing phoning home, a fresh profile per launch
 * (playwright gives each `launch` its own new `--user-data-dir`; it refuses one passed in `args`).
 * `fakeCamera` feeds a Y4M file to `getUserMedia` (Chromium's fake capture device); `windowSize`
 * sizes the windows the browser opens by itself (playwright's pages set their own viewport).
 */
import { existsSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'

/** Where Debian installs Chromium (scripts/setup-system.sh). */
export const CHROMIUM = '/usr/bin/chromium'

/** Why the browser tests cannot run here, or `undefined` when they can. */
export function chromiumMissing(): string | undefined {
  return existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is absent (run scripts/setup-system.sh as root to install Debian's chromium)`
}

/** A launched browser. */
export interface LaunchedBrowser {
  browser: Browser
  close(): Promise<void>
}

/** Launches Chromium; `fakeCamera` is the absolute path of a .y4m the fake camera plays in a loop. */
export async function launchChromium(options: { fakeCamera?: string; windowSize?: { width: number; height: number } } = {}): Promise<LaunchedBrowser> {
  const args = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ]
  if (options.windowSize !== undefined) args.push(`--window-size=${options.windowSize.width},${options.windowSize.height}`)
  if (options.fakeCamera !== undefined) {
    args.push('--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${options.fakeCamera}`)
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args })
  return {
    browser,
    async close() {
      await browser.close().catch(() => undefined)
    },
  }
}

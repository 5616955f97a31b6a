/**
 * The web UI in Debian's Chromium against real `orbit serve` daemons (docs/ui.md): two devices
 * paired through their pages, a contact added in A's page appearing in B's, validation errors on
 * their field, keyboard-only use, refusals (no secret, a forged Origin) shown and nothing written,
 * a daemon that stops and comes back, and a QR round trip where B's page films A's animated frames
 * through Chromium's fake camera, and another workspace's codes at that camera refused. Screenshots of every screen go to test-results/screenshots/.
 */
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { renderQrPng } from '../../src/adapters/qr-image/render.js'
import { decodeQrPng } from '../../src/adapters/qr-image/decode.js'
import * as Automerge from '@automerge/automerge'
import { encodeFrames, parseFrame } from '../../src/core/qr/frame.js'
import { createBundle } from '../../src/core/qr/bundle.js'
import { generateIdentity } from '../../src/core/crypto/identity.js'
import { orbitJson, REPO_ROOT, requireBuilt, Scratch, type ServeProcess } from '../daemon/helpers.js'
import { chromiumMissing, launchChromium, type LaunchedBrowser } from '../../bench/web-chromium.js'
import { pngToRgba, y4mVideo } from '../../bench/web-y4m.js'

const SHOTS = join(REPO_ROOT, 'test-results/screenshots')
const missing = chromiumMissing() ?? (existsSync(join(REPO_ROOT, 'dist/web/index.html')) ? undefined : 'dist/web is not built (npm run build)')
if (missing !== undefined) console.log(`test/web skipped: ${missing}`)

interface Device {
  dir: string
  serve: ServeProcess
  url: string
  origin: string
  secret: string
}

const scratch = new Scratch()
let browser: LaunchedBrowser | undefined
let camera: LaunchedBrowser | undefined
let A: Device
let B: Device
let ctxA: BrowserContext
let ctxB: BrowserContext
let pageA: Page
let pageB: Page

async function startDevice(dir: string, http = '127.0.0.1:0'): Promise<Device> {
  const serve = scratch.serve(dir, ['--no-mdns', '--listen', '127.0.0.1:0', '--http', http])
  const ready = (await serve.ready) as { ui?: { url: string } }
  // `orbit ui` prints the same link (asked over the control socket).
  const { url } = await orbitJson<{ url: string }>(dir, ['ui'])
  expect(url).toBe(ready.ui?.url)
  const u = new URL(url)
  return { dir, serve, url, origin: u.origin, secret: u.searchParams.get('secret') ?? '' }
}

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true })
  await page.screenshot({ path: join(SHOTS, `${name}.png`) })
}

async function openUi(ctx: BrowserContext, d: Device): Promise<Page> {
  const page = await ctx.newPage()
  await page.goto(d.url)
  // Not expect.poll: this also runs in beforeAll. The header names device and workspace once the status came.
  await page.getByTestId('who').filter({ hasText: '·' }).waitFor({ timeout: 15_000 })
  return page
}

/** The API as a script on the page's own origin would call it (Bearer secret, same Origin). */
async function apiCall(d: Device, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${d.origin}/api/v1/${path}`, {
    method,
    headers: { Authorization: `Bearer ${d.secret}`, Origin: d.origin, 'Content-Type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const text = await res.text()
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text) }
}

async function contactTotal(d: Device, query = ''): Promise<number> {
  const r = await apiCall(d, 'GET', `contacts?query=${encodeURIComponent(query)}&limit=1`)
  return (r.json as { total: number }).total
}

async function tab(page: Page, name: 'Sync' | 'QR' | 'Contacts'): Promise<void> {
  await page.getByRole('tab', { name }).click()
}

/** Presses Tab until the focused element matches, like a keyboard user looking for it; fails after `max` presses. */
async function tabTo(page: Page, matches: (el: { tag: string; text: string; id: string; label: string }) => boolean, o: { back?: boolean; max?: number } = {}): Promise<void> {
  for (let i = 0; i < (o.max ?? 40); i++) {
    await page.keyboard.press(o.back === true ? 'Shift+Tab' : 'Tab')
    // Runs in the page (the page's CSP forbids string evaluation); its DOM types are not loaded here.
    const el = await page.evaluate(() => {
      type El = { tagName: string; textContent: string | null; id: string; getAttribute(n: string): string | null }
      const a = (globalThis as unknown as { document: { activeElement: El | null } }).document.activeElement
      return { tag: a?.tagName ?? '', text: (a?.textContent ?? '').trim(), id: a?.id ?? '', label: a?.getAttribute('aria-label') ?? '' }
    })
    if (matches(el)) return
  }
  throw new Error('the element was not reachable with the Tab key')
}

describe.skipIf(missing !== undefined)('the web UI in Chromium', () => {
  beforeAll(async () => {
    requireBuilt()
    const dirA = scratch.dir('orbit-web-')
    const dirB = scratch.dir('orbit-web-')
    await orbitJson(dirA, ['init', '--name', 'Laptop', '--workspace', 'Acme CRM'])
    await orbitJson(dirB, ['init', '--name', 'Phone'])
    ;[A, B] = await Promise.all([startDevice(dirA), startDevice(dirB)])
    browser = await launchChromium()
    ctxA = await browser.browser.newContext({ viewport: { width: 1280, height: 860 } })
    ctxB = await browser.browser.newContext({ viewport: { width: 1280, height: 860 } })
    ;[pageA, pageB] = await Promise.all([openUi(ctxA, A), openUi(ctxB, B)])
  }, 120_000)

  afterAll(async () => {
    await camera?.close()
    await browser?.close()
    await scratch.cleanup()
  }, 60_000)

  test('two devices pair through their pages', async () => {
    await pageA.getByRole('button', { name: 'Create invite' }).click()
    const code = await pageA.getByTestId('invite-code').inputValue()
    expect(code).toMatch(/^orbit-invite:/)
    await expect.poll(() => pageA.getByRole('img', { name: 'Invite QR code' }).count()).toBe(1)
    await shot(pageA, 'sync-invite')
    await pageB.getByLabel('Join a workspace: paste an invite code').fill(code)
    await pageB.getByRole('button', { name: 'Join' }).click()
    await expect.poll(() => pageB.getByTestId('join-result').textContent(), { timeout: 60_000 }).toMatch(/Joined/)
    // Each page lists the other as a paired device, from the live state stream.
    await expect.poll(() => pageA.getByTestId('peers').textContent(), { timeout: 30_000 }).toContain('Phone')
    await expect.poll(() => pageB.getByTestId('peers').textContent(), { timeout: 30_000 }).toContain('Laptop')
    await expect.poll(() => pageB.getByTestId('who').textContent(), { timeout: 15_000 }).toContain('Acme CRM')
    await expect.poll(() => pageA.locator('tr', { hasText: 'Phone' }).getByTestId('peer-state').textContent(), { timeout: 30_000 }).toBe('in sync')
    await shot(pageA, 'sync')
    copyFileSync(join(SHOTS, 'sync.png'), join(REPO_ROOT, 'docs/screenshots/sync.png'))
  }, 120_000)

  test("a contact added in A's page appears in B's", async () => {
    await tab(pageA, 'Contacts')
    await pageA.getByRole('button', { name: 'Add contact' }).click()
    await pageA.getByLabel('Name').fill('Ada Lovelace')
    await pageA.getByLabel('Emails (comma-separated)').fill('ada@example.com')
    await pageA.getByLabel('Tags (comma-separated)').fill('vip')
    await pageA.getByRole('button', { name: 'Add', exact: true }).click()
    await expect.poll(() => pageA.getByRole('status').allTextContents()).toContain('Contact added.')
    await tab(pageB, 'Contacts')
    await pageB.getByLabel('Search contacts').fill('ada')
    // Pushed by B's `contacts` event once the LAN sync lands: no reload, no polling by the page.
    await expect.poll(() => pageB.getByTestId('contact-row').allTextContents(), { timeout: 30_000 }).toEqual([expect.stringContaining('Ada Lovelace')])
    await pageB.getByTestId('contact-row').first().click()
    await expect.poll(() => pageB.getByLabel('Emails (comma-separated)').inputValue()).toBe('ada@example.com')
    await pageB.getByLabel('Add a note').fill('Met at the analytical engine demo')
    await pageB.getByRole('button', { name: 'Add note' }).click()
    await expect.poll(() => pageB.locator('.notes').textContent()).toContain('analytical engine')
    await shot(pageB, 'contacts')
  }, 90_000)

  test('the contacts view draws its first page from the document alone: no API answer needed for the first paint', async () => {
    // Every API request of this page fails: what it shows came with the document (docs/protocol/http.md, "The page's boot data").
    expect((await apiCall(A, 'POST', 'contacts', { name: 'Charles Babbage' })).status).toBe(201)
    const total = await contactTotal(A)
    const ctx = await browser!.browser.newContext()
    try {
      await ctx.route('**/api/v1/**', (route) => route.abort())
      await ctx.addCookies([{ name: 'orbit_ui', value: A.secret, url: A.origin }])
      const page = await ctx.newPage()
      await page.goto(`${A.origin}/#contacts`)
      await expect.poll(() => page.getByTestId('contact-row').allTextContents(), { timeout: 15_000 }).toContainEqual(expect.stringContaining('Charles Babbage'))
      expect(await page.getByTestId('who').textContent()).toBe('Laptop · Acme CRM')
      expect(await page.getByTestId('contacts-total').textContent()).toBe(`${total} contact${total === 1 ? '' : 's'}`)
    } finally {
      await ctx.close()
    }
  }, 60_000)

  test('the first rows are painted before React is evaluated, inert until React takes the page over', async () => {
    // React's chunk is held back: what the page shows meanwhile is the document's inline paint
    // (src/apps/web/prepaint-inline.ts, allowed by its hash in the page's CSP: blocked, nothing would show).
    expect((await apiCall(A, 'POST', 'contacts', { name: 'Ada Prepaint' })).status).toBe(201)
    const total = await contactTotal(A)
    const ctx = await browser!.browser.newContext()
    try {
      let release = (): void => undefined
      const held = new Promise<void>((done) => (release = done))
      let asked = 0
      await ctx.route('**/assets/start-*.js', async (route) => {
        asked++
        await held
        await route.continue()
      })
      await ctx.addCookies([{ name: 'orbit_ui', value: A.secret, url: A.origin }])
      const page = await ctx.newPage()
      await page.goto(`${A.origin}/#contacts`)
      const row = page.getByTestId('contact-row').first()
      await row.waitFor({ timeout: 15_000 })
      expect(asked).toBeGreaterThan(0)
      expect(await page.evaluate(() => performance.getEntriesByName('orbit-react').length)).toBe(0)
      const name = (await row.locator('.name').textContent()) ?? ''
      expect(name).not.toBe('')
      expect(await page.getByTestId('contacts-total').textContent()).toBe(`${total} contact${total === 1 ? '' : 's'}`)
      // Inert: nothing a click or a keystroke does here would be lost when React replaces it.
      expect(await row.isDisabled()).toBe(true)
      expect(await page.getByRole('button', { name: 'Add contact' }).isDisabled()).toBe(true)
      expect(await page.getByLabel('Search contacts').isEditable()).toBe(false)
      // What a user did meanwhile is kept: the search field focused.
      await page.getByLabel('Search contacts').focus()
      release()
      await expect.poll(() => page.evaluate(() => performance.getEntriesByName('orbit-react').length), { timeout: 15_000 }).toBe(1)
      expect(await page.getByLabel('Search contacts').evaluate((e) => e === (e.ownerDocument as { activeElement: unknown }).activeElement)).toBe(true)
      // React's rows, live: the first one opens its editor.
      await page.getByTestId('contact-row').first().click()
      await expect.poll(() => page.getByLabel('Name').inputValue(), { timeout: 15_000 }).toBe(name)
      expect(await page.getByTestId('contact-row').first().isDisabled()).toBe(false)
    } finally {
      await ctx.close()
    }
  }, 60_000)

  test('an invalid field is shown on its field and nothing is written', async () => {
    const before = await contactTotal(A)
    await pageA.getByRole('button', { name: 'Add contact' }).click()
    await pageA.getByLabel('Name').fill('Bad Email')
    await pageA.getByLabel('Emails (comma-separated)').fill('not-an-email')
    await pageA.getByRole('button', { name: 'Add', exact: true }).click()
    const error = pageA.getByTestId('error-emails')
    await expect.poll(() => error.textContent()).toMatch(/email/)
    expect(await pageA.getByLabel('Emails (comma-separated)').getAttribute('aria-invalid')).toBe('true')
    expect(await pageA.getByLabel('Name').getAttribute('aria-invalid')).toBe('false')
    await shot(pageA, 'contact-invalid')
    expect(await contactTotal(A)).toBe(before)
    await pageA.getByRole('button', { name: 'Close' }).click()
  }, 60_000)

  test('a contact removed earlier is listed under "Show removed" and restored from there', async () => {
    const added = await apiCall(A, 'POST', 'contacts', { name: 'Rosalind Franklin' })
    const { id } = added.json as { id: string }
    expect((await apiCall(A, 'DELETE', `contacts/${id}`)).status).toBe(200)
    await tab(pageA, 'Contacts')
    await pageA.getByLabel('Search contacts').fill('rosalind')
    await expect.poll(() => pageA.getByTestId('contacts-total').textContent(), { timeout: 15_000 }).toBe('0 contacts')
    await pageA.getByLabel('Show removed').check()
    await pageA.getByRole('button', { name: 'Restore Rosalind Franklin' }).click()
    await expect.poll(() => contactTotal(A, 'rosalind'), { timeout: 15_000 }).toBe(1)
    await pageA.getByLabel('Show removed').uncheck()
    await expect.poll(() => pageA.getByTestId('contact-row').allTextContents(), { timeout: 15_000 }).toEqual([expect.stringContaining('Rosalind Franklin')])
    await shot(pageA, 'contacts-restored')
    await pageA.getByLabel('Search contacts').fill('')
  })

  test('the main actions work from the keyboard alone', async () => {
    const page = await openUi(ctxA, A)
    await page.locator('body').focus()
    await tabTo(page, (e) => e.tag === 'BUTTON' && e.text === 'Contacts')
    await page.keyboard.press('Enter')
    await tabTo(page, (e) => e.text === 'Add contact')
    await page.keyboard.press('Enter')
    await tabTo(page, (e) => e.id === 'f-name')
    await page.keyboard.type('Kate Keyboard')
    await tabTo(page, (e) => e.tag === 'BUTTON' && e.text === 'Add')
    await page.keyboard.press('Enter')
    await expect.poll(() => contactTotal(A, 'Kate Keyboard'), { timeout: 15_000 }).toBe(1)
    // Back to the Sync screen (Shift+Tab up to the tab bar) and its Sync button.
    await tabTo(page, (e) => e.id === 'tab-sync', { back: true })
    await page.keyboard.press('Enter')
    await tabTo(page, (e) => e.label === 'Sync now with every device')
    await page.keyboard.press('Enter')
    await expect.poll(() => page.locator('.sync-button [role=status], .sync-button [role=alert]').first().textContent(), { timeout: 30_000 }).toMatch(/Synced|reachable/)
    await page.close()
  }, 90_000)

  test('a request without the secret, or from another Origin, is refused, shown, and writes nothing', async () => {
    const before = await contactTotal(A)
    // No secret: the API answers 401 and the page says which link to open.
    const bare = await fetch(`${A.origin}/api/v1/status`)
    expect(bare.status).toBe(401)
    const anon = await browser!.browser.newContext()
    const page = await anon.newPage()
    await page.goto(A.origin + '/')
    await expect.poll(() => page.getByTestId('unauthorized').textContent(), { timeout: 15_000 }).toContain('orbit ui')
    await shot(page, 'unauthorized')
    await anon.close()
    // Another Origin, secret and all: refused, nothing written.
    const forged = await apiCall(A, 'POST', 'contacts', { name: 'Mallory' }, { Origin: 'http://evil.example' })
    expect(forged.status).toBe(403)
    expect((forged.json as { error: { code: string } }).error.code).toBe('ORIGIN_REFUSED')
    // The same from inside a browser (the page loaded, then its requests carry a forged Origin): the page says so.
    const evil = await browser!.browser.newContext()
    const refused = await openUi(evil, A)
    await evil.setExtraHTTPHeaders({ Origin: 'http://evil.example' })
    await tab(refused, 'Contacts')
    await refused.getByRole('button', { name: 'Add contact' }).click()
    await refused.getByLabel('Name').fill('Mallory')
    await refused.getByRole('button', { name: 'Add', exact: true }).click()
    // Chromium sends the forged Origin with a CORS preflight, which the daemon refuses: to the page it is a failed request.
    await expect.poll(() => refused.locator('.editor [role=alert]').allTextContents(), { timeout: 15_000 }).toContainEqual(expect.stringContaining('refused the request'))
    await shot(refused, 'origin-refused')
    await evil.close()
    expect(await contactTotal(A)).toBe(before)
    expect(await contactTotal(A, 'Mallory')).toBe(0)
  }, 60_000)

  test("QR round trip: B's page films A's animated frames through the fake camera", async () => {
    // B goes offline: its page says so.
    const bHttp = new URL(B.origin).host
    await B.serve.stop()
    await expect.poll(() => pageB.getByTestId('daemon-down').count(), { timeout: 15_000 }).toBe(1)
    await shot(pageB, 'daemon-stopped')

    // A contact only A has, then A's animated frames, checked at three window shapes.
    await tab(pageA, 'Contacts')
    await pageA.getByRole('button', { name: 'Add contact' }).click()
    await pageA.getByLabel('Name').fill('Grace Hopper')
    await pageA.getByRole('button', { name: 'Add', exact: true }).click()
    await expect.poll(() => pageA.getByRole('status').allTextContents()).toContain('Contact added.')
    await tab(pageA, 'QR')
    const exported = pageA.waitForResponse((r) => r.url().endsWith('/api/v1/qr/export'))
    await pageA.getByRole('button', { name: 'Generate QR Code' }).click()
    const { frames } = (await (await exported).json()) as { frames: string[] }
    expect(frames.length).toBeGreaterThan(0)
    const player = pageA.getByTestId('qr-player')
    await expect.poll(() => player.count()).toBe(1)
    for (const [name, viewport] of [['wide', { width: 1280, height: 600 }], ['square', { width: 700, height: 700 }], ['tall', { width: 420, height: 900 }]] as const) {
      await pageA.setViewportSize(viewport)
      await pageA.waitForTimeout(150)
      const code = (await pageA.getByTestId('qr-code').boundingBox())!
      const caption = (await pageA.getByTestId('qr-caption').boundingBox())!
      // Nothing over the code: the caption's box is disjoint from it, and the code is wholly on screen.
      const overlap = code.x < caption.x + caption.width && caption.x < code.x + code.width && code.y < caption.y + caption.height && caption.y < code.y + code.height
      expect(overlap, `${name}: caption over the code`).toBe(false)
      expect(code.x >= 0 && code.y >= 0 && code.x + code.width <= viewport.width && code.y + code.height <= viewport.height, `${name}: code off screen`).toBe(true)
      const png = await pageA.screenshot({ path: join(SHOTS, `qr-generate-${name}.png`) })
      // An independent decoder reads the screenshot: a whole, valid Orbit frame.
      expect(parseFrame(decodeQrPng(png)).k).toBeGreaterThan(0)
    }
    await pageA.setViewportSize({ width: 1280, height: 860 })

    // The video B's camera sees: A's frames as PNGs (the project's renderer), 5 frames a second.
    const images = frames.map((f) => pngToRgba(renderQrPng(Buffer.from(f, 'base64'), { scale: 3 })))
    const y4m = join(scratch.dirs[0]!, 'a-frames.y4m')
    writeFileSync(y4m, y4mVideo(images, { width: 640, height: 480, fps: 10, hold: 2 }))

    // A goes away (nothing can travel over the LAN now); B comes back on its port and its page recovers.
    await A.serve.stop()
    B = await startDevice(B.dir, bHttp)
    await expect.poll(() => pageB.getByTestId('daemon-down').count(), { timeout: 20_000 }).toBe(0)
    expect(await contactTotal(B, 'Grace')).toBe(0)

    camera = await launchChromium({ fakeCamera: y4m })
    const ctx = await camera.browser.newContext({ viewport: { width: 1100, height: 800 } })
    const scan = await openUi(ctx, B)
    await tab(scan, 'QR')
    await scan.getByRole('button', { name: 'Scan QR Code' }).click()
    await expect.poll(() => scan.getByTestId('scan-progress').textContent(), { timeout: 30_000 }).toMatch(/\d+ of ≈\d+ frames|applying/)
    await shot(scan, 'qr-scan')
    // Applied, and the reply (for A) shown as animated frames at once.
    await expect.poll(() => scan.getByTestId('qr-player').count(), { timeout: 60_000 }).toBe(1)
    await shot(scan, 'qr-reply')
    expect(await contactTotal(B, 'Grace')).toBe(1)
    await scan.getByRole('button', { name: 'Close' }).click()
    expect(await scan.getByTestId('qr-imported').textContent()).toMatch(/Imported the bundle/)
    // It took the bundle's k frames (or k+1), read from the camera in the page.
    const k = parseFrame(Buffer.from(frames[0]!, 'base64')).k
    expect(Number(await scan.getByTestId('scan-stats').getAttribute('data-received'))).toBe(k)
    await tab(scan, 'Contacts')
    await scan.getByLabel('Search contacts').fill('grace')
    await expect.poll(() => scan.getByTestId('contact-row').allTextContents(), { timeout: 15_000 }).toEqual([expect.stringContaining('Grace Hopper')])
  }, 180_000)

  test("codes of another workspace held up to B's camera: refused in words, nothing written", async () => {
    // A well-formed, sealed bundle of a workspace B is not in, from a device B has never seen.
    const doc = Automerge.change(Automerge.init<{ name?: string }>(), (d) => {
      d.name = 'Mallory Corp'
    })
    const [stranger, recipient] = [generateIdentity(), generateIdentity()]
    const bundle = createBundle({
      workspaceId: `ws_${'z'.repeat(26)}`,
      sender: stranger,
      recipients: [{ deviceId: recipient.deviceId, publicKey: recipient.publicKey }],
      docs: [{ documentId: 'doc1', doc }],
    })
    const images = encodeFrames(bundle).map((f) => pngToRgba(renderQrPng(f, { scale: 3 })))
    const y4m = join(scratch.dirs[0]!, 'foreign-frames.y4m')
    writeFileSync(y4m, y4mVideo(images, { width: 640, height: 480, fps: 10, hold: 2 }))
    const before = await contactTotal(B)

    await camera?.close()
    camera = await launchChromium({ fakeCamera: y4m })
    const scan = await openUi(await camera.browser.newContext({ viewport: { width: 1100, height: 800 } }), B)
    await tab(scan, 'QR')
    await scan.getByRole('button', { name: 'Scan QR Code' }).click()
    await expect.poll(() => scan.getByRole('alert').allTextContents(), { timeout: 60_000 }).toContainEqual(expect.stringMatching(/could not be applied/))
    await shot(scan, 'qr-scan-foreign')
    expect(await contactTotal(B)).toBe(before)
    expect(await scan.getByTestId('qr-player').count()).toBe(0)
  }, 120_000)
})

/**
 * The page's boot data (docs/protocol/http.md, "The page"): a signed-in request for the page gets,
 * inside its `index.html`, what the page's first paint needs — `GET status`'s body and the first
 * page of `GET contacts` (offset 0, 200 rows, no filter) — so that the contacts view draws its rows
 * from the document itself, with no API round trip before the first paint. The data is a
 * `<script type="application/json" id="orbit-boot">` element (not executed); every `<` in it is
 * escaped so no value can close the element.
 *
 * With it go the page's stylesheet and its pre-React paint (`assets/prepaint-inline.js`, built by
 * vite.prepaint.config.ts), inline: the rows are drawn while the document is parsed, before any
 * file is fetched. The inline script is allowed by its SHA-256 in the page's CSP
 * (`script-src 'self' 'sha256-…'`), nothing else inline is.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { CONTACTS_PAGE_MAX, contactsPage, statusBody, type HttpTarget } from './routes.js'

/** The element's id, read by the page (src/apps/web/boot.ts). */
export const BOOT_ELEMENT_ID = 'orbit-boot'

/** What the page receives in its document. */
export interface BootData {
  /** `GET status`'s body. */
  status: Record<string, unknown>
  /** `GET contacts?offset=0&limit=200`'s body. */
  contacts: ReturnType<typeof contactsPage>
}

/** The boot data of `target` now; undefined while no node runs (a join restarting it) or when it cannot be read. */
export function bootData(target: () => HttpTarget): BootData | undefined {
  try {
    const t = target()
    return { status: statusBody(t), contacts: contactsPage(t, { includeDeleted: false }, 0, CONTACTS_PAGE_MAX) }
  } catch {
    // The page then asks the API itself, and shows that answer's error.
    return undefined
  }
}

/** What the signed-in page carries inline, read once from the built UI (see the module comment). */
export interface PageInlines {
  /** The stylesheet `<link>` tag of the built `index.html`, and the file's text that replaces it. */
  css?: { tag: string; text: string }
  /** The pre-React paint's script text, and its CSP source (`'sha256-…'`). */
  script?: { text: string; source: string }
}

/** The stylesheet link vite writes into index.html. */
const STYLESHEET = /<link rel="stylesheet"[^>]*href="\.\/(assets\/[\w.-]+\.css)"[^>]*>/

/**
 * The inline parts of the page built in `webRoot` (`index.html`'s stylesheet, `assets/prepaint-inline.js`);
 * a part that is missing, unreadable or could close its element is left out (the page then fetches
 * the stylesheet, and React draws the rows).
 */
export function readPageInlines(webRoot: string): PageInlines {
  const inlines: PageInlines = {}
  try {
    const html = readFileSync(join(webRoot, 'index.html'), 'utf8')
    const link = STYLESHEET.exec(html)
    if (link !== null) {
      const text = readFileSync(join(webRoot, link[1]!), 'utf8')
      if (!/<\/style/i.test(text)) inlines.css = { tag: link[0], text }
    }
  } catch {
    // Not built (or not as expected): nothing inline.
  }
  try {
    const text = readFileSync(join(webRoot, 'assets', 'prepaint-inline.js'), 'utf8')
    if (!/<\/script|<!--/i.test(text)) inlines.script = { text, source: `'sha256-${createHash('sha256').update(text).digest('base64')}'` }
  } catch {
    // Not built: React draws the rows.
  }
  return inlines
}

/**
 * `html` with `data` as a JSON element just before `</body>` (at the end when there is none),
 * followed by the inline pre-React paint, and the stylesheet inline in place of its link.
 */
export function withBootData(html: string, data: BootData, inlines: PageInlines = {}): string {
  const json = JSON.stringify(data).replace(/</g, '\\u003c')
  let element = `<script type="application/json" id="${BOOT_ELEMENT_ID}">${json}</script>`
  if (inlines.script !== undefined) element += `<script>${inlines.script.text}</script>`
  let page = html
  if (inlines.css !== undefined && page.includes(inlines.css.tag)) page = page.replace(inlines.css.tag, () => `<style>${inlines.css!.text}</style>`)
  const at = page.lastIndexOf('</body>')
  return at < 0 ? page + element : page.slice(0, at) + element + page.slice(at)
}

/**
 * The page's boot data (docs/protocol/http.md, "The page"): a signed-in request for the page gets,
 * inside its `index.html`, what the page's first paint needs — `GET status`'s body and the first
 * page of `GET contacts` (offset 0, 200 rows, no filter) — so that the contacts view draws its rows
 * from the document itself, with no API round trip before the first paint. The data is a
 * `<script type="application/json" id="orbit-boot">` element (not executed, so the page's CSP is
 * unchanged); every `<` in it is escaped so no value can close the element.
 */
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

/** `html` with `data` as a JSON element just before `</body>` (at the end when there is none). */
export function withBootData(html: string, data: BootData): string {
  const json = JSON.stringify(data).replace(/</g, '\\u003c')
  const element = `<script type="application/json" id="${BOOT_ELEMENT_ID}">${json}</script>`
  const at = html.lastIndexOf('</body>')
  return at < 0 ? html + element : html.slice(0, at) + element + html.slice(at)
}

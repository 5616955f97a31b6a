/**
 * The data the daemon put into the page's document for its first paint (docs/protocol/http.md,
 * "The page"; src/apps/daemon/http/boot.ts): `GET status`'s body and the first page of
 * `GET contacts`. Each part is taken once — by the first screen that needs it — so a later mount
 * (another tab, a reconnect) asks the API as before.
 */
import type { ApiContactPage, ApiStatus } from './types.js'

/** The id of the `<script type="application/json">` element carrying it. */
export const BOOT_ELEMENT_ID = 'orbit-boot'

interface Boot {
  status?: ApiStatus | undefined
  contacts?: ApiContactPage | undefined
}

let boot: Boot | undefined

function read(): Boot {
  if (boot !== undefined) return boot
  boot = {}
  // Left in the document: the inline pre-React paint (prepaint-inline.ts, its own copy of this
  // module) read it first, and React's copy reads it again here.
  const element = document.getElementById(BOOT_ELEMENT_ID)
  if (element === null) return boot
  try {
    const parsed = JSON.parse(element.textContent ?? '') as Boot
    if (typeof parsed === 'object' && parsed !== null) boot = { status: parsed.status, contacts: parsed.contacts }
  } catch {
    // No usable boot data: the screens ask the API.
  }
  return boot
}

/**
 * The boot data without taking it: what the pre-React paint (prepaint.ts) draws from, leaving both
 * parts for the screens that take them when React starts.
 */
export function peekBoot(): { status: ApiStatus | undefined; contacts: ApiContactPage | undefined } {
  const b = read()
  return { status: b.status, contacts: b.contacts }
}

/** `GET status`'s body as the document carried it, once; undefined when it did not (not signed in) or was taken. */
export function takeBootStatus(): ApiStatus | undefined {
  const b = read()
  const status = b.status
  b.status = undefined
  return status
}

/** The listing's first page (offset 0, no query, removed ones left out) as the document carried it, once. */
export function takeBootContacts(): ApiContactPage | undefined {
  const b = read()
  const page = b.contacts
  b.contacts = undefined
  return page
}

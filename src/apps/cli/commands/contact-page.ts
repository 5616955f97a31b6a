/**
 * `orbit contact list`'s page, read from the listing projection and printed: shared by the command
 * (contact.ts) and the CLI's fast route (../fast-route.ts), so both print the same bytes. Light on
 * purpose: no commander, no Automerge.
 */
import type { Contact } from '../../../core/model/types.js'
import type { ReadView } from '../../node/read-view.js'
import { table } from '../format.js'

/** `contact list`'s options, parsed. */
export interface ContactListOptions {
  limit: number
  offset: number
  all: boolean
  includeRemoved: boolean
  query?: string
}

/** What `contact list` prints on stdout for `options` (one JSON line with `json`), newline included. */
export function listContactsPage(view: Pick<ReadView, 'listContacts'>, options: ContactListOptions, json: boolean): string {
  const page = view.listContacts({
    offset: options.offset,
    limit: options.all ? Number.MAX_SAFE_INTEGER : options.limit,
    includeDeleted: options.includeRemoved,
    ...(options.query === undefined ? {} : { query: options.query }),
  })
  const limit = options.all ? null : options.limit
  if (json) return JSON.stringify({ total: page.total, offset: page.offset, limit, contacts: page.contacts }) + '\n'
  const text = renderPage(page, limit)
  return text.endsWith('\n') ? text : text + '\n'
}

function renderPage(page: { total: number; offset: number; contacts: Contact[] }, limit: number | null): string {
  if (page.total === 0) return 'No contacts yet. Add one with `orbit contact add --name "Ada Lovelace"`.'
  if (page.contacts.length === 0) return `No contacts at offset ${page.offset} (there are ${page.total}).`
  const rows = page.contacts.map((c) => [
    c.id,
    c.name + (c.deletedAt === undefined ? '' : ' (removed)'),
    c.emails[0] ?? '',
    c.phones[0] ?? '',
    Object.keys(c.tags).join(','),
  ])
  const last = page.offset + page.contacts.length
  let footer = `Showing ${page.offset + 1}–${last} of ${page.total}.`
  if (limit !== null && last < page.total) footer += ` Next page: --offset ${last}`
  return table(['ID', 'NAME', 'EMAIL', 'PHONE', 'TAGS'], rows) + '\n' + footer
}

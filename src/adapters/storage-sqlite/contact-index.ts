/**
 * The contact and organization listings of the CLI and web UI, served from SQLite.
 */
import type { Contact, Organization } from '../../core/model/types.js'
import type { OrbitDatabase } from './database.js'
import { EntityIndex } from './entity-index.js'

/**
 * Contacts projected from the contact shard documents. `query` matches name or any email.
 *
 * @example
 * const contacts = new ContactIndex(db)
 * const first = contacts.page({ limit: 50 })      // no Automerge needed
 */
export class ContactIndex extends EntityIndex<Contact> {
  constructor(db: OrbitDatabase) {
    super(db, 'contact', (c) => [c.name, ...c.emails].join('\n'))
  }
}

/** The shard number organizations are projected under (they live in the root document). */
export const ORG_SHARD = 0

/** Organizations projected from the root document (shard {@link ORG_SHARD}). `query` matches the name. */
export class OrgIndex extends EntityIndex<Organization> {
  constructor(db: OrbitDatabase) {
    super(db, 'org', (o) => o.name)
  }
}

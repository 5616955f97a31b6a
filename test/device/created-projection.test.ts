/**
 * Contacts a local `addContacts` created are projected from the values written
 * (`ContactsChangedEvent.created`, src/apps/node/projection.ts) instead of being read back from
 * the document. That is right only while no later change touched them: a contact edited, removed
 * or given a note before the projection ran must be listed as the document holds it, not as it
 * was written. The listing is compared with the documents' own state (`A.toJS`), and the
 * workspace's events are checked to carry `created` for a creation only.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as A from '@automerge/automerge'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { initDevice, openDevice, type OrbitDevice } from '../../src/apps/node/device.js'
import { readContact } from '../../src/core/model/records.js'
import type { Contact, ContactShardDoc } from '../../src/core/model/types.js'
import type { ContactsChangedEvent } from '../../src/core/model/workspace.js'

/** Every contact of every shard, read from the documents' state, sorted by id. */
async function crdtContacts(device: OrbitDevice): Promise<Contact[]> {
  const all: Contact[] = []
  for (let n = 0; n < device.workspace.shardCount; n++) {
    const handle = await device.workspace.shardHandle(n)
    const state = A.toJS(handle.doc()) as ContactShardDoc
    for (const raw of Object.values(state.contacts ?? {})) all.push(readContact(raw, { includeDeletedNotes: false }))
  }
  return all.sort((a, b) => a.id.localeCompare(b.id))
}

describe('projecting contacts from the values a local change wrote', () => {
  let root: string
  let device: OrbitDevice | undefined
  beforeEach(async () => {
    root = mkdtempSync(join(tmpdir(), 'orbit-created-proj-'))
    await initDevice(root, { name: 'Alpha' })
    device = await openDevice(root)
  })
  afterEach(async () => {
    await device?.close()
    rmSync(root, { recursive: true, force: true })
  })

  it('lists what the documents hold when created contacts are changed before the projection runs', async () => {
    const ws = device!.workspace
    const events: ContactsChangedEvent[] = []
    const off = ws.onContactsChanged((e) => events.push(e))
    const inputs = Array.from({ length: 300 }, (_, i) => ({
      name: `Person ${i}`,
      emails: [`p${i}@example.com`],
      phones: i % 3 === 0 ? [`+1 555 ${String(i).padStart(4, '0')}`] : [],
      title: i % 2 === 0 ? 'Engineer' : undefined,
      tags: i % 5 === 0 ? ['vip', 'lead'] : [],
    }))
    const added = await ws.addContacts(inputs)
    // Before anything is flushed or projected: change some of what was just created.
    const edited = added.slice(0, 40)
    await Promise.all(edited.map((c, i) => ws.editContact(c.id, { name: `Renamed ${i}`, addTags: ['edited'] })))
    await ws.removeContact(added[50]!.id)
    await ws.addNote(added[60]!.id, { body: 'called back' })
    // A second batch in the same window, one of them edited at once.
    const more = await ws.addContacts([{ name: 'Late One' }, { name: 'Late Two', emails: ['late@example.com'] }])
    await ws.editContact(more[1]!.id, { title: 'Boss' })
    off()
    await device!.flush()

    const listed = device!.index.page({ limit: 10_000, includeDeleted: true }).sort((a, b) => a.id.localeCompare(b.id))
    const crdt = await crdtContacts(device!)
    expect(listed).toHaveLength(302)
    expect(listed).toEqual(crdt)
    expect(device!.index.get(added[0]!.id)?.name).toBe('Renamed 0')
    expect(device!.index.get(added[50]!.id)?.deletedAt).toBeTypeOf('number')
    expect(Object.values(device!.index.get(added[60]!.id)?.notes ?? {}).map((n) => n.body)).toEqual(['called back'])

    // The events: `created` on the creations (every created id, and only those), on nothing else.
    const creations = events.filter((e) => e.created !== undefined)
    const createdIds = creations.flatMap((e) => [...e.created!.keys()]).sort()
    expect(createdIds).toEqual([...added, ...more].map((c) => c.id).sort())
    for (const e of creations) expect([...e.created!.keys()].sort()).toEqual([...e.ids].sort())
    expect(events.filter((e) => e.created === undefined).length).toBeGreaterThanOrEqual(edited.length + 3)
  })

  it('reopens to the same listing (the written values were the state)', async () => {
    const added = await device!.workspace.addContacts(Array.from({ length: 64 }, (_, i) => ({ name: `Row ${i}`, tags: ['imported'] })))
    await device!.flush()
    const before = device!.index.page({ limit: 1000, includeDeleted: true })
    await device!.close()
    device = await openDevice(root)
    expect(device.index.page({ limit: 1000, includeDeleted: true })).toEqual(before)
    expect(before.map((c) => c.id).sort()).toEqual(added.map((c) => c.id).sort())
    expect([...before].sort((a, b) => a.id.localeCompare(b.id))).toEqual(await crdtContacts(device))
  })
})

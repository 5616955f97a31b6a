import { afterEach, describe, expect, it } from 'vitest'
import type { Repo } from '@automerge/automerge-repo'
import { CrmWorkspace, type ContactsChangedEvent } from '../../src/core/model/workspace.js'
import { cloneWorkspace, device, newWorkspace, syncBoth, mergeInto } from './helpers.js'

const repos: Repo[] = []
afterEach(async () => {
  await Promise.all(repos.splice(0).map((r) => r.shutdown()))
})

async function setup(shardCount?: number) {
  const made = await newWorkspace(shardCount === undefined ? {} : { shardCount })
  repos.push(made.repo)
  return made
}

async function errorOf(p: Promise<unknown> | (() => unknown)): Promise<{ name: string; field?: string; message: string }> {
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (error) {
    return error as { name: string; field?: string; message: string }
  }
  throw new Error('expected an error')
}

describe('CrmWorkspace contacts', () => {
  it('adds, gets, edits, lists, removes and restores a contact', async () => {
    const { ws } = await setup()
    const org = await ws.addOrg({ name: 'Initech' })
    const c = await ws.addContact({ name: '  Ada Lovelace ', emails: ['ada@example.com'], tags: ['vip'], orgId: org.id })
    expect(c.name).toBe('Ada Lovelace')
    expect(c.tags).toEqual({ vip: true })
    expect(c.createdAt).toBe(c.updatedAt)
    expect(await ws.getContact(c.id)).toEqual(c)

    const edited = await ws.editContact(c.id, { title: 'Countess', addTags: ['math'], emails: null, orgId: null })
    expect(edited.title).toBe('Countess')
    expect(edited.tags).toEqual({ vip: true, math: true })
    expect(edited.emails).toEqual([])
    expect(edited.orgId).toBeUndefined()
    expect(edited.updatedAt).toBeGreaterThan(c.updatedAt)

    await ws.removeContact(c.id)
    expect(await ws.getContact(c.id)).toBeUndefined()
    expect((await ws.getContact(c.id, { includeDeleted: true }))?.deletedAt).toBeTypeOf('number')
    expect(await ws.listContacts()).toEqual([])
    expect(await ws.listContacts({ includeDeleted: true })).toHaveLength(1)

    const err = await errorOf(ws.editContact(c.id, { name: 'X' }))
    expect(err.name).toBe('UnknownIdError')
    expect(err.message).toMatch(/restore/)

    const restored = await ws.restoreContact(c.id)
    expect(restored.deletedAt).toBeUndefined()
    expect(restored.title).toBe('Countess')
    expect(await ws.listContacts()).toHaveLength(1)
  })

  it('lists sorted by lower-cased name then id, with paging', async () => {
    const { ws } = await setup()
    await ws.addContacts([{ name: 'bob' }, { name: 'Alice' }, { name: 'carol' }, { name: 'Bob' }])
    const all = await ws.listContacts()
    expect(all.map((c) => c.name.toLowerCase())).toEqual(['alice', 'bob', 'bob', 'carol'])
    const bobs = all.filter((c) => c.name.toLowerCase() === 'bob')
    expect(bobs[0]!.id < bobs[1]!.id).toBe(true)
    expect((await ws.listContacts({ offset: 1, limit: 2 })).map((c) => c.id)).toEqual(all.slice(1, 3).map((c) => c.id))
  })

  it('unknown ids: undefined from get, UnknownIdError from edit/remove', async () => {
    const { ws } = await setup()
    const ghost = 'ct_aaaaaaaaaaaaaaaa'
    expect(await ws.getContact(ghost)).toBeUndefined()
    expect((await errorOf(ws.editContact(ghost, { name: 'x' }))).name).toBe('UnknownIdError')
    expect((await errorOf(ws.removeContact(ghost))).name).toBe('UnknownIdError')
    expect((await errorOf(ws.getContact('nope'))).name).toBe('ValidationError')
    const orgErr = await errorOf(ws.addContact({ name: 'A', orgId: 'org_aaaaaaaaaaaaaaaa' }))
    expect(orgErr.name).toBe('UnknownIdError')
  })

  it('a failed call changes nothing', async () => {
    const { ws } = await setup()
    const c = await ws.addContact({ name: 'Ada' })
    const handles = await ws.allHandles()
    const before = handles.map((h) => h.heads())
    expect((await errorOf(ws.editContact(c.id, { name: 'Ok', emails: ['bad'] }))).name).toBe('ValidationError')
    expect((await errorOf(ws.addContacts([{ name: 'fine' }, { name: '' }]))).name).toBe('ValidationError')
    expect((await errorOf(ws.editContact(c.id, { orgId: 'org_aaaaaaaaaaaaaaaa' }))).name).toBe('UnknownIdError')
    expect(handles.map((h) => h.heads())).toEqual(before)
  })

  it('addContact with a shard: the new id hashes to that shard; a shard out of range is refused and adds nothing', async () => {
    const { ws } = await setup(4)
    for (const shard of [0, 1, 2, 3, 3, 0]) {
      const c = await ws.addContact({ name: `In ${shard}` }, { shard })
      expect(ws.shardOfContact(c.id)).toBe(shard)
      expect(await ws.getContact(c.id)).toEqual(c)
    }
    for (const shard of [-1, 4, 1.5]) expect((await errorOf(ws.addContact({ name: 'Nowhere' }, { shard }))).field).toBe('shard')
    expect((await ws.listContacts()).map((c) => c.name)).not.toContain('Nowhere')
    expect(await ws.listContacts()).toHaveLength(6)
  })

  it('notes: add and remove', async () => {
    const { ws } = await setup()
    const c = await ws.addContact({ name: 'Ada' })
    const note = await ws.addNote(c.id, { kind: 'call', body: 'Talked about engines' })
    expect(note.kind).toBe('call')
    expect(Object.keys((await ws.getContact(c.id))!.notes)).toEqual([note.id])
    await ws.removeNote(c.id, note.id)
    expect((await ws.getContact(c.id))!.notes).toEqual({})
    expect((await errorOf(ws.removeNote(c.id, 'nt_aaaaaaaaaaaaaaaa'))).name).toBe('UnknownIdError')
  })
})

describe('CrmWorkspace orgs and devices', () => {
  it('orgs: add, edit, remove; removed org refused as a contact org', async () => {
    const { ws } = await setup()
    const o = await ws.addOrg({ name: 'Initech' })
    expect((await ws.editOrg(o.id, { name: 'Initrode' })).name).toBe('Initrode')
    await ws.removeOrg(o.id)
    expect(await ws.listOrgs()).toEqual([])
    expect(await ws.getOrg(o.id)).toBeUndefined()
    expect((await ws.listOrgs({ includeDeleted: true }))[0]?.deletedAt).toBeTypeOf('number')
    expect((await errorOf(ws.addContact({ name: 'A', orgId: o.id }))).name).toBe('UnknownIdError')
    expect((await errorOf(ws.editOrg(o.id, { name: 'x' }))).name).toBe('UnknownIdError')
  })

  it('membership: add, revoke, revocation is sticky', async () => {
    const { ws } = await setup()
    expect(ws.memberStatus('devA')).toBe('member')
    expect(ws.memberStatus('devB')).toBe('unknown')
    await ws.addDevice(device('devB', 'devA'))
    expect(ws.memberStatus('devB')).toBe('member')
    await ws.revokeDevice('devB')
    expect(ws.memberStatus('devB')).toBe('revoked')
    await ws.addDevice(device('devB', 'devA'))
    expect(ws.memberStatus('devB')).toBe('revoked')
    expect(ws.listDevices().map((d) => [d.id, d.revokedAt !== undefined])).toEqual([
      ['devA', false],
      ['devB', true],
    ])
  })
})

describe('CrmWorkspace across devices', () => {
  it('open loads only the root; shards load on use', async () => {
    const { repo, ws } = await setup()
    const c = await ws.addContact({ name: 'Ada' })
    const b = await cloneWorkspace(repo, ws)
    repos.push(b.repo)
    const fresh = await CrmWorkspace.open(b.repo, ws.rootUrl)
    expect(ws.shardUrls.filter((_, n) => fresh.isShardLoaded(n))).toEqual([])
    expect((await fresh.getContact(c.id))?.name).toBe('Ada')
    expect(ws.shardUrls.filter((_, n) => fresh.isShardLoaded(n))).toHaveLength(1)
  })

  it('edit vs concurrent remove: stays removed, edits survive in the tombstone', async () => {
    const { repo, ws: a } = await setup()
    const c = await a.addContact({ name: 'Ada', title: 'Analyst' })
    const { repo: repoB, ws: b } = await cloneWorkspace(repo, a)
    repos.push(repoB)
    await a.removeContact(c.id)
    await b.editContact(c.id, { title: 'Countess', addTags: ['x'] })
    await syncBoth(a, b)
    for (const ws of [a, b]) {
      expect(await ws.getContact(c.id)).toBeUndefined()
      const tomb = await ws.getContact(c.id, { includeDeleted: true })
      expect(tomb?.title).toBe('Countess')
    }
    expect((await a.restoreContact(c.id)).tags).toEqual({ x: true })
  })

  it('concurrent adds of different tags both survive; same-field edits converge', async () => {
    const { repo, ws: a } = await setup()
    const c = await a.addContact({ name: 'Ada' })
    const { repo: repoB, ws: b } = await cloneWorkspace(repo, a)
    repos.push(repoB)
    await a.editContact(c.id, { addTags: ['red'], title: 'From A', name: 'Ada Lovelace' })
    await b.editContact(c.id, { addTags: ['blue'], title: 'From B', name: 'Ada Byron' })
    await syncBoth(a, b)
    const ca = await a.getContact(c.id)
    const cb = await b.getContact(c.id)
    expect(ca?.tags).toEqual({ red: true, blue: true })
    expect(ca).toEqual(cb)
    // Whole-value last-writer-wins, not a character merge of the two strings.
    expect(['From A', 'From B']).toContain(ca?.title)
    expect(['Ada Lovelace', 'Ada Byron']).toContain(ca?.name)
  })

  it('tags: add wins over a concurrent remove of the same tag', async () => {
    const { repo, ws: a } = await setup()
    const c = await a.addContact({ name: 'Ada', tags: ['x', 'y'] })
    const { repo: repoB, ws: b } = await cloneWorkspace(repo, a)
    repos.push(repoB)
    await a.editContact(c.id, { removeTags: ['x', 'y'] })
    await b.editContact(c.id, { addTags: ['x'] })
    await syncBoth(a, b)
    expect((await a.getContact(c.id))?.tags).toEqual({ x: true })
    expect((await b.getContact(c.id))?.tags).toEqual({ x: true })
  })

  it('restore vs concurrent remove: a removal the restorer had not seen wins', async () => {
    const { repo, ws: a } = await setup()
    const c = await a.addContact({ name: 'Ada' })
    await a.removeContact(c.id)
    const { repo: repoB, ws: b } = await cloneWorkspace(repo, a)
    repos.push(repoB)
    await a.restoreContact(c.id)
    await b.restoreContact(c.id)
    await b.removeContact(c.id)
    await syncBoth(a, b)
    expect(await a.getContact(c.id)).toBeUndefined()
    expect(await b.getContact(c.id)).toBeUndefined()
  })

  it('two concurrent removes end removed, and one restore undoes both', async () => {
    const { repo, ws: a } = await setup()
    const c = await a.addContact({ name: 'Ada' })
    const { repo: repoB, ws: b } = await cloneWorkspace(repo, a)
    repos.push(repoB)
    await a.removeContact(c.id)
    await b.removeContact(c.id)
    await syncBoth(a, b)
    expect(await a.getContact(c.id)).toBeUndefined()
    expect(await b.getContact(c.id)).toBeUndefined()
    await a.restoreContact(c.id)
    await syncBoth(a, b)
    expect((await b.getContact(c.id))?.name).toBe('Ada')
  })

  it('concurrent notes on one contact all survive', async () => {
    const { repo, ws: a } = await setup()
    const c = await a.addContact({ name: 'Ada' })
    const { repo: repoB, ws: b } = await cloneWorkspace(repo, a)
    repos.push(repoB)
    const na = await a.addNote(c.id, { body: 'from A' })
    const nb = await b.addNote(c.id, { kind: 'meeting', body: 'from B' })
    await syncBoth(a, b)
    expect(Object.keys((await a.getContact(c.id))!.notes).sort()).toEqual([na.id, nb.id].sort())
    expect(await a.getContact(c.id)).toEqual(await b.getContact(c.id))
  })

  it('concurrent restores end restored', async () => {
    const { repo, ws: a } = await setup()
    const c = await a.addContact({ name: 'Ada' })
    await a.removeContact(c.id)
    const { repo: repoB, ws: b } = await cloneWorkspace(repo, a)
    repos.push(repoB)
    await a.restoreContact(c.id)
    await b.restoreContact(c.id)
    await syncBoth(a, b)
    expect((await a.getContact(c.id))?.name).toBe('Ada')
    expect((await b.getContact(c.id))?.name).toBe('Ada')
  })

  it('revocation survives a concurrent re-add', async () => {
    const { repo, ws: a } = await setup()
    await a.addDevice(device('devB', 'devA'))
    const { repo: repoB, ws: b } = await cloneWorkspace(repo, a)
    repos.push(repoB)
    await a.revokeDevice('devB')
    await b.addDevice({ ...device('devB', 'devA'), name: 'Renamed' })
    await syncBoth(a, b)
    expect(a.memberStatus('devB')).toBe('revoked')
    expect(b.memberStatus('devB')).toBe('revoked')
  })

  it('onContactsChanged fires for local changes and remote merges', async () => {
    const { repo, ws: a } = await setup()
    const { repo: repoB, ws: b } = await cloneWorkspace(repo, a)
    repos.push(repoB)
    await b.loadAllShards()
    const events: ContactsChangedEvent[] = []
    b.onContactsChanged((e) => events.push(e))
    const local = await b.addContact({ name: 'Local' })
    // A creation carries the record written (the projection lists it without reading it back).
    expect(events).toEqual([{ shard: b.shardOfContact(local.id), ids: [local.id], source: 'local', created: new Map([[local.id, local]]) }])
    const remote = await a.addContact({ name: 'Remote' })
    await mergeInto(b, a)
    expect(events.slice(1)).toEqual([{ shard: b.shardOfContact(remote.id), ids: [remote.id], source: 'remote' }])
  })

  it('addContacts builds 10,000 contacts with one change per shard', async () => {
    const { ws } = await setup()
    const inputs = Array.from({ length: 10_000 }, (_, i) => ({ name: `Contact ${i}`, emails: [`c${i}@example.com`] }))
    const made = await ws.addContacts(inputs)
    expect(new Set(made.map((c) => c.id)).size).toBe(10_000)
    const handles = await ws.allHandles()
    // root: 1 change (creation); each shard: creation + one bulk change
    for (const h of handles.slice(1)) expect(h.history()?.length).toBe(2)
    const listed = await ws.listContacts({ limit: 5 })
    expect(listed.map((c) => c.name)).toEqual(['Contact 0', 'Contact 1', 'Contact 10', 'Contact 100', 'Contact 1000'])
  })
})

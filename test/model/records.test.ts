import { describe, expect, it } from 'vitest'
import * as A from '@automerge/automerge'
import { readContact, readOrg } from '../../src/core/model/records.js'

describe('readers', () => {
  it('degrade odd values instead of crashing', () => {
    const c = readContact({ id: 'ct_x', name: 5, emails: 'nope', tags: [1], notes: { n: { kind: 'fax' } } })
    expect(c).toMatchObject({ id: 'ct_x', name: '5', emails: [], phones: [], tags: {}, createdAt: 0 })
    expect(c.notes.n?.kind).toBe('note')
    expect(readOrg(null)).toMatchObject({ id: '', name: '' })
  })

  it('read scalar strings written by another client as strings', () => {
    const doc = A.from({
      c: { id: 'ct_x', name: new A.ImmutableString('Ada'), title: new A.ImmutableString('CEO'), emails: [], phones: [], tags: {}, notes: {}, createdAt: 1, updatedAt: 1 },
    })
    const c = readContact(doc.c)
    expect(c.name).toBe('Ada')
    expect(c.title).toBe('CEO')
  })
})

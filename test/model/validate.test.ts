import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { ValidationError } from '../../src/core/errors.js'
import {
  parseContactInput,
  parseContactPatch,
  parseMemberDevice,
  parseNoteInput,
  parseOrgInput,
  parseOrgPatch,
} from '../../src/core/model/validate.js'

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (error) {
    expect((error as Error).name).toBe('ValidationError')
    expect(error).toBeInstanceOf(ValidationError)
    return (error as ValidationError).field
  }
  throw new Error('expected a ValidationError')
}

describe('parseContactInput', () => {
  it('accepts a full contact and normalises strings', () => {
    const c = parseContactInput({
      name: '  Ada  ',
      emails: [' ada@example.com '],
      phones: ['+44 (20) 7946-0958'],
      title: 'Countess',
      orgId: 'org_abcdefghijklmnop',
      tags: ['vip', 'math'],
      logo: 'a'.repeat(64),
    })
    expect(c).toEqual({
      name: 'Ada',
      emails: ['ada@example.com'],
      phones: ['+44 (20) 7946-0958'],
      title: 'Countess',
      orgId: 'org_abcdefghijklmnop',
      tags: ['vip', 'math'],
      logo: 'a'.repeat(64),
    })
    expect(parseContactInput({ name: 'x' })).toEqual({ name: 'x' })
  })

  it.each([
    [{}, 'name'],
    [{ name: '   ' }, 'name'],
    [{ name: 'x'.repeat(201) }, 'name'],
    [{ name: 7 }, 'name'],
    [{ name: 'A', emails: ['a@b.co', 'nope'] }, 'emails[1]'],
    [{ name: 'A', emails: 'a@b.co' }, 'emails'],
    [{ name: 'A', phones: ['12'] }, 'phones[0]'],
    [{ name: 'A', phones: ['call me'] }, 'phones[0]'],
    [{ name: 'A', phones: ['+-()'] }, 'phones[0]'],
    [{ name: 'A', orgId: 'ct_abcdefghijklmnop' }, 'orgId'],
    [{ name: 'A', tags: ['ok', 'bad\u0007'] }, 'tags[1]'],
    [{ name: 'A', tags: ['x'.repeat(51)] }, 'tags[0]'],
    [{ name: 'A', logo: 'abc' }, 'logo'],
    [{ name: 'A', colour: 'red' }, 'colour'],
  ])('rejects %j naming %s', (input, field) => {
    expect(fieldOf(() => parseContactInput(input))).toBe(field)
  })

  it('rejects non-objects without a field', () => {
    expect(fieldOf(() => parseContactInput('Ada'))).toBeUndefined()
    expect(fieldOf(() => parseContactInput(null))).toBeUndefined()
  })

  it('messages say what is expected', () => {
    expect(() => parseContactInput({ name: 'A', emails: ['nope'] })).toThrow(/^emails\[0\]: expected a valid email/)
    expect(() => parseContactInput({ name: 'A', phones: ['x'] })).toThrow(/^phones\[0\]: expected a phone number/)
  })

  it('property: any input either parses to a valid contact or throws ValidationError', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        try {
          const c = parseContactInput(value)
          expect(c.name.length).toBeGreaterThan(0)
        } catch (error) {
          expect(error).toBeInstanceOf(ValidationError)
        }
      }),
    )
  })

  it('property: any valid name round-trips trimmed', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 200 }).filter((s) => s.trim().length > 0), (name) => {
        expect(parseContactInput({ name }).name).toBe(name.trim())
      }),
    )
  })
})

describe('other parsers', () => {
  it('patch: null clears, undefined leaves alone, name cannot be null', () => {
    expect(parseContactPatch({ title: null, addTags: ['a'] })).toEqual({ title: null, addTags: ['a'] })
    expect(fieldOf(() => parseContactPatch({ name: null }))).toBe('name')
    expect(fieldOf(() => parseContactPatch({ removeTags: [''] }))).toBe('removeTags[0]')
  })
  it('note', () => {
    expect(parseNoteInput({ body: ' hi ' })).toEqual({ body: 'hi' })
    expect(fieldOf(() => parseNoteInput({ body: '' }))).toBe('body')
    expect(fieldOf(() => parseNoteInput({ body: 'x'.repeat(10_001) }))).toBe('body')
    expect(fieldOf(() => parseNoteInput({ body: 'x', kind: 'fax' }))).toBe('kind')
    expect(fieldOf(() => parseNoteInput({ body: 'x', at: 1.5 }))).toBe('at')
  })
  it('org', () => {
    expect(parseOrgInput({ name: 'Initech' })).toEqual({ name: 'Initech' })
    expect(fieldOf(() => parseOrgInput({ name: '' }))).toBe('name')
    expect(parseOrgPatch({ logo: null })).toEqual({ logo: null })
  })
  it('member device', () => {
    const d = { id: 'devA', publicKey: 'A'.repeat(43), name: 'Laptop', addedAt: 1, addedBy: 'devA' }
    expect(parseMemberDevice(d)).toEqual(d)
    expect(fieldOf(() => parseMemberDevice({ ...d, publicKey: 'not base64!' }))).toBe('publicKey')
  })
})

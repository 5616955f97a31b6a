import { describe, expect, it } from 'vitest'
import { base32, newContactId, parseContactId, parseOrgId } from '../src/core/ids.js'

describe('ids', () => {
  it('round-trips a new contact id through its parser', () => {
    const id = newContactId()
    expect(parseContactId(id)).toBe(id)
  })
  it('refuses an org id where a contact id is expected, naming the field', () => {
    const org = parseOrgId('org_abcdefghijklmnop')
    expect(() => parseContactId(org, 'contact')).toThrow(expect.objectContaining({ name: 'ValidationError', field: 'contact' }))
  })
  it('encodes base32 per RFC 4648 (lower case, no padding)', () => {
    expect(base32(new TextEncoder().encode('foobar'))).toBe('mzxw6ytboi')
  })
})

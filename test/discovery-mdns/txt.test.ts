import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { encodeTxtRecord, parseTxtRecord, truncateName } from '../../src/core/discovery/index.js'
import type { DeviceId } from '../../src/core/ids.js'

const id = 'abcdefghijklmnopqrstuvwxyz234567' as DeviceId
const text = (parts: string[]): Uint8Array[] => parts.map((p) => new TextEncoder().encode(p))

describe('TXT record', () => {
  it('round-trips what we advertise', () => {
    const record = { deviceId: id, name: 'Ana’s laptop', protocolVersion: 1 }
    expect(parseTxtRecord(encodeTxtRecord(record))).toEqual(record)
  })

  it('ignores unknown keys and boolean attributes, takes the first of a repeated key, keys are case-insensitive', () => {
    expect(parseTxtRecord(text(['flag', 'ID=' + id, 'id=zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz', 'name=x', 'pv=2', 'future=1']))).toEqual({
      deviceId: id,
      name: 'x',
      protocolVersion: 2,
    })
  })

  it.each([
    ['no id', ['name=x', 'pv=1']],
    ['a bad id', ['id=NOT-AN-ID', 'name=x', 'pv=1']],
    ['no name', [`id=${id}`, 'pv=1']],
    ['a name with control characters', [`id=${id}`, 'name=a\u001b[2Jb', 'pv=1']],
    ['a name over 63 bytes', [`id=${id}`, `name=${'é'.repeat(32)}`, 'pv=1']],
    ['no pv', [`id=${id}`, 'name=x']],
    ['pv zero', [`id=${id}`, 'name=x', 'pv=0']],
    ['pv not a number', [`id=${id}`, 'name=x', 'pv=1e3']],
  ])('drops a record with %s (WireError BAD_TXT)', (_what, entries) => {
    expect(() => parseTxtRecord(text(entries))).toThrow(expect.objectContaining({ name: 'WireError', code: 'BAD_TXT' }))
  })

  it('drops invalid UTF-8 and non-list input', () => {
    expect(() => parseTxtRecord([Uint8Array.of(0x69, 0x64, 0x3d, 0xff)])).toThrow(expect.objectContaining({ name: 'WireError' }))
    expect(() => parseTxtRecord('id=x')).toThrow(expect.objectContaining({ name: 'WireError' }))
    expect(() => parseTxtRecord([42])).toThrow(expect.objectContaining({ name: 'WireError' }))
  })

  it('never throws anything but WireError on random input', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.string(), fc.anything()), { maxLength: 40 }), (entries) => {
        try {
          parseTxtRecord(entries)
        } catch (error) {
          expect((error as Error).name).toBe('WireError')
        }
      }),
    )
  })

  it('truncates long names on a character boundary', () => {
    const name = truncateName('😀'.repeat(40))
    expect(new TextEncoder().encode(name).length).toBeLessThanOrEqual(63)
    expect(name).toBe('😀'.repeat(15))
  })
})

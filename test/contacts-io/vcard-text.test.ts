import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeUtf8Chunks, firstInvalidUtf8 } from '../../src/core/contacts-io/text.js'
import {
  VCardReader,
  contactToVCard,
  decodeBase64,
  encodeBase64,
  escapeText,
  foldLine,
  parseContentLine,
  splitEscaped,
  unescapeText,
  vcardToDraft,
  type VCard,
} from '../../src/core/contacts-io/vcard.js'
import { checkDraft, DuplicateFinder, isProblem } from '../../src/core/contacts-io/draft.js'
import { readContactDrafts } from '../../src/core/contacts-io/read.js'
import { ValidationError } from '../../src/core/errors.js'
import type { Contact } from '../../src/core/model/types.js'

const PNG = Uint8Array.from(Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=', 'base64'))

async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size)
}

async function decode(bytes: Uint8Array, size: number): Promise<string> {
  let out = ''
  for await (const t of decodeUtf8Chunks(chunked(bytes, size))) out += t
  return out
}

async function rejection(p: Promise<unknown>): Promise<ValidationError> {
  try {
    await p
  } catch (err) {
    if (err instanceof ValidationError) return err
    throw err
  }
  throw new Error('expected a ValidationError')
}

function cards(text: string, size = text.length || 1): VCard[] {
  const r = new VCardReader()
  const out: VCard[] = []
  for (let i = 0; i < text.length; i += size) out.push(...r.push(text.slice(i, i + size)))
  out.push(...r.end())
  return out
}

describe('strict UTF-8 decoding', () => {
  it('decodes any text the same way whatever the chunk size (fast-check), dropping a BOM', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.integer({ min: 1, max: 9 }), async (text, size) => {
        const bytes = new Uint8Array(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]))
        expect(await decode(bytes, size)).toBe(text)
      }),
    )
  })

  it('names the line and byte of the first byte that is not UTF-8 (a Latin-1 file)', async () => {
    const latin1 = new Uint8Array(Buffer.from('name,email\nAda,ada@example.com\nJos\xe9,jose@example.com\n', 'latin1'))
    for (const size of [1, 2, 3, 4, 5, 1000]) {
      const err = await rejection(decode(latin1, size))
      expect(err).toMatchObject({ field: 'encoding', message: expect.stringMatching(/0xe9 at line 3 \(byte offset 34\)/) })
    }
  })

  it('refuses UTF-16 by its byte-order mark, and a file cut inside a character', async () => {
    expect(await rejection(decode(new Uint8Array(Buffer.from('\ufeffname', 'utf16le')), 64))).toMatchObject({ field: 'encoding', message: expect.stringMatching(/UTF-16/) })
    expect(await rejection(decode(new Uint8Array([0x61, 0xe2, 0x82]), 64))).toMatchObject({ field: 'encoding' })
  })

  it('firstInvalidUtf8 agrees with the platform decoder on random bytes (fast-check)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 24 }), (bytes) => {
        let valid = true
        try {
          new TextDecoder('utf-8', { fatal: true }).decode(bytes)
        } catch {
          valid = false
        }
        const at = firstInvalidUtf8(bytes)
        // -1 also for a sequence cut by the end (the streaming caller has more bytes).
        if (valid) expect(at).toBe(-1)
        else if (at >= 0) expect(() => new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, at))).not.toThrow()
      }),
    )
  })
})

describe('vCard parsing', () => {
  it('parses content lines: groups, parameters (quoted, lists, bare types), values', () => {
    expect(parseContentLine('item1.EMAIL;type=INTERNET;TYPE="work,pref":ada@example.com')).toEqual({
      name: 'EMAIL',
      params: { TYPE: ['INTERNET', 'work,pref'] },
      value: 'ada@example.com',
    })
    expect(parseContentLine('TEL;WORK;VOICE:+1 555')).toEqual({ name: 'TEL', params: { TYPE: ['WORK', 'VOICE'] }, value: '+1 555' })
    expect(parseContentLine('no colon here')).toBeUndefined()
  })

  it('unfolds continuation lines (CRLF or LF, space or tab) and keeps BEGIN lines', () => {
    const text = 'BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Ada Love\r\n lace\r\nNOTE:one\n\ttwo\r\nEND:VCARD\r\n'
    const [card] = cards(text, 5)
    expect(card?.line).toBe(1)
    expect(card?.properties.map((p) => [p.name, p.value])).toEqual([
      ['VERSION', '4.0'],
      ['FN', 'Ada Lovelace'],
      ['NOTE', 'onetwo'],
    ])
  })

  it('escapes and unescapes text, and splits structured values at unescaped separators (fast-check)', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', ',', ';', '\\', '\n', ' ', 'é'), maxLength: 12 }), (s) => {
        expect(unescapeText(escapeText(s))).toBe(s)
        expect(splitEscaped(`${escapeText(s)};${escapeText(s)}`, ';')).toEqual([s, s])
      }),
    )
  })

  it('folds at 75 UTF-8 bytes without cutting a character, and unfolds back (fast-check)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), (s) => {
        const folded = foldLine(`NOTE:${s}`)
        for (const line of folded.split('\r\n').slice(0, -1)) expect(Buffer.byteLength(line, 'utf8')).toBeLessThanOrEqual(75)
        expect(folded.replace(/\r\n[ ]/g, '')).toBe(`NOTE:${s}\r\n`)
      }),
    )
  })

  it('base64 decodes what it encodes, with padding, whitespace or the URL alphabet (fast-check)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 50 }), (bytes) => {
        const b64 = encodeBase64(bytes)
        expect(decodeBase64(b64)).toEqual(bytes)
        expect(decodeBase64(b64.replace(/(.{4})/g, '$1 \r\n').replaceAll('+', '-').replaceAll('/', '_'))).toEqual(bytes)
      }),
    )
    expect(decodeBase64('not*base64')).toBeUndefined()
  })

  it('maps vCard 3.0 (ENCODING=b photo, N without FN) and 4.0 (data: URI photo, tel: URI) to drafts', () => {
    const b64 = encodeBase64(PNG)
    const v3 = `BEGIN:VCARD\r\nVERSION:3.0\r\nN:Hopper;Grace;Brewster;Rear Adm.;\r\nEMAIL;TYPE=INTERNET:grace@navy.mil\r\nTEL;TYPE=WORK:+1 555 0100\r\nTITLE:Rear Admiral\r\nORG:US Navy;Computing\r\nCATEGORIES:vip,navy\r\nNOTE:Wrote the first compiler\\, A-0\\nand COBOL\r\nPHOTO;ENCODING=b;TYPE=PNG:${b64}\r\nEND:VCARD\r\n`
    const v4 = `BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Ada Lovelace\r\nEMAIL:ada@example.com\r\nTEL;VALUE=uri:tel:+44-20-7946-0000\r\nPHOTO:data:image/png;base64,${b64}\r\nEND:VCARD\r\n`
    const [a, b] = cards(v3 + v4).map(vcardToDraft)
    expect(a).toMatchObject({ line: 1, name: 'Rear Adm. Grace Brewster Hopper', emails: ['grace@navy.mil'], phones: ['+1 555 0100'], title: 'Rear Admiral', org: 'US Navy', tags: ['vip', 'navy'], notes: ['Wrote the first compiler, A-0\nand COBOL'] })
    expect(a?.photo).toEqual(PNG)
    expect(b).toMatchObject({ line: 12, name: 'Ada Lovelace', phones: ['+44-20-7946-0000'] })
    expect(b?.photo).toEqual(PNG)
  })

  it('reports bad cards by line (2.1, no VERSION, no END, bad base64) and a photo URL as a warning', () => {
    const text = [
      'BEGIN:VCARD\nVERSION:2.1\nFN:Old\nEND:VCARD',
      'BEGIN:VCARD\nFN:NoVersion\nEND:VCARD',
      'BEGIN:VCARD\nVERSION:3.0\nFN:Bad photo\nPHOTO;ENCODING=b:@@@\nEND:VCARD',
      'BEGIN:VCARD\nVERSION:4.0\nFN:Linked\nPHOTO:https://example.com/a.png\nEND:VCARD',
      'BEGIN:VCARD\nVERSION:4.0\nFN:Unfinished',
    ].join('\n')
    const drafts = cards(text).map(vcardToDraft)
    expect(drafts.map((d) => [d.line, d.problem?.field, d.problem?.message.slice(0, 30)])).toEqual([
      [1, 'row', 'vCard 2.1 is not supported: ex'],
      [5, 'row', 'malformed vCard: no VERSION (e'],
      [8, 'logo', 'PHOTO: not valid base64'],
      [13, undefined, undefined],
      [18, 'row', 'malformed vCard: the card star'],
    ])
    expect(drafts[3]?.warnings[0]).toMatchObject({ line: 13, field: 'logo', message: expect.stringMatching(/link/) })
  })

  it('refuses a file that is not a vCard, and an empty one', () => {
    expect(() => cards('name,email\nAda,a@x.io\n')).toThrow(expect.objectContaining({ field: 'format' }))
    expect(() => cards('\n\n')).toThrow(expect.objectContaining({ field: 'format' }))
  })

  it('writes vCard 4.0 that reads back as the same contact', () => {
    const contact: Contact = {
      id: 'ct_aaaaaaaaaaaaaaaa' as Contact['id'],
      name: 'Ada, Countess; of Lovelace',
      emails: ['ada@example.com', 'ada2@example.com'],
      phones: ['+44 20 7946 0000'],
      title: 'Analyst\\Poet',
      tags: { vip: true, 'a,b': true },
      notes: { nt_1: { id: 'nt_1' as never, kind: 'note', body: 'line 1\nline 2 with ünïcödé '.repeat(5), at: 1, createdAt: 1 } },
      createdAt: 1,
      updatedAt: 1,
    }
    const draft = vcardToDraft(cards(contactToVCard(contact, 'Analytical Engines', PNG))[0]!)
    expect(draft).toMatchObject({ name: contact.name, emails: contact.emails, phones: contact.phones, title: contact.title, org: 'Analytical Engines', tags: ['vip', 'a,b'], notes: [contact.notes.nt_1!.body] })
    expect(draft.photo).toEqual(PNG)
  })
})

describe('validation and duplicates', () => {
  it('checks a draft with the model rules and names the field', () => {
    const bad = checkDraft({ line: 7, name: 'Bob', emails: ['ok@example.com', 'nope'], phones: [], tags: [], notes: [], warnings: [] })
    expect(isProblem(bad) && bad).toMatchObject({ line: 7, field: 'emails[1]' })
    const noName = checkDraft({ line: 8, emails: [], phones: [], tags: [], notes: [], warnings: [] })
    expect(isProblem(noName) && noName).toMatchObject({ line: 8, field: 'name' })
    const longNote = checkDraft({ line: 9, name: 'N', emails: [], phones: [], tags: [], notes: ['ok', 'x'.repeat(10_001)], warnings: [] })
    expect(isProblem(longNote) && longNote).toMatchObject({ line: 9, field: 'notes[1]' })
  })

  it('finds duplicate emails case-insensitively, within the file and against existing contacts', () => {
    const finder = new DuplicateFinder([['ada@example.com', 'ct_existing']])
    expect(finder.check(2, ['ADA@example.com'])).toEqual({ line: 2, email: 'ADA@example.com', of: { contactId: 'ct_existing' } })
    expect(finder.check(3, ['bob@example.com'])).toBeUndefined()
    expect(finder.check(4, ['x@example.com', 'Bob@Example.com'])).toEqual({ line: 4, email: 'Bob@Example.com', of: { line: 3 } })
    expect(finder.check(5, [])).toBeUndefined()
  })

  it('refuses more rows than the bound', async () => {
    const text = 'name\n' + Array.from({ length: 6 }, (_, i) => `c${i}\n`).join('')
    const read = async () => {
      for await (const _ of readContactDrafts('csv', chunked(new Uint8Array(Buffer.from(text)), 4), { maxRows: 5 })) void _
    }
    expect(await rejection(read())).toMatchObject({ field: 'rows', message: expect.stringMatching(/more than 5.*line 7/) })
  })
})

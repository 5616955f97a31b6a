import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CsvTokenizer, formatCsvRow, type CsvRecord } from '../../src/core/contacts-io/csv.js'
import { csvRowToDraft, joinMulti, parseCsvHeader, splitMulti } from '../../src/core/contacts-io/csv-contacts.js'
import { ValidationError } from '../../src/core/errors.js'

/** Tokenizes `text` fed in the given chunk sizes (cycled). */
function tokenize(text: string, sizes: number[] = [text.length || 1], delimiter = ','): CsvRecord[] {
  const t = new CsvTokenizer({ delimiter })
  const out: CsvRecord[] = []
  let i = 0
  let k = 0
  while (i < text.length) {
    const n = Math.max(1, sizes[k++ % sizes.length] ?? 1)
    out.push(...t.push(text.slice(i, i + n)))
    i += n
  }
  out.push(...t.end())
  return out
}

function thrown(fn: () => unknown): ValidationError {
  try {
    fn()
  } catch (err) {
    if (err instanceof ValidationError) return err
    throw err
  }
  throw new Error('expected a ValidationError')
}

describe('CsvTokenizer', () => {
  it('reads quoted fields with delimiters, doubled quotes and newlines, and names the line each record starts on', () => {
    const text = 'name,notes\r\nAda,"one, two"\r\n"Bob ""B""","line 1\r\nline 2"\r\n\r\nCarol,x\nDan,y\rEve,z'
    expect(tokenize(text)).toEqual([
      { line: 1, fields: ['name', 'notes'] },
      { line: 2, fields: ['Ada', 'one, two'] },
      { line: 3, fields: ['Bob "B"', 'line 1\nline 2'] },
      { line: 6, fields: ['Carol', 'x'] },
      { line: 7, fields: ['Dan', 'y'] },
      { line: 8, fields: ['Eve', 'z'] },
    ])
  })

  it('gives the same records whatever the chunk boundaries (a CRLF split across chunks included)', () => {
    const text = 'a,b\r\n"x\r\ny",""""\r\n\r\nlast,"q"\r\n'
    const whole = tokenize(text)
    for (let size = 1; size <= text.length; size++) expect(tokenize(text, [size])).toEqual(whole)
  })

  it('marks a stray quote or text after a closing quote as a problem of that record only', () => {
    const records = tokenize('a,b\nAd"a,x\n"Bo"b,y\nok,z\n')
    expect(records[1]).toMatchObject({ line: 2, problem: expect.stringMatching(/quote/) })
    expect(records[2]).toMatchObject({ line: 3, problem: expect.stringMatching(/after the closing quote/) })
    expect(records[3]).toEqual({ line: 4, fields: ['ok', 'z'] })
  })

  it('refuses a quoted field that never closes, and a record over the size bound', () => {
    expect(thrown(() => tokenize('a,b\n"open,x\n\nmore\n'))).toMatchObject({ field: 'record', message: expect.stringMatching(/line 2/) })
    const t = new CsvTokenizer({ maxRecordChars: 100 })
    expect(thrown(() => t.push('a,b\n' + 'x'.repeat(101)))).toMatchObject({ field: 'record', message: expect.stringMatching(/line 2/) })
  })

  it('round-trips any table through formatCsvRow (fast-check)', () => {
    // A row of one empty field is a blank line (skipped); CR inside a field reads back as LF.
    const field = fc.string({ unit: fc.constantFrom('a', 'b', ' ', ',', ';', '"', '\n', '\t', 'é', '😀'), maxLength: 8 })
    const row = fc.array(field, { minLength: 1, maxLength: 5 }).filter((r) => !(r.length === 1 && r[0] === ''))
    fc.assert(
      fc.property(fc.array(row, { maxLength: 6 }), fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 4 }), (rows, sizes) => {
        const text = rows.map((r) => formatCsvRow(r)).join('')
        expect(tokenize(text, sizes).map((r) => r.fields)).toEqual(rows)
      }),
    )
  })

  it('uses another delimiter when told', () => {
    expect(tokenize('a;b\n"x;y";z\n', undefined, ';').map((r) => r.fields)).toEqual([['a', 'b'], ['x;y', 'z']])
    expect(tokenize('a\tb\nx\ty\n', undefined, '\t').map((r) => r.fields)).toEqual([['a', 'b'], ['x', 'y']])
  })
})

describe('CSV header and rows', () => {
  const header = (cells: string[]) => parseCsvHeader({ line: 1, fields: cells })

  it('accepts the documented names and aliases, case-insensitively, with numbered and repeated columns', () => {
    const h = header(['Full Name', 'E-mail', 'email 2', 'Mobile Phone', 'Job Title', 'Company', 'Labels', 'Notes', 'Note 2'])
    const draft = csvRowToDraft(h, { line: 2, fields: ['Ada', 'a@x.io;b@x.io', 'c@x.io', '+1 555 0100', 'CTO', 'Acme', 'vip;a\\;b', 'one', 'two'] })
    expect(draft).toMatchObject({ line: 2, name: 'Ada', emails: ['a@x.io', 'b@x.io', 'c@x.io'], phones: ['+1 555 0100'], title: 'CTO', org: 'Acme', tags: ['vip', 'a;b'], notes: ['one', 'two'] })
  })

  it('joins first, middle and last names when there is no name column', () => {
    const h = header(['First Name', 'Last Name', 'email'])
    expect(csvRowToDraft(h, { line: 2, fields: ['Grace', 'Hopper', ''] })).toMatchObject({ name: 'Grace Hopper', emails: [] })
  })

  it('refuses an unknown column, a header with no name column, a repeated single column, data instead of a header, an empty file', () => {
    expect(thrown(() => header(['name', 'birthday']))).toMatchObject({ field: 'header', message: expect.stringMatching(/"birthday" \(column 2\)/) })
    expect(thrown(() => header(['email', 'phone']))).toMatchObject({ field: 'header', message: expect.stringMatching(/no name column/) })
    expect(thrown(() => header(['name', 'title', 'job title']))).toMatchObject({ field: 'header', message: expect.stringMatching(/columns 2 and 3/) })
    expect(thrown(() => header(['Ada Lovelace', 'ada@example.com']))).toMatchObject({ field: 'header', message: expect.stringMatching(/looks like a contact/) })
    expect(thrown(() => parseCsvHeader(undefined))).toMatchObject({ field: 'header', message: expect.stringMatching(/empty/) })
    expect(parseCsvHeader({ line: 1, fields: ['name', 'birthday'] }, { ignoreUnknown: true }).columns).toEqual(['name', undefined])
  })

  it('recognises a semicolon-, tab- or pipe-separated file read with commas, and says which flag to use', () => {
    expect(thrown(() => header(['name;email;phone']))).toMatchObject({ field: 'delimiter', message: expect.stringMatching(/semicolon.*--delimiter ';'/) })
    expect(thrown(() => header(['name\temail']))).toMatchObject({ field: 'delimiter', message: expect.stringMatching(/tab.*--delimiter tab/) })
    expect(thrown(() => parseCsvHeader({ line: 1, fields: ['name,email'] }, { delimiter: ';' }))).toMatchObject({ field: 'delimiter', message: expect.stringMatching(/comma/) })
  })

  it('reports a row with the wrong number of fields, and skips an empty row', () => {
    const h = header(['name', 'email'])
    expect(csvRowToDraft(h, { line: 5, fields: ['Ada', 'a@x.io', 'extra'] })?.problem).toMatchObject({ line: 5, field: 'row', message: expect.stringMatching(/3 fields.*has 2/) })
    expect(csvRowToDraft(h, { line: 6, fields: ['', ' '] })).toBeUndefined()
  })

  it('splitMulti(joinMulti(values)) gives the values back (fast-check)', () => {
    const value = fc.string({ unit: fc.constantFrom('a', ';', '\\', 'x', 'é'), minLength: 1, maxLength: 6 }).filter((v) => v.trim() === v && v !== '')
    fc.assert(fc.property(fc.array(value, { maxLength: 5 }), (values) => {
      expect(splitMulti(joinMulti(values))).toEqual(values)
    }))
  })
})

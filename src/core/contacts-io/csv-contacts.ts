/**
 * CSV files of contacts: the header row, the mapping of each row to a {@link ContactDraft}, and the
 * export format that import reads back.
 *
 * Header names are case-insensitive; spaces, `_`, `-` and `.` count as one space (`E-mail`,
 * `e_mail`, `E mail` are the same). Accepted names ({@link CSV_COLUMNS}):
 *
 * | field  | header names |
 * |---|---|
 * | name   | name, full name, display name, contact name — or first name / given name, middle name, last name / family name / surname, joined |
 * | emails | email, emails, e-mail, email address, mail (also numbered: email 2, email2) |
 * | phones | phone, phones, phone number, telephone, tel, mobile, cell, work phone, home phone (numbered too) |
 * | title  | title, job title, position, role |
 * | org    | org, organization, organisation, company, company name — an organization name (created if new) or id |
 * | tags   | tags, tag, labels, categories, groups (numbered too) |
 * | notes  | notes, note, comments, comment (numbered too) |
 *
 * Multi-valued fields (emails, phones, tags): several values in one cell separated by `;`
 * (`\;` is a literal semicolon, `\\` a backslash), and/or repeated columns (`email,email`). Notes:
 * each notes column holds one note (its text is not split); repeat the column for more.
 */
import { ValidationError } from '../errors.js'
import type { Contact } from '../model/types.js'
import { formatCsvRow, type CsvRecord } from './csv.js'
import { emptyDraft, type ContactDraft } from './draft.js'

type Field = 'name' | 'first' | 'middle' | 'last' | 'emails' | 'phones' | 'title' | 'org' | 'tags' | 'notes'

/** Accepted header names per field, normalised (lower case, single spaces). */
export const CSV_COLUMNS: Readonly<Record<Field, readonly string[]>> = {
  name: ['name', 'full name', 'fullname', 'display name', 'contact name', 'contact'],
  first: ['first name', 'firstname', 'given name', 'givenname', 'first'],
  middle: ['middle name', 'additional name', 'middle'],
  last: ['last name', 'lastname', 'family name', 'familyname', 'surname', 'last'],
  emails: ['email', 'emails', 'e mail', 'email address', 'e mail address', 'mail', 'email addresses'],
  phones: ['phone', 'phones', 'phone number', 'phone numbers', 'telephone', 'tel', 'mobile', 'mobile phone', 'cell', 'cell phone', 'work phone', 'home phone'],
  title: ['title', 'job title', 'jobtitle', 'position', 'role'],
  org: ['org', 'organization', 'organisation', 'company', 'company name', 'organization name', 'org id'],
  tags: ['tags', 'tag', 'labels', 'label', 'categories', 'category', 'groups', 'group'],
  notes: ['notes', 'note', 'comments', 'comment'],
}

const MULTI: ReadonlySet<Field> = new Set(['emails', 'phones', 'tags', 'notes'])
const ALIAS = new Map<string, Field>()
for (const [field, names] of Object.entries(CSV_COLUMNS) as [Field, readonly string[]][]) for (const n of names) ALIAS.set(n, field)

const normalise = (header: string): string => header.trim().toLowerCase().replace(/[\s_.-]+/g, ' ').trim()

function fieldOf(header: string): Field | undefined {
  const h = normalise(header)
  const direct = ALIAS.get(h)
  if (direct !== undefined) return direct
  // Numbered columns of multi-valued fields: "email 2", "email2", "phone 3".
  const m = /^(.*?) ?\d+$/.exec(h)
  const base = m?.[1] === undefined ? undefined : ALIAS.get(m[1])
  return base !== undefined && MULTI.has(base) ? base : undefined
}

/** Which field each column feeds, from the header row. */
export interface CsvHeader {
  line: number
  columns: (Field | undefined)[]
  width: number
}

export interface CsvHeaderOptions {
  /** Ignore columns with unknown names instead of refusing the file. */
  ignoreUnknown?: boolean
  /** The delimiter in use, to recognise a file that uses another one. */
  delimiter?: string
}

const DELIMITER_NAMES: Record<string, string> = { ';': 'semicolon (;)', '\t': 'tab', ',': 'comma (,)', '|': 'pipe (|)' }

/**
 * Reads the header row.
 * @throws ValidationError field `header` (missing, unknown or repeated columns, no name column) or
 *   `delimiter` (the header is one column that contains `;`, a tab or `|`: another delimiter).
 */
export function parseCsvHeader(record: CsvRecord | undefined, options: CsvHeaderOptions = {}): CsvHeader {
  const delimiter = options.delimiter ?? ','
  if (record === undefined) {
    throw new ValidationError('header: the file is empty; expected a header row such as "name,email,phone"', { field: 'header' })
  }
  const cells = record.fields
  if (cells.length === 1) {
    const only = cells[0] ?? ''
    for (const other of [';', '\t', '|', ','] as const) {
      if (other !== delimiter && only.includes(other)) {
        const flag = other === '\t' ? "--delimiter tab" : `--delimiter '${other}'`
        throw new ValidationError(
          `delimiter: the header row (line ${record.line}) is one column that contains the ${DELIMITER_NAMES[other]} character: the file looks ${DELIMITER_NAMES[other]}-separated, not ${DELIMITER_NAMES[delimiter] ?? JSON.stringify(delimiter)}-separated; import it with ${flag}`,
          { field: 'delimiter' },
        )
      }
    }
  }
  const columns: (Field | undefined)[] = []
  const unknown: string[] = []
  const single = new Map<Field, number>()
  cells.forEach((cell, i) => {
    const field = fieldOf(cell)
    columns.push(field)
    if (field === undefined) {
      unknown.push(cell.trim() === '' ? `column ${i + 1} (no name)` : `"${cell.trim()}" (column ${i + 1})`)
      return
    }
    if (!MULTI.has(field)) {
      const before = single.get(field)
      if (before !== undefined) {
        throw new ValidationError(`header: columns ${before + 1} and ${i + 1} both give the ${field}; keep one`, { field: 'header' })
      }
      single.set(field, i)
    }
  })
  const looksLikeData = cells.some((c) => c.includes('@') || /^[+\d][\d ()\-.]{5,}$/.test(c.trim()))
  if (unknown.length > 0 && looksLikeData) {
    throw new ValidationError(
      `header: line ${record.line} must be a header row naming the columns (name, email, phone, title, org, tags, notes); it looks like a contact`,
      { field: 'header' },
    )
  }
  if (unknown.length > 0 && options.ignoreUnknown !== true) {
    throw new ValidationError(
      `header: unknown column${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} on line ${record.line}. Accepted (case-insensitive): ` +
        `${acceptedList()}. Rename the column, or pass --ignore-unknown-columns`,
      { field: 'header' },
    )
  }
  if (!columns.includes('name') && !columns.includes('first') && !columns.includes('last')) {
    throw new ValidationError(`header: no name column on line ${record.line} (name, full name, or first name / last name)`, { field: 'header' })
  }
  return { line: record.line, columns, width: cells.length }
}

function acceptedList(): string {
  const fields: string[] = (Object.keys(CSV_COLUMNS) as Field[]).filter((f) => f !== 'first' && f !== 'middle' && f !== 'last')
  return [...fields, 'first name', 'last name'].join(', ')
}

/** Splits a multi-valued cell at `;` (`\;` is a literal semicolon, `\\` a backslash). */
export function splitMulti(cell: string): string[] {
  const out: string[] = []
  let current = ''
  for (let i = 0; i < cell.length; i++) {
    const c = cell[i] as string
    const next = cell[i + 1]
    if (c === '\\' && (next === ';' || next === '\\')) {
      current += next
      i++
    } else if (c === ';') {
      out.push(current)
      current = ''
    } else current += c
  }
  out.push(current)
  return out.map((v) => v.trim()).filter((v) => v !== '')
}

/** Joins values into one multi-valued cell, escaping `\` and `;`. */
export function joinMulti(values: readonly string[]): string {
  return values.map((v) => v.replaceAll('\\', '\\\\').replaceAll(';', '\\;')).join(';')
}

/** Maps one data record to a draft (undefined for a row whose cells are all empty). */
export function csvRowToDraft(header: CsvHeader, record: CsvRecord): ContactDraft | undefined {
  if (record.fields.every((f) => f.trim() === '')) return undefined
  const draft = emptyDraft(record.line)
  if (record.problem !== undefined) {
    draft.problem = { line: record.line, field: 'row', message: `malformed CSV: ${record.problem}` }
    return draft
  }
  if (record.fields.length !== header.width) {
    draft.problem = {
      line: record.line,
      field: 'row',
      message: `the row has ${record.fields.length} field${record.fields.length === 1 ? '' : 's'}; the header (line ${header.line}) has ${header.width}`,
    }
    return draft
  }
  const parts: Partial<Record<'first' | 'middle' | 'last', string>> = {}
  record.fields.forEach((cell, i) => {
    const field = header.columns[i]
    if (field === undefined) return
    const value = cell.trim()
    switch (field) {
      case 'name':
        if (value !== '') draft.name = cell
        break
      case 'first':
      case 'middle':
      case 'last':
        if (value !== '') parts[field] = value
        break
      case 'title':
        if (value !== '') draft.title = cell
        break
      case 'org':
        if (value !== '') draft.org = value
        break
      case 'emails':
      case 'phones':
      case 'tags':
        draft[field].push(...splitMulti(cell))
        break
      case 'notes':
        if (value !== '') draft.notes.push(cell)
        break
    }
  })
  if (draft.name === undefined) {
    const joined = [parts.first, parts.middle, parts.last].filter((p) => p !== undefined).join(' ')
    if (joined !== '') draft.name = joined
  }
  return draft
}

/** The header of an export with `notes` note columns. */
export function csvExportHeader(notes: number): string {
  return formatCsvRow(['name', 'emails', 'phones', 'title', 'org', 'tags', ...Array.from({ length: notes }, () => 'notes')])
}

/** One exported contact (`orgName` resolves its organization), with `notes` note columns. */
export function csvExportRow(contact: Contact, orgName: string | undefined, notes: number): string {
  const bodies = Object.values(contact.notes)
    .filter((n) => n.deletedAt === undefined)
    .sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : 1))
    .map((n) => n.body)
  const noteCells = Array.from({ length: notes }, (_, i) => bodies[i] ?? '')
  return formatCsvRow([
    contact.name,
    joinMulti(contact.emails),
    joinMulti(contact.phones),
    contact.title ?? '',
    orgName ?? '',
    joinMulti(Object.keys(contact.tags)),
    ...noteCells,
  ])
}

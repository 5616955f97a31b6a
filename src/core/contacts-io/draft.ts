/**
 * A contact read from a file, before and after validation, and what is wrong with a row.
 * Formats (CSV, vCard) produce {@link ContactDraft}s; {@link checkDraft} validates one with the
 * model's own rules (src/core/model/validate.ts), so an imported contact obeys exactly what
 * `orbit contact add` does.
 */
import { ValidationError } from '../errors.js'
import { parseContactInput, parseNoteInput, type ContactInput } from '../model/validate.js'

/** Most rows one import reads (a file with more is refused before anything is written). */
export const MAX_IMPORT_ROWS = 1_000_000

/** A contact as a file gave it: raw strings, not yet validated. */
export interface ContactDraft {
  /** 1-based line the row (CSV record, vCard `BEGIN:VCARD`) starts on. */
  line: number
  name?: string
  emails: string[]
  phones: string[]
  title?: string
  /** An organization name, or an organization id (`org_…`). */
  org?: string
  tags: string[]
  notes: string[]
  /** Photo bytes (vCard PHOTO), to be checked as an image by the caller and stored as the logo. */
  photo?: Uint8Array
  /** Something dropped on the way that does not make the row bad (e.g. a photo given by URL). */
  warnings: RowProblem[]
  /** A problem that makes the row bad before validation (malformed record, undecodable photo). */
  problem?: RowProblem
}

/** A bad row (or a warning about one): its line, the model field, what is wrong. */
export interface RowProblem {
  line: number
  /** The model field, as ValidationError names it (`name`, `emails[0]`, `notes[1]`), or `row`. */
  field: string
  message: string
}

/** A row that passed validation. `orgName`/`orgId` are resolved against the workspace later. */
export interface CheckedRow {
  line: number
  input: ContactInput
  org?: string
  notes: string[]
  photo?: Uint8Array
}

/** An empty draft for the row starting on `line`. */
export function emptyDraft(line: number): ContactDraft {
  return { line, emails: [], phones: [], tags: [], notes: [], warnings: [] }
}

/**
 * Validates a draft with the model's rules.
 * @returns the checked row, or the first problem (line, field, message).
 */
export function checkDraft(draft: ContactDraft): CheckedRow | RowProblem {
  if (draft.problem !== undefined) return draft.problem
  const raw: Record<string, unknown> = { name: draft.name ?? '' }
  if (draft.emails.length > 0) raw.emails = draft.emails
  if (draft.phones.length > 0) raw.phones = draft.phones
  if (draft.title !== undefined && draft.title.trim() !== '') raw.title = draft.title
  if (draft.tags.length > 0) raw.tags = draft.tags
  try {
    const input = parseContactInput(raw)
    const notes = draft.notes.map((body, i) => {
      try {
        return parseNoteInput({ body }).body
      } catch (err) {
        if (err instanceof ValidationError) throw new ValidationError(`notes[${i}]: ${err.message.replace(/^body: /, '')}`, { field: `notes[${i}]` })
        throw err
      }
    })
    const org = draft.org?.trim()
    if (org !== undefined && org.length > 200) throw new ValidationError('org: expected an organization name of at most 200 characters', { field: 'org' })
    const row: CheckedRow = { line: draft.line, input, notes }
    if (org !== undefined && org !== '') row.org = org
    if (draft.photo !== undefined) row.photo = draft.photo
    return row
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err
    const field = err.field ?? 'row'
    return { line: draft.line, field, message: err.message.replace(/^name: expected a name: must not be empty$/, 'name: expected a name: must not be empty (no name column, or an empty cell)') }
  }
}

/** Whether `value` is a problem rather than a checked row. */
export const isProblem = (value: CheckedRow | RowProblem): value is RowProblem => 'message' in value

/** Where a duplicate email was first seen: an earlier line of the file, or an existing contact. */
export type DuplicateOf = { line: number } | { contactId: string }

/** A row skipped (or, with `--allow-duplicates`, imported) because an email is already taken. */
export interface Duplicate {
  line: number
  email: string
  of: DuplicateOf
}

/**
 * Finds rows whose email (compared case-insensitively) an earlier row of the file or an existing
 * contact already has. Rows without an email are never duplicates.
 */
export class DuplicateFinder {
  readonly #seen = new Map<string, DuplicateOf>()

  /** @param existing email -> contact id of the contacts already in the workspace. */
  constructor(existing: Iterable<readonly [string, string]> = []) {
    for (const [email, contactId] of existing) this.#seen.set(email.toLowerCase(), { contactId })
  }

  /** The first of `emails` already taken, or undefined; then records them as taken by `line`. */
  check(line: number, emails: readonly string[]): Duplicate | undefined {
    for (const email of emails) {
      const of = this.#seen.get(email.toLowerCase())
      if (of !== undefined) return { line, email, of }
    }
    for (const email of emails) this.#seen.set(email.toLowerCase(), { line })
    return undefined
  }
}

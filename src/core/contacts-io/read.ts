/**
 * One entry point for both formats: bytes in, {@link ContactDraft}s out, streaming.
 */
import { ValidationError } from '../errors.js'
import { csvRecords, type CsvRecord } from './csv.js'
import { csvRowToDraft, parseCsvHeader } from './csv-contacts.js'
import { MAX_IMPORT_ROWS, type ContactDraft } from './draft.js'
import { decodeUtf8Chunks } from './text.js'
import { VCardReader, vcardToDraft } from './vcard.js'

export type ContactFileFormat = 'csv' | 'vcf'

export interface ReadContactsOptions {
  /** CSV delimiter (one character); default `,`. */
  delimiter?: string
  /** CSV: ignore unknown columns instead of refusing the file. */
  ignoreUnknownColumns?: boolean
  /** Most rows accepted (default {@link MAX_IMPORT_ROWS}). */
  maxRows?: number
  /** Bound on one CSV record / vCard card, in characters (defaults: 1 MiB / 8 MiB). */
  maxRecordChars?: number
}

/** The format a file name says (`.csv`, `.vcf`/`.vcard`), or undefined. */
export function formatOfFileName(name: string): ContactFileFormat | undefined {
  const lower = name.toLowerCase()
  if (lower.endsWith('.csv') || lower.endsWith('.tsv')) return 'csv'
  if (lower.endsWith('.vcf') || lower.endsWith('.vcard')) return 'vcf'
  return undefined
}

/**
 * Reads a contact file as drafts, in file order (blank rows skipped). Row-level problems travel
 * in each draft (`problem`); file-level ones throw.
 *
 * @throws ValidationError field `encoding` (not UTF-8), `header`, `delimiter`, `format`, `record`
 *   (a row over the size bound, an unclosed quote) or `rows` (more than `maxRows`).
 */
export async function* readContactDrafts(format: ContactFileFormat, bytes: AsyncIterable<Uint8Array>, options: ReadContactsOptions = {}): AsyncGenerator<ContactDraft> {
  const maxRows = options.maxRows ?? MAX_IMPORT_ROWS
  const text = decodeUtf8Chunks(bytes)
  let rows = 0
  const count = (line: number) => {
    if (++rows > maxRows) {
      throw new ValidationError(`rows: the file has more than ${maxRows} contacts (line ${line}); split it and import the parts one after another`, { field: 'rows' })
    }
  }
  if (format === 'csv') {
    const delimiter = options.delimiter ?? ','
    const records = csvRecords(text, { delimiter, ...(options.maxRecordChars === undefined ? {} : { maxRecordChars: options.maxRecordChars }) })
    let header: ReturnType<typeof parseCsvHeader> | undefined
    for await (const record of records) {
      if (header === undefined) {
        header = parseCsvHeader(record as CsvRecord, { delimiter, ...(options.ignoreUnknownColumns === true ? { ignoreUnknown: true } : {}) })
        continue
      }
      const draft = csvRowToDraft(header, record)
      if (draft === undefined) continue
      count(draft.line)
      yield draft
    }
    if (header === undefined) parseCsvHeader(undefined)
    return
  }
  const reader = new VCardReader(options.maxRecordChars === undefined ? {} : { maxCardChars: options.maxRecordChars })
  for await (const chunk of text) {
    for (const card of reader.push(chunk)) {
      count(card.line)
      yield vcardToDraft(card)
    }
  }
  for (const card of reader.end()) {
    count(card.line)
    yield vcardToDraft(card)
  }
}

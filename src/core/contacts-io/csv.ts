/**
 * A strict, streaming RFC 4180 CSV tokenizer and writer.
 *
 * Why not a library: import must name the line of every bad row, and csv-parse (the usual choice)
 * miscounts lines once CRLF line ends meet quoted newlines (a record starting on line 2 is reported
 * on line 4); it also works on Node Buffers, and this code runs in core, which is platform-free.
 * The subset here is small and fully tested (test/contacts-io/csv.test.ts, with fast-check).
 *
 * Rules: fields are separated by the delimiter (`,` unless told); a field may be quoted with `"`,
 * and then holds delimiters, newlines and `""` (one quote); records end at LF, CRLF or CR, and a
 * newline inside a quoted field is kept as LF. Blank lines are skipped. A quote inside an unquoted
 * field, or text after a closing quote, marks that record bad (it is reported, the rest is read).
 */
import { ValidationError } from '../errors.js'

/** One record, with the 1-based line it starts on. */
export interface CsvRecord {
  line: number
  fields: string[]
  /** Why the record is malformed, when it is (its fields are then a best effort). */
  problem?: string
}

export interface CsvTokenizerOptions {
  /** One character; default `,`. */
  delimiter?: string
  /** Largest record, in characters; a longer one is an error (default 1 MiB). */
  maxRecordChars?: number
}

const enum State {
  FieldStart,
  Unquoted,
  Quoted,
  QuoteInQuoted,
  AfterQuoted,
}

/** Default bound on one record (1 MiB of characters): a contact row is far smaller. */
export const MAX_RECORD_CHARS = 1024 * 1024

/**
 * Feeds text chunks, returns complete records as they end. Call {@link CsvTokenizer.end} after the
 * last chunk.
 *
 * @example
 * const t = new CsvTokenizer()
 * const records = [...t.push('name,email\r\nAda,ada@example.com\r\n'), ...t.end()]
 */
export class CsvTokenizer {
  readonly #delimiter: string
  readonly #max: number
  #state = State.FieldStart
  #field = ''
  #fields: string[] = []
  #line = 1
  #recordLine = 1
  #recordChars = 0
  #problem: string | undefined
  #afterCR = false
  #inRecord = false

  constructor(options: CsvTokenizerOptions = {}) {
    this.#delimiter = options.delimiter ?? ','
    if (this.#delimiter.length !== 1 || this.#delimiter === '"' || this.#delimiter === '\n' || this.#delimiter === '\r') {
      throw new ValidationError('delimiter: expected one character other than a quote or a newline', { field: 'delimiter' })
    }
    this.#max = options.maxRecordChars ?? MAX_RECORD_CHARS
  }

  /** The line the tokenizer has reached (1-based). */
  get line(): number {
    return this.#line
  }

  push(text: string): CsvRecord[] {
    const out: CsvRecord[] = []
    const d = this.#delimiter
    for (let i = 0; i < text.length; i++) {
      const c = text[i] as string
      if (this.#afterCR) {
        this.#afterCR = false
        // The LF of a CRLF: the line was already counted at the CR.
        if (c === '\n') continue
      }
      if (!this.#inRecord) {
        if (c === '\n' || c === '\r') {
          this.#newline(c)
          continue
        }
        this.#inRecord = true
        this.#recordLine = this.#line
        this.#recordChars = 0
      }
      if (++this.#recordChars > this.#max) {
        throw new ValidationError(
          `record: the record starting on line ${this.#recordLine} is longer than ${this.#max} characters; is this a CSV file of contacts?`,
          { field: 'record' },
        )
      }
      switch (this.#state) {
        case State.FieldStart:
          if (c === '"') this.#state = State.Quoted
          else if (c === d) this.#fields.push('')
          else if (c === '\n' || c === '\r') this.#endRecord(out, c)
          else {
            this.#field = c
            this.#state = State.Unquoted
          }
          break
        case State.Unquoted:
          if (c === d) this.#endField()
          else if (c === '\n' || c === '\r') this.#endRecord(out, c)
          else {
            if (c === '"') this.#problem ??= `a quote (") inside an unquoted field (field ${this.#fields.length + 1}); quote the whole field and double the quote`
            this.#field += c
          }
          break
        case State.Quoted:
          if (c === '"') this.#state = State.QuoteInQuoted
          else if (c === '\r' || c === '\n') {
            this.#field += '\n'
            this.#newline(c)
          } else this.#field += c
          break
        case State.QuoteInQuoted:
          if (c === '"') {
            this.#field += '"'
            this.#state = State.Quoted
          } else if (c === d) this.#endField()
          else if (c === '\n' || c === '\r') this.#endRecord(out, c)
          else {
            this.#problem ??= `text after the closing quote of field ${this.#fields.length + 1}`
            this.#field += c
            this.#state = State.AfterQuoted
          }
          break
        case State.AfterQuoted:
          if (c === d) this.#endField()
          else if (c === '\n' || c === '\r') this.#endRecord(out, c)
          else this.#field += c
          break
      }
    }
    return out
  }

  /** Ends the input. @throws ValidationError field `record` for a quoted field never closed. */
  end(): CsvRecord[] {
    if (!this.#inRecord) return []
    if (this.#state === State.Quoted) {
      throw new ValidationError(`record: the quoted field starting on line ${this.#recordLine} is never closed (a missing ")`, { field: 'record' })
    }
    const out: CsvRecord[] = []
    this.#endRecord(out, undefined)
    return out
  }

  #newline(c: string): void {
    this.#line++
    if (c === '\r') this.#afterCR = true
  }

  #endField(): void {
    this.#fields.push(this.#field)
    this.#field = ''
    this.#state = State.FieldStart
  }

  #endRecord(out: CsvRecord[], c: string | undefined): void {
    this.#endField()
    const record: CsvRecord = { line: this.#recordLine, fields: this.#fields }
    if (this.#problem !== undefined) record.problem = this.#problem
    out.push(record)
    this.#fields = []
    this.#problem = undefined
    this.#inRecord = false
    if (c !== undefined) this.#newline(c)
  }
}

/** Tokenizes a stream of text chunks. */
export async function* csvRecords(text: AsyncIterable<string>, options: CsvTokenizerOptions = {}): AsyncGenerator<CsvRecord> {
  const tokenizer = new CsvTokenizer(options)
  for await (const chunk of text) yield* tokenizer.push(chunk)
  yield* tokenizer.end()
}

const NEEDS_QUOTES = /[",\r\n;\t]|^\s|\s$/

/** One CSV line (with CRLF), quoting fields that need it. */
export function formatCsvRow(fields: readonly string[], delimiter = ','): string {
  return (
    fields
      .map((f) => (f !== '' && (NEEDS_QUOTES.test(f) || f.includes(delimiter)) ? `"${f.replaceAll('"', '""')}"` : f))
      .join(delimiter) + '\r\n'
  )
}

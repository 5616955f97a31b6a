/**
 * vCard 3.0 (RFC 2426) and 4.0 (RFC 6350) files of contacts: a strict, streaming line parser for
 * the subset a CRM needs, and the 4.0 writer that `orbit contact export --format vcf` uses.
 *
 * Why our own parser: the maintained vCard libraries on npm either read a whole file into one
 * string (a 1 GB file must stream) or carry a large dependency tree for calendars; the subset here
 * is small: content lines (`group.NAME;PARAM=a,b;P2="x;y":value`), folding (a line that starts
 * with a space or tab continues the previous one), and text escaping (`\n`, `\,`, `\;`, `\\`).
 *
 * Read: FN (else N) -> name; EMAIL -> emails; TEL -> phones (a `tel:` URI too); TITLE -> title;
 * ORG (first component) -> org; CATEGORIES -> tags; NOTE -> one note each; PHOTO -> the logo, as
 * inline base64 (3.0 `ENCODING=b`) or a `data:` URI (4.0). A photo given by URL is not fetched (a
 * warning). Other properties are ignored. vCard 2.1 is refused per card (it uses another encoding).
 */
import { ValidationError } from '../errors.js'
import type { Contact } from '../model/types.js'
import { emptyDraft, type ContactDraft } from './draft.js'

/** Largest card (or unfolded line), in characters: a 5 MiB photo is ~7 MiB of base64. */
export const MAX_CARD_CHARS = 8 * 1024 * 1024

/** One content line, unfolded. `name` and parameter names are upper case. */
export interface VCardProperty {
  name: string
  params: Record<string, string[]>
  /** The raw value, still escaped. */
  value: string
}

/** One card, with the line of its BEGIN:VCARD. */
export interface VCard {
  line: number
  properties: VCardProperty[]
  /** Why the card is malformed (it is then reported, not imported). */
  problem?: string
}

/**
 * Splits text chunks into cards. Memory is bounded by {@link MAX_CARD_CHARS}.
 * @throws ValidationError field `format` when the input does not start like a vCard file, or field
 *   `record` when one card or line is longer than the bound.
 */
export class VCardReader {
  readonly #max: number
  #partial = ''
  #line = 0
  #logical: string | undefined
  #logicalLine = 0
  #card: VCard | undefined
  #cardChars = 0
  #sawContent = false
  #stray: VCard | undefined
  #skipLF = false

  constructor(options: { maxCardChars?: number } = {}) {
    this.#max = options.maxCardChars ?? MAX_CARD_CHARS
  }

  push(text: string): VCard[] {
    const out: VCard[] = []
    let start = 0
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i)
      if (this.#skipLF) {
        this.#skipLF = false
        // The LF of a CRLF (possibly split across chunks): the line already ended at the CR.
        if (c === 10) {
          start = i + 1
          continue
        }
      }
      if (c !== 10 && c !== 13) continue
      this.#physical(this.#partial + text.slice(start, i), out)
      this.#partial = ''
      start = i + 1
      if (c === 13) this.#skipLF = true
    }
    if (start < text.length) {
      this.#partial += text.slice(start)
      if (this.#partial.length > this.#max) this.#tooLong(this.#line + 1)
    }
    return out
  }

  end(): VCard[] {
    const out: VCard[] = []
    if (this.#partial !== '') this.#physical(this.#partial, out)
    this.#partial = ''
    this.#flushLogical(out)
    if (this.#card !== undefined) {
      this.#card.problem ??= `the card starting on line ${this.#card.line} has no END:VCARD`
      out.push(this.#card)
      this.#card = undefined
    }
    if (this.#stray !== undefined) out.push(this.#stray)
    this.#stray = undefined
    if (!this.#sawContent) throw new ValidationError('format: the file is empty; expected vCards (BEGIN:VCARD ... END:VCARD)', { field: 'format' })
    return out
  }

  #tooLong(line: number): never {
    throw new ValidationError(`record: the vCard data around line ${line} is longer than ${this.#max} characters; is this a vCard file?`, { field: 'record' })
  }

  #physical(line: string, out: VCard[]): void {
    this.#line++
    if ((line.startsWith(' ') || line.startsWith('\t')) && this.#logical !== undefined) {
      this.#logical += line.slice(1)
      if (this.#logical.length > this.#max) this.#tooLong(this.#logicalLine)
      return
    }
    this.#flushLogical(out)
    if (line === '') return
    this.#logical = line
    this.#logicalLine = this.#line
  }

  #flushLogical(out: VCard[]): void {
    const text = this.#logical
    if (text === undefined) return
    this.#logical = undefined
    const line = this.#logicalLine
    if (text.trim() === '') return
    const prop = parseContentLine(text)
    if (!this.#sawContent) {
      this.#sawContent = true
      if (prop?.name !== 'BEGIN' || prop.value.trim().toUpperCase() !== 'VCARD') {
        throw new ValidationError(`format: not a vCard file: line ${line} should be BEGIN:VCARD`, { field: 'format' })
      }
    }
    const isBegin = prop?.name === 'BEGIN' && prop.value.trim().toUpperCase() === 'VCARD'
    const isEnd = prop?.name === 'END' && prop.value.trim().toUpperCase() === 'VCARD'
    if (this.#card === undefined) {
      if (isBegin) {
        if (this.#stray !== undefined) out.push(this.#stray)
        this.#stray = undefined
        this.#card = { line, properties: [] }
        this.#cardChars = 0
      } else {
        this.#stray ??= { line, properties: [], problem: `line ${line} is outside any card (BEGIN:VCARD ... END:VCARD)` }
      }
      return
    }
    if (isBegin) {
      this.#card.problem ??= `the card starting on line ${this.#card.line} has no END:VCARD before line ${line}`
      out.push(this.#card)
      this.#card = { line, properties: [] }
      this.#cardChars = 0
      return
    }
    if (isEnd) {
      out.push(this.#card)
      this.#card = undefined
      return
    }
    this.#cardChars += text.length
    if (this.#cardChars > this.#max) this.#tooLong(this.#card.line)
    if (prop === undefined) this.#card.problem ??= `line ${line} is not a vCard property (NAME:value)`
    else this.#card.properties.push(prop)
  }
}

/** Parses one unfolded content line; undefined when it is not `[group.]NAME[;params]:value`. */
export function parseContentLine(text: string): VCardProperty | undefined {
  const m = /^(?:[A-Za-z0-9-]+\.)?([A-Za-z0-9-]+)/.exec(text)
  if (m === null) return undefined
  const name = (m[1] as string).toUpperCase()
  let i = m[0].length
  const params: Record<string, string[]> = {}
  while (text[i] === ';') {
    i++
    const eq = /^([A-Za-z0-9-]+)(=?)/.exec(text.slice(i, i + 100))
    if (eq === null) return undefined
    const pname = (eq[1] as string).toUpperCase()
    i += eq[0].length
    const values: string[] = []
    if (eq[2] === '=') {
      for (;;) {
        let v = ''
        if (text[i] === '"') {
          const close = text.indexOf('"', i + 1)
          if (close < 0) return undefined
          v = text.slice(i + 1, close)
          i = close + 1
        } else {
          while (i < text.length && text[i] !== ',' && text[i] !== ';' && text[i] !== ':') v += text[i++]
        }
        values.push(v)
        if (text[i] !== ',') break
        i++
      }
      ;(params[pname] ??= []).push(...values)
    } else {
      // vCard 2.1/3.0 shorthand: `TEL;WORK:…` means TYPE=WORK.
      ;(params.TYPE ??= []).push(pname)
    }
  }
  if (text[i] !== ':') return undefined
  return { name, params, value: text.slice(i + 1) }
}

/** Undoes text escaping: `\n`/`\N` newline, `\,` `\;` `\:` `\\`. */
export function unescapeText(value: string): string {
  if (!value.includes('\\')) return value
  let out = ''
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string
    if (c !== '\\' || i + 1 >= value.length) {
      out += c
      continue
    }
    const n = value[++i] as string
    out += n === 'n' || n === 'N' ? '\n' : n
  }
  return out
}

/** Splits at unescaped `sep` (`;` for structured values, `,` for lists), then unescapes each part. */
export function splitEscaped(value: string, sep: ';' | ','): string[] {
  const parts: string[] = []
  let current = ''
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string
    if (c === '\\' && i + 1 < value.length) {
      current += c + value[++i]
    } else if (c === sep) {
      parts.push(current)
      current = ''
    } else current += c
  }
  parts.push(current)
  return parts.map(unescapeText)
}

/** Escapes text for a vCard value. */
export function escapeText(value: string): string {
  return value.replace(/[\\,;]/g, (c) => `\\${c}`).replace(/\r\n|\r|\n/g, '\\n')
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
const B64_INDEX = new Int16Array(128).fill(-1)
for (let i = 0; i < B64.length; i++) B64_INDEX[B64.charCodeAt(i)] = i
B64_INDEX['-'.charCodeAt(0)] = 62
B64_INDEX['_'.charCodeAt(0)] = 63

/** Base64 (standard or URL alphabet, padding and whitespace allowed); undefined if malformed. */
export function decodeBase64(text: string): Uint8Array | undefined {
  const clean = text.replace(/[\s=]+$/g, '').replace(/\s+/g, '')
  if (clean.length % 4 === 1) return undefined
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4))
  let bits = 0
  let value = 0
  let o = 0
  for (let i = 0; i < clean.length; i++) {
    const code = clean.charCodeAt(i)
    const digit = code < 128 ? (B64_INDEX[code] as number) : -1
    if (digit < 0) return undefined
    value = ((value << 6) | digit) & 0xffffff
    bits += 6
    if (bits >= 8) {
      bits -= 8
      out[o++] = (value >>> bits) & 0xff
    }
  }
  return out
}

/** Standard base64 with padding. */
export function encodeBase64(bytes: Uint8Array): string {
  let out = ''
  let i = 0
  for (; i + 2 < bytes.length; i += 3) {
    const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number)
    out += B64[n >>> 18]! + B64[(n >>> 12) & 63]! + B64[(n >>> 6) & 63]! + B64[n & 63]!
  }
  const rest = bytes.length - i
  if (rest === 1) {
    const n = (bytes[i] as number) << 16
    out += B64[n >>> 18]! + B64[(n >>> 12) & 63]! + '=='
  } else if (rest === 2) {
    const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8)
    out += B64[n >>> 18]! + B64[(n >>> 12) & 63]! + B64[(n >>> 6) & 63]! + '='
  }
  return out
}

const has = (params: Record<string, string[]>, name: string, value: string): boolean =>
  (params[name] ?? []).some((v) => v.toLowerCase().split(',').includes(value))

/** Maps one card to a draft (the photo is decoded here and checked as an image by the caller). */
export function vcardToDraft(card: VCard): ContactDraft {
  const draft = emptyDraft(card.line)
  if (card.problem !== undefined) {
    draft.problem = { line: card.line, field: 'row', message: `malformed vCard: ${card.problem}` }
    return draft
  }
  const version = card.properties.find((p) => p.name === 'VERSION')?.value.trim()
  if (version !== '3.0' && version !== '4.0') {
    draft.problem = {
      line: card.line,
      field: 'row',
      message: version === undefined ? 'malformed vCard: no VERSION (expected 3.0 or 4.0)' : `vCard ${version} is not supported: export the contacts as vCard 3.0 or 4.0`,
    }
    return draft
  }
  let n: string | undefined
  for (const p of card.properties) {
    switch (p.name) {
      case 'FN':
        draft.name ??= unescapeText(p.value)
        break
      case 'N': {
        // Family; Given; Additional; Prefix; Suffix
        const [family, given, additional, prefix, suffix] = splitEscaped(p.value, ';').map((s) => s.replaceAll(',', ' ').trim())
        n = [prefix, given, additional, family, suffix].filter((s) => s !== undefined && s !== '').join(' ')
        break
      }
      case 'EMAIL': {
        const v = unescapeText(p.value).trim()
        if (v !== '') draft.emails.push(v.replace(/^mailto:/i, ''))
        break
      }
      case 'TEL': {
        let v = unescapeText(p.value).trim()
        if (/^tel:/i.test(v)) v = decodeURIComponentSafe(v.slice(4).split(';')[0] ?? '')
        if (v !== '') draft.phones.push(v)
        break
      }
      case 'TITLE':
        draft.title ??= unescapeText(p.value)
        break
      case 'ORG':
        draft.org ??= (splitEscaped(p.value, ';')[0] ?? '').trim() || undefined
        break
      case 'CATEGORIES':
        for (const tag of splitEscaped(p.value, ',')) if (tag.trim() !== '') draft.tags.push(tag.trim())
        break
      case 'NOTE': {
        const v = unescapeText(p.value)
        if (v.trim() !== '') draft.notes.push(v)
        break
      }
      case 'PHOTO':
        if (draft.photo === undefined && draft.problem === undefined) readPhoto(p, draft)
        break
    }
  }
  if ((draft.name === undefined || draft.name.trim() === '') && n !== undefined && n !== '') draft.name = n
  return draft
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

function readPhoto(p: VCardProperty, draft: ContactDraft): void {
  const value = p.value.trim()
  const bad = (message: string) => {
    draft.problem = { line: draft.line, field: 'logo', message: `PHOTO: ${message}` }
  }
  if (has(p.params, 'ENCODING', 'b') || has(p.params, 'ENCODING', 'base64')) {
    const bytes = decodeBase64(value)
    if (bytes === undefined || bytes.length === 0) return bad('not valid base64')
    draft.photo = bytes
    return
  }
  if (/^data:/i.test(value)) {
    const comma = value.indexOf(',')
    const meta = comma < 0 ? '' : value.slice(5, comma).toLowerCase()
    if (comma < 0 || !meta.split(';').includes('base64')) return bad('a data: URI must be base64 (data:image/png;base64,...)')
    const bytes = decodeBase64(value.slice(comma + 1))
    if (bytes === undefined || bytes.length === 0) return bad('the data: URI is not valid base64')
    draft.photo = bytes
    return
  }
  if (value === '') return
  draft.warnings.push({
    line: draft.line,
    field: 'logo',
    message: `PHOTO is a link (${value.slice(0, 60)}${value.length > 60 ? '…' : ''}), not an inline image; Orbit does not fetch it, so the contact is imported without a logo`,
  })
}

/** Folds a content line at 75 UTF-8 bytes (RFC 6350 §3.2), never inside a character. */
export function foldLine(line: string): string {
  let out = ''
  let bytes = 0
  let limit = 75
  for (const ch of line) {
    const cp = ch.codePointAt(0) as number
    const size = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4
    if (bytes + size > limit) {
      out += '\r\n '
      bytes = 0
      limit = 74 // the leading space counts
    }
    out += ch
    bytes += size
  }
  return out + '\r\n'
}

/** The image type of a logo for the data: URI, from its magic bytes. */
function mediaType(bytes: Uint8Array): string {
  if (bytes[0] === 0x89 && bytes[1] === 0x50) return 'image/png'
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return 'image/jpeg'
  if (bytes[0] === 0x47 && bytes[1] === 0x49) return 'image/gif'
  if (bytes[0] === 0x52 && bytes[1] === 0x49) return 'image/webp'
  return 'application/octet-stream'
}

/** One contact as a vCard 4.0, folded, with CRLF line ends. */
export function contactToVCard(contact: Contact, orgName: string | undefined, logo: Uint8Array | undefined): string {
  const lines = ['BEGIN:VCARD', 'VERSION:4.0', 'PRODID:-//Orbit Sync//orbit contact export//EN', `FN:${escapeText(contact.name)}`]
  for (const e of contact.emails) lines.push(`EMAIL:${escapeText(e)}`)
  for (const t of contact.phones) lines.push(`TEL;VALUE=text:${escapeText(t)}`)
  if (contact.title !== undefined) lines.push(`TITLE:${escapeText(contact.title)}`)
  if (orgName !== undefined) lines.push(`ORG:${escapeText(orgName)}`)
  const tags = Object.keys(contact.tags)
  if (tags.length > 0) lines.push(`CATEGORIES:${tags.map(escapeText).join(',')}`)
  const notes = Object.values(contact.notes)
    .filter((n) => n.deletedAt === undefined)
    .sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : 1))
  for (const n of notes) lines.push(`NOTE:${escapeText(n.body)}`)
  if (logo !== undefined) lines.push(`PHOTO:data:${mediaType(logo)};base64,${encodeBase64(logo)}`)
  lines.push('END:VCARD')
  return lines.map(foldLine).join('')
}

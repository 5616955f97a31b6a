/**
 * Fuzzing the contact file readers (docs/fuzzing.md): CSV and vCard files, bytes in (invalid
 * UTF-8 included), split into chunks at random places (a multi-byte character or a CRLF cut in
 * two), through `readContactDrafts` and `checkDraft` — the path `orbit import` takes. Each file
 * ends in drafts (rows with their own problems) or one `ValidationError`; nothing else.
 */
import { describe, expect, it } from 'vitest'
import { checkDraft, DuplicateFinder, isProblem, readContactDrafts, type ContactDraft, type ContactFileFormat } from '../../src/core/contacts-io/index.js'
import type { Prng } from '../helpers/prng.js'
import { FUZZ_TEST_TIMEOUT, fuzz, mutateBytes, mutateText } from './harness.js'

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)

const CSV_SEEDS = [
  'name,email,phone,title,org,tags,notes\r\nAda Lovelace,ada@example.org,+44 20 7946 0000,Countess,Analytical Engines,"math; poetry","first note"\r\n"Grace ""Amazing"" Hopper","grace@navy.mil; g@example.com",,Rear Admiral,US Navy,,\r\n',
  'Name;E-mail;Mobile\nJosé Ñúñez;jose@example.es;+34 600 000 000\n;;\n"multi\nline";x@y.z;1\n',
  '\ufeffFull Name,Email Address,Company\n李小龙,bruce@example.cn,Golden Harvest\n🙂 Emoji,e@x.io,\n',
]

const VCARD_SEEDS = [
  'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada Lovelace\r\nN:Lovelace;Ada;;;\r\nEMAIL;TYPE=INTERNET:ada@example.org\r\nTEL;TYPE=CELL:+44 20 7946 0000\r\nTITLE:Countess\r\nORG:Analytical Engines;R&D\r\nCATEGORIES:math,poetry\r\nNOTE:line one\\nline two\\, with comma\r\nEND:VCARD\r\n',
  'BEGIN:VCARD\nVERSION:4.0\nFN:Grace Hopper\nEMAIL:grace@navy.mil\nPHOTO:data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==\nEND:VCARD\nBEGIN:VCARD\nVERSION:2.1\nFN;ENCODING=QUOTED-PRINTABLE;CHARSET=UTF-8:Jos=C3=A9 =\n N=C3=BA=C3=B1ez\nTEL;CELL:600000000\nPHOTO;ENCODING=BASE64;TYPE=PNG:iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAA\n DUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==\n\nEND:VCARD\n',
  'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Folded\r\n  name that goes on\r\nNOTE:a very long note that is folded over more than one line because vCard lines are limi\r\n ted to 75 octets\r\nX-CUSTOM;PARAM="quoted;value":x\r\nEND:VCARD\r\n',
]

interface ContactFile {
  format: ContactFileFormat
  chunks: Uint8Array[]
  delimiter?: string
}

function contactFile(prng: Prng): ContactFile {
  const format: ContactFileFormat = prng.chance(0.5) ? 'csv' : 'vcf'
  const texts = format === 'csv' ? CSV_SEEDS : VCARD_SEEDS
  const seeds = texts.map(enc)
  // Half are byte mutations (invalid UTF-8 included), half text mutations (valid UTF-8 that gets
  // past the decoder to the tokenizers); now and then two files run together.
  let bytes = prng.chance(0.5) ? mutateBytes(prng, seeds) : enc(mutateText(prng, texts))
  if (prng.chance(0.1)) bytes = Uint8Array.from([...bytes, ...mutateBytes(prng, seeds)])
  const chunks: Uint8Array[] = []
  for (let at = 0; at < bytes.length; ) {
    const n = prng.chance(0.3) ? prng.int(1, 3) : prng.int(1, Math.max(1, bytes.length))
    chunks.push(bytes.subarray(at, at + n))
    at += n
  }
  const file: ContactFile = { format, chunks }
  if (format === 'csv' && prng.chance(0.1)) file.delimiter = prng.pick([';', '\t', '|', ',', '"', '\n', 'ab', ''])
  return file
}

async function* iterate(chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const c of chunks) yield c
}

describe('fuzz: contact files (CSV, vCard)', () => {
  it(
    'mutated files in random chunks: drafts whose rows check to a value or a problem, or one ValidationError',
    async () => {
      const r = await fuzz<ContactFile>({
        name: 'contacts-io',
        seeds: [],
        generate: contactFile,
        inputs: 4000,
        run: async (file) => {
          const drafts: ContactDraft[] = []
          const options = { maxRecordChars: 64 * 1024, ...(file.delimiter === undefined ? {} : { delimiter: file.delimiter }), ignoreUnknownColumns: true }
          for await (const d of readContactDrafts(file.format, iterate(file.chunks), options)) drafts.push(d)
          const dups = new DuplicateFinder()
          let ok = 0
          for (const d of drafts) {
            const checked = checkDraft(d)
            if (isProblem(checked)) continue
            ok++
            dups.check(checked.line, checked.input.emails ?? [])
          }
          return { drafts: drafts.length, ok }
        },
        check: (_f, value) => {
          const v = value as { drafts: number; ok: number }
          expect(v.ok).toBeLessThanOrEqual(v.drafts)
        },
      })
      if (r.inputs > 0) expect(r.accepted).toBeGreaterThan(0)
    },
    FUZZ_TEST_TIMEOUT,
  )
})

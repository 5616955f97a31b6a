/**
 * `orbit contact import` / `export` as a user runs them: the real executable in child processes, on
 * real files and real data dirs, with and without `orbit serve`.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { closeSync, openSync, readFileSync, rmSync, writeFileSync, writeSync, ftruncateSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ORBIT_BIN, REPO_ROOT, TINY_PNG, jsonError, orbit, orbitJson, requireBuiltCli, storeDigest, tempDir } from '../cli/helpers.js'
import { ServeProcess } from '../daemon/helpers.js'
import { CSV_COLUMNS, parseCsvHeader } from '../../src/core/contacts-io/csv-contacts.js'

interface Listed {
  id: string
  name: string
  emails: string[]
  phones: string[]
  title?: string
  orgId?: string
  tags: Record<string, true>
  notes: Record<string, { body: string }>
  logo?: string
}
interface Report {
  rows: number
  imported: number
  batches: number
  orgsCreated: string[]
  errors: { line: number; field: string; message: string }[]
  duplicates: { line: number; email: string; of: { line: number } | { contactId: string } }[]
  warnings: { line: number; field: string; message: string }[]
}

let root: string
let n = 0
beforeAll(() => {
  requireBuiltCli()
  root = tempDir('orbit-import-')
})
afterAll(() => rmSync(root, { recursive: true, force: true }))

function freshDevice(): string {
  const dir = join(root, `data-${n++}`)
  orbitJson(dir, ['init', '--name', `Importer ${n}`])
  return dir
}

function file(name: string, content: string | Buffer): string {
  const path = join(root, `${n++}-${name}`)
  writeFileSync(path, content)
  return path
}

const total = (dir: string): number => orbitJson<{ total: number }>(dir, ['contact', 'list', '--limit', '1']).total
const list = (dir: string): Listed[] => orbitJson<{ contacts: Listed[] }>(dir, ['contact', 'list', '--all']).contacts
const orgNames = (dir: string): Map<string, string> => new Map(orbitJson<{ orgs: { id: string; name: string }[] }>(dir, ['org', 'list']).orgs.map((o) => [o.id, o.name]))

/** What a user compares after a round trip: everything but ids and times, organizations by name. */
function comparable(dir: string) {
  const orgs = orgNames(dir)
  return list(dir)
    .map((c) => ({
      name: c.name,
      emails: c.emails,
      phones: c.phones,
      title: c.title,
      org: c.orgId === undefined ? undefined : orgs.get(c.orgId),
      tags: Object.keys(c.tags).sort(),
      notes: Object.values(c.notes).map((x) => x.body).sort(),
      logo: c.logo,
    }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
}

function rowCounts(dir: string): Record<string, number> {
  const db = new Database(join(dir, 'orbit.sqlite'), { readonly: true, fileMustExist: true })
  try {
    const tables = db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`).all() as { name: string }[]
    return Object.fromEntries(tables.map(({ name }) => [name, (db.prepare(`SELECT count(*) AS n FROM "${name}"`).get() as { n: number }).n]))
  } finally {
    db.close()
  }
}

const GOOD_CSV =
  'Name,E-mail,Phone,Job Title,Company,Tags,Notes,Notes\r\n' +
  'Ada Lovelace,ada@example.com;ada@analytical.org,+44 20 7946 0000,Countess,Analytical Engines,vip;math,"First program, 1843","Met at ""the"" Royal Society\r\nline two"\r\n' +
  'Grace Hopper,grace@navy.mil,+1 555 0100,Rear Admiral,US Navy,navy,,\r\n' +
  'Alan Turing,alan@example.com,,,analytical engines,,,\r\n' +
  'Élodie Ünïcødé 😀,elodie@example.fr,,,,,,\r\n'

describe('orbit contact import --help', () => {
  it('lists every accepted header name, and each of them is accepted', () => {
    const raw = orbit(['contact', 'import', '--help']).stdout
    const help = raw.toLowerCase().replace(/[_.-]/g, ' ')
    for (const [field, names] of Object.entries(CSV_COLUMNS)) {
      for (const name of names) {
        expect(help, `${field}: ${name}`).toContain(name)
        const cells = field === 'name' || field === 'first' || field === 'last' ? [name] : ['name', name]
        expect(() => parseCsvHeader({ line: 1, fields: cells })).not.toThrow()
      }
    }
    expect(raw).toMatch(/Examples:\n {2}\$ orbit contact import contacts\.csv --dry-run/)
  })
})

describe('orbit contact import: good files', () => {
  it('imports a CSV: every field, multi-valued cells, notes, organizations created once (case-insensitive)', () => {
    const dir = freshDevice()
    const report = orbitJson<Report>(dir, ['contact', 'import', file('good.csv', GOOD_CSV)])
    expect(report).toMatchObject({ rows: 4, imported: 4, batches: 1, orgsCreated: ['Analytical Engines', 'US Navy'], errors: [], duplicates: [] })
    expect(comparable(dir)).toEqual([
      { name: 'Ada Lovelace', emails: ['ada@example.com', 'ada@analytical.org'], phones: ['+44 20 7946 0000'], title: 'Countess', org: 'Analytical Engines', tags: ['math', 'vip'], notes: ['First program, 1843', 'Met at "the" Royal Society\nline two'], logo: undefined },
      { name: 'Alan Turing', emails: ['alan@example.com'], phones: [], title: undefined, org: 'Analytical Engines', tags: [], notes: [], logo: undefined },
      { name: 'Grace Hopper', emails: ['grace@navy.mil'], phones: ['+1 555 0100'], title: 'Rear Admiral', org: 'US Navy', tags: ['navy'], notes: [], logo: undefined },
      { name: 'Élodie Ünïcødé 😀', emails: ['elodie@example.fr'], phones: [], title: undefined, org: undefined, tags: [], notes: [], logo: undefined },
    ])
    const human = orbit(['--data', dir, 'contact', 'import', file('again.csv', 'name\r\nZed\r\n')])
    expect(human.code).toBe(0)
    expect(human.stdout).toMatch(/^Imported 1 of 1 rows from .*again\.csv in 1 batch/)
  })

  it('imports vCard 3.0 and 4.0 files with a PNG photo as the logo', () => {
    const dir = freshDevice()
    const b64 = TINY_PNG.toString('base64')
    const v3 = `BEGIN:VCARD\r\nVERSION:3.0\r\nN:Hopper;Grace;;;\r\nFN:Grace Hopper\r\nEMAIL;TYPE=INTERNET:grace@navy.mil\r\nTEL;TYPE=WORK:+1 555 0100\r\nTITLE:Rear Admiral\r\nORG:US Navy\r\nNOTE:Wrote A-0\\, then COBOL\r\nPHOTO;ENCODING=b;TYPE=PNG:${b64.slice(0, 40)}\r\n ${b64.slice(40)}\r\nEND:VCARD\r\n`
    const v4 = `BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Ada Lovelace\r\nEMAIL:ada@example.com\r\nTEL;VALUE=uri:tel:+44-20-7946-0000\r\nCATEGORIES:vip,math\r\nPHOTO:data:image/png;base64,${b64}\r\nEND:VCARD\r\n`
    expect(orbitJson<Report>(dir, ['contact', 'import', file('v3.vcf', v3)])).toMatchObject({ imported: 1, errors: [] })
    expect(orbitJson<Report>(dir, ['contact', 'import', file('v4.vcard', v4)])).toMatchObject({ imported: 1, errors: [] })
    const hash = createHash('sha256').update(TINY_PNG).digest('hex')
    expect(comparable(dir)).toEqual([
      { name: 'Ada Lovelace', emails: ['ada@example.com'], phones: ['+44-20-7946-0000'], title: undefined, org: undefined, tags: ['math', 'vip'], notes: [], logo: hash },
      { name: 'Grace Hopper', emails: ['grace@navy.mil'], phones: ['+1 555 0100'], title: 'Rear Admiral', org: 'US Navy', tags: [], notes: ['Wrote A-0, then COBOL'], logo: hash },
    ])
    // The logo is stored as a blob: exporting as vCard carries it back out.
    const exported = orbit(['--data', dir, 'contact', 'export', '--format', 'vcf'])
    expect(exported.stdout).toContain(`PHOTO:data:image/png;base64,`)
  })
  it("checks a photo against the data dir's own image limit (`orbit blobs limit`), dry run and import alike", () => {
    const dir = freshDevice()
    orbitJson(dir, ['blobs', 'limit', '1KB'])
    // A valid PNG header followed by padding: 2 KB, over the 1 KB limit set above, under the 10 MB default.
    const big = Buffer.concat([TINY_PNG, Buffer.alloc(2048)]).toString('base64')
    const vcf = file('big-photo.vcf', `BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Big Photo\r\nPHOTO:data:image/png;base64,${big}\r\nEND:VCARD\r\n`)
    for (const args of [['--dry-run'], []]) {
      const report = orbitJson<Report>(dir, ['contact', 'import', vcf, ...args])
      expect(report.imported).toBe(0)
      expect(report.errors).toEqual([expect.objectContaining({ field: 'logo', message: expect.stringContaining('limit is 1024 bytes') })])
    }
    expect(total(dir)).toBe(0)
  })
})

describe('orbit contact import: bad rows', () => {
  it('reports every bad row with its line and field (a table, and in --json), and imports the good ones', () => {
    const dir = freshDevice()
    const csv = file(
      'bad-rows.csv',
      'name,email,phone\n' + // line 1
        'Ada,ada@example.com,\n' + // 2 ok
        'Bob,bob-at-example,\n' + // 3 bad email
        ',nameless@example.com,\n' + // 4 no name
        'Carol,carol@example.com,call me\n' + // 5 bad phone
        'Dan,dan@example.com\n' + // 6 wrong field count
        '"Eve ""E""",eve@example.com,"+1 555\n0100"\n' + // 7-8 bad phone (newline)
        'Fay,fay@example.com,+1 555 0199\n', // 9 ok
    )
    const report = orbitJson<Report>(dir, ['contact', 'import', csv])
    expect(report.imported).toBe(2)
    expect(report.errors.map((e) => [e.line, e.field])).toEqual([
      [3, 'emails[0]'],
      [4, 'name'],
      [5, 'phones[0]'],
      [6, 'row'],
      [7, 'phones[0]'],
    ])
    expect(list(dir).map((c) => c.name)).toEqual(['Ada', 'Fay'])
    const human = orbit(['--data', freshDevice(), 'contact', 'import', csv])
    expect(human.code).toBe(0)
    expect(human.stdout).toMatch(/5 bad rows skipped:\nLINE +FIELD +PROBLEM\n3 +emails\[0\] +emails\[0\]: expected a valid email address/)
    expect(human.stdout).toMatch(/\n6 +row +the row has 2 fields; the header \(line 1\) has 3/)
  })

  it('reports a vCard photo that is not an image as a per-row error, and a photo link as a warning', () => {
    const dir = freshDevice()
    const notImage = Buffer.from('this is not an image').toString('base64')
    const vcf = file(
      'photos.vcf',
      `BEGIN:VCARD\nVERSION:3.0\nFN:Text Photo\nPHOTO;ENCODING=b;TYPE=PNG:${notImage}\nEND:VCARD\n` +
        `BEGIN:VCARD\nVERSION:4.0\nFN:Linked Photo\nPHOTO:https://example.com/p.png\nEND:VCARD\n` +
        'BEGIN:VCARD\nVERSION:2.1\nFN:Old Card\nEND:VCARD\n',
    )
    const report = orbitJson<Report>(dir, ['contact', 'import', vcf])
    expect(report.errors).toEqual([
      { line: 1, field: 'logo', message: expect.stringMatching(/PHOTO: not a PNG, JPEG, GIF or WebP image/) },
      { line: 11, field: 'row', message: expect.stringMatching(/vCard 2.1 is not supported/) },
    ])
    expect(report.warnings).toEqual([{ line: 6, field: 'logo', message: expect.stringMatching(/link/) }])
    expect(list(dir).map((c) => [c.name, c.logo])).toEqual([['Linked Photo', undefined]])
  })

  it('reports duplicates by email (within the file and against existing contacts) and skips them unless --allow-duplicates', () => {
    const dir = freshDevice()
    const existing = orbitJson<{ id: string }>(dir, ['contact', 'add', '--name', 'Ada', '--email', 'ada@example.com']).id
    const csv = file('dups.csv', 'name,email\nAda Again,ADA@example.com\nBob,bob@example.com\nBobby,x@example.com;Bob@Example.com\nNo Mail,\n')
    const dry = orbitJson<Report>(dir, ['contact', 'import', csv, '--dry-run'])
    expect(dry.duplicates).toEqual([
      { line: 2, email: 'ADA@example.com', of: { contactId: existing } },
      { line: 4, email: 'Bob@Example.com', of: { line: 3 } },
    ])
    expect(dry.imported).toBe(2)
    const report = orbitJson<Report>(dir, ['contact', 'import', csv])
    expect(report).toMatchObject({ imported: 2, duplicates: dry.duplicates })
    expect(list(dir).map((c) => c.name)).toEqual(['Ada', 'Bob', 'No Mail'])
    const human = orbit(['--data', freshDevice(), 'contact', 'import', csv])
    expect(human.stdout).toMatch(/1 duplicate by email, skipped \(--allow-duplicates imports them\):\nLINE +EMAIL +SAME AS\n4 +Bob@Example\.com +line 3/)
    const other = freshDevice()
    expect(orbitJson<Report>(other, ['contact', 'import', csv, '--allow-duplicates'])).toMatchObject({ imported: 4 })
    expect(list(other)).toHaveLength(4)
  })
})

describe('orbit contact import: bad files change nothing', () => {
  let dir: string
  let digest: string
  beforeAll(async () => {
    dir = freshDevice()
    orbitJson(dir, ['contact', 'add', '--name', 'Existing', '--email', 'existing@example.com'])
    digest = await storeDigest(dir)
  })

  const cases: [string, () => string, string[], string, RegExp][] = [
    ['a file that is not UTF-8 (Latin-1)', () => file('latin1.csv', Buffer.from('name,email\nAda,ada@example.com\nJos\xe9,jose@example.com\n', 'latin1')), [], 'encoding', /line 3/],
    ['a UTF-16 file', () => file('utf16.csv', Buffer.from('\ufeffname,email\n', 'utf16le')), [], 'encoding', /UTF-16/],
    ['a CSV without a header row', () => file('noheader.csv', 'Ada Lovelace,ada@example.com\n'), [], 'header', /must be a header row/],
    ['a CSV with an unknown column', () => file('unknown.csv', 'name,email,birthday\nAda,ada@example.com,1815-12-10\n'), [], 'header', /"birthday" \(column 3\)/],
    ['a CSV with no name column', () => file('noname.csv', 'email,phone\nada@example.com,\n'), [], 'header', /no name column/],
    ['an empty CSV', () => file('empty.csv', ''), [], 'header', /empty/],
    ['a semicolon-separated CSV', () => file('semi.csv', 'name;email\nAda;ada@example.com\n'), [], 'delimiter', /--delimiter ';'/],
    ['a tab-separated CSV', () => file('tabs.csv', 'name\temail\nAda\tada@example.com\n'), [], 'delimiter', /--delimiter tab/],
    ['a quote never closed after valid rows', () => file('open.csv', 'name,email\nAda,ada@example.com\nBob,bob@example.com\n"Carol,carol@example.com\n'), ['--batch-size', '1'], 'record', /line 4/],
    ['a file that is not a vCard', () => file('notvcard.vcf', 'name,email\n'), [], 'format', /BEGIN:VCARD/],
    ['a file of unknown type', () => file('contacts.txt', 'name\nAda\n'), [], 'format', /--format/],
    ['a CSV row over 1 MiB', () => file('longrow.csv', `name,notes\nAda,${'x'.repeat(1024 * 1024 + 10)}\n`), [], 'record', /line 2 is longer than/],
  ]
  it.each(cases)('%s: a clear error, exit 1, the store unchanged', async (_label, make, extra, field, message) => {
    const path = make()
    const r = orbit(['--data', dir, '--json', 'contact', 'import', path, ...extra])
    expect(r.code).toBe(1)
    expect(jsonError(r)).toMatchObject({ name: 'ValidationError', code: 'VALIDATION', field, message: expect.stringMatching(message) })
    const human = orbit(['--data', dir, 'contact', 'import', path, ...extra])
    expect(human.stderr).toMatch(/^error: /)
    expect(await storeDigest(dir)).toBe(digest)
  })

  it('a semicolon-separated CSV imports with --delimiter ";"', () => {
    const other = freshDevice()
    expect(orbitJson<Report>(other, ['contact', 'import', file('semi.csv', 'name;email\nAda;ada@example.com\n'), '--delimiter', ';'])).toMatchObject({ imported: 1 })
  })

  it('a 1 GB file is streamed (peak RSS far below its size) and refused with a clear error', async () => {
    const path = join(root, 'huge.csv')
    const fd = openSync(path, 'w')
    writeSync(fd, 'name,email\nAda,')
    ftruncateSync(fd, 1024 * 1024 * 1024) // sparse: 1 GiB, the rest NUL bytes, no newline
    closeSync(fd)
    const rssFile = join(root, 'huge.rss')
    const reporter = pathToFileURL(join(REPO_ROOT, 'dist/bench/children/report-rss.js')).href
    const r = orbit(['--data', dir, '--json', 'contact', 'import', path], { nodeArgs: ['--import', reporter], env: { ORBIT_BENCH_RSS_FILE: rssFile } })
    rmSync(path, { force: true })
    expect(r.code).toBe(1)
    expect(jsonError(r)).toMatchObject({ field: 'record', message: expect.stringMatching(/line 2 is longer than 1048576 characters/) })
    expect(Number(readFileSync(rssFile, 'utf8')) / 1024).toBeLessThan(400)
    expect(await storeDigest(dir)).toBe(digest)
  })
})

describe('orbit contact import --dry-run', () => {
  it('validates everything and leaves the store byte-identical (listing, row counts, digest)', async () => {
    const dir = freshDevice()
    orbitJson(dir, ['contact', 'add', '--name', 'Zed', '--email', 'zed@example.com'])
    const before = { listing: orbit(['--data', dir, '--json', 'contact', 'list', '--all']).stdout, counts: rowCounts(dir), digest: await storeDigest(dir), bytes: readFileSync(join(dir, 'orbit.sqlite')) }
    const report = orbitJson<Report>(dir, ['contact', 'import', file('dry.csv', GOOD_CSV + 'Bad,not-an-email,,,,,,\r\nAda 2,ada@example.com,,,,,,\r\nZed 2,ZED@example.com,,,,,,\r\n'), '--dry-run'])
    expect(report).toMatchObject({ rows: 7, imported: 4, orgsCreated: ['Analytical Engines', 'US Navy'] })
    expect(report.errors.map((e) => [e.line, e.field])).toEqual([[7, 'emails[0]']])
    expect(report.duplicates.map((d) => [d.line, d.of])).toEqual([[8, { line: 2 }], [9, { contactId: expect.stringMatching(/^ct_/) }]])
    expect(orbit(['--data', dir, '--json', 'contact', 'list', '--all']).stdout).toBe(before.listing)
    expect(rowCounts(dir)).toEqual(before.counts)
    expect(await storeDigest(dir)).toBe(before.digest)
    expect(readFileSync(join(dir, 'orbit.sqlite')).equals(before.bytes)).toBe(true)
    const human = orbit(['--data', dir, 'contact', 'import', file('dry2.csv', GOOD_CSV), '--dry-run'])
    expect(human.stdout).toMatch(/^Dry run: 4 of 4 rows in .* would be imported .*nothing was written\./)
  })
})

describe('orbit contact export', () => {
  it('round trip: export CSV -> import into a fresh device -> the same contacts; then vCard, with the logo', () => {
    const a = freshDevice()
    orbitJson(a, ['contact', 'import', file('src.csv', GOOD_CSV)])
    const logo = file('logo.png', TINY_PNG)
    orbitJson(a, ['contact', 'add', '--name', 'Logo; Person, "Q"', '--email', 'logo@example.com', '--tag', 'semi;colon', '--tag', 'back\\slash', '--logo', logo])
    const csv = join(root, `export-${n++}.csv`)
    expect(orbitJson<{ contacts: number }>(a, ['contact', 'export', '--format', 'csv', '--out', csv])).toMatchObject({ format: 'csv', contacts: 5 })
    const b = freshDevice()
    expect(orbitJson<Report>(b, ['contact', 'import', csv])).toMatchObject({ imported: 5, errors: [] })
    const withoutLogo = comparable(a).map((c) => ({ ...c, logo: undefined }))
    expect(comparable(b)).toEqual(withoutLogo)

    const vcf = join(root, `export-${n++}.vcf`)
    orbitJson(a, ['contact', 'export', '--format', 'vcf', '--out', vcf])
    const c = freshDevice()
    expect(orbitJson<Report>(c, ['contact', 'import', vcf])).toMatchObject({ imported: 5, errors: [] })
    expect(comparable(c)).toEqual(comparable(a))
    // To stdout as well, byte for byte the same as --out.
    expect(orbit(['--data', a, 'contact', 'export', '--format', 'vcf']).stdout).toBe(readFileSync(vcf, 'utf8'))
  })

  it('refuses --json without --out, and a missing --format (usage errors)', () => {
    const dir = freshDevice()
    expect(orbit(['--data', dir, '--json', 'contact', 'export', '--format', 'csv']).code).toBe(2)
    expect(orbit(['--data', dir, 'contact', 'export']).code).toBe(2)
  })
})

describe('orbit contact import with orbit serve running', () => {
  it('goes through the daemon (the only writer) and the contacts are listed', async () => {
    const dir = freshDevice()
    const serve = new ServeProcess(dir, ['--listen', '127.0.0.1:0', '--no-mdns'])
    try {
      await serve.ready
      const report = orbitJson<Report>(dir, ['contact', 'import', file('via-daemon.csv', GOOD_CSV)])
      expect(report).toMatchObject({ imported: 4, orgsCreated: ['Analytical Engines', 'US Navy'] })
      expect(comparable(dir).map((c) => [c.name, c.org, c.notes.length])).toEqual([
        ['Ada Lovelace', 'Analytical Engines', 2],
        ['Alan Turing', 'Analytical Engines', 0],
        ['Grace Hopper', 'US Navy', 0],
        ['Élodie Ünïcødé 😀', undefined, 0],
      ])
      // Duplicates are found against the daemon's contacts too.
      const again = orbitJson<Report>(dir, ['contact', 'import', file('via-daemon-2.csv', GOOD_CSV)])
      expect(again).toMatchObject({ imported: 0 })
      expect(again.duplicates).toHaveLength(4)
    } finally {
      await serve.kill()
    }
  })
})

describe('orbit contact import: a crash leaves whole batches', () => {
  it('SIGKILL during an import: the store holds a whole number of batches, in the CRDT and in the listing', async () => {
    const dir = freshDevice()
    const rows = Array.from({ length: 3000 }, (_, i) => `Person ${i},p${i}@example.com\n`).join('')
    const csv = file('crash.csv', 'name,email\n' + rows)
    const child = spawn(process.execPath, [ORBIT_BIN, '--data', dir, 'contact', 'import', csv, '--batch-size', '250'], { env: { ...process.env, ORBIT_LOG_LEVEL: 'silent' }, stdio: 'ignore' })
    const exited = new Promise<void>((done) => child.once('exit', () => done()))
    // Kill it once the first batch is committed (seen by a reader), wherever it then is.
    const db = new Database(join(dir, 'orbit.sqlite'), { readonly: true, fileMustExist: true })
    const count = db.prepare(`SELECT count(*) AS n FROM entity_index WHERE kind = 'contact'`)
    let seen = 0
    while (child.exitCode === null && seen < 250) {
      seen = (count.get() as { n: number }).n
      await new Promise((r) => setTimeout(r, 5))
    }
    child.kill('SIGKILL')
    await exited
    db.close()
    const listed = total(dir)
    expect(listed % 250).toBe(0)
    expect(listed).toBeGreaterThanOrEqual(250)
    // Re-project every shard from the stored CRDT: the same whole batches.
    const rw = new Database(join(dir, 'orbit.sqlite'))
    rw.exec(`UPDATE doc_gen SET gen = gen + 1`)
    rw.close()
    expect(total(dir)).toBe(listed)
    // And the import can simply be run again: what is in is skipped as duplicates.
    const report = orbitJson<Report>(dir, ['contact', 'import', csv, '--batch-size', '1000'])
    expect(report.imported + report.duplicates.length).toBe(3000)
    expect(total(dir)).toBe(3000)
  })
})

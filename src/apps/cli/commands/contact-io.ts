/**
 * `orbit contact import FILE.csv|FILE.vcf` and `orbit contact export --format csv|vcf`: the file
 * and stream side. Parsing, mapping and validation are platform-free (src/core/contacts-io/).
 *
 * Import reads the file twice, streaming both times (memory stays bounded whatever its size):
 * first to refuse a file-level problem (not UTF-8, a bad header, a wrong delimiter, an oversized
 * record, too many rows) before anything is written; then to validate each row, skip duplicates
 * and commit the valid rows in batches. Without a daemon, each batch (its organizations, contacts,
 * notes, the flush to SQLite and the listing projection) is ONE SQLite transaction, so a crash
 * leaves all or none of a batch. `--dry-run` runs the second pass without writing anything.
 */
import { createReadStream, statSync } from 'node:fs'
import { rename, rm, open as openFile } from 'node:fs/promises'
import { basename } from 'node:path'
import { performance } from 'node:perf_hooks'
import { Option, type Command } from 'commander'
import type { CliContext } from '../context.js'
import { table } from '../format.js'
import { integer, oneOf } from '../options.js'
import { ValidationError } from '../../../core/errors.js'
import type { BlobHash } from '../../../core/ids.js'
import type { Contact, Organization } from '../../../core/model/types.js'
import type { ContactInput } from '../../../core/model/validate.js'
import type {
  CheckedRow,
  ContactFileFormat,
  Duplicate,
  ReadContactsOptions,
  RowProblem,
} from '../../../core/contacts-io/index.js'
import type { OrbitDevice } from '../../node/device.js'
import type { WorkspaceApi } from '../../node/api.js'

/** Rows per committed batch: one Automerge change per shard, one flush, one projection. */
export const DEFAULT_BATCH_SIZE = 1000
/** Rows shown in the human report's tables (`--json` has them all). */
const SHOWN = 50
const FORMATS = ['csv', 'vcf'] as const

/** What `orbit contact import` reports (also its `--json` output). */
export interface ImportReport {
  file: string
  format: ContactFileFormat
  dryRun: boolean
  /** Data rows (CSV records after the header, vCards) read. */
  rows: number
  /** Contacts imported (with `dryRun`: that would be imported). */
  imported: number
  batches: number
  /** Organizations created (by name) for rows that named a new one. */
  orgsCreated: string[]
  /** Bad rows: line, model field, message. Not imported. */
  errors: RowProblem[]
  /** Rows whose email the file or the workspace already has; skipped unless `--allow-duplicates`. */
  duplicates: Duplicate[]
  duplicatesImported: boolean
  /** Imported, but something was dropped (a photo given by URL). */
  warnings: RowProblem[]
  durationMs: number
}

/** Registers `contact import` and `contact export` on the `contact` command. */
export function registerContactIo(contact: Command, ctx: CliContext): void {
  registerImport(contact, ctx)
  registerExport(contact, ctx)
}

function registerImport(contact: Command, ctx: CliContext): void {
  contact
    .command('import')
    .description('import contacts from a CSV or vCard (3.0/4.0) file; reports every bad row and duplicate')
    .argument('<file>', 'a .csv (header row required) or .vcf file, UTF-8')
    .addOption(new Option('--format <format>', 'csv or vcf (default: from the file name)').argParser(oneOf(FORMATS)))
    .option('--dry-run', 'validate everything and report; write nothing')
    .option('--allow-duplicates', 'also import rows whose email another row or contact already has')
    .option('--delimiter <char>', 'CSV field delimiter: , ; | or tab (default: tab for .tsv, else ,)', parseDelimiter)
    .option('--ignore-unknown-columns', 'CSV: skip columns with names Orbit does not know instead of refusing the file')
    .option('--batch-size <n>', 'rows per committed batch (one transaction each)', integer(1), DEFAULT_BATCH_SIZE)
    .addHelpText(
      'after',
      `
CSV: a header row names the columns (case-insensitive; spaces, _, - and . are alike):
  name     name, full name, fullname, display name, contact name, contact
           — or first name/firstname/given name/givenname/first, middle name/additional name/
           middle, last name/lastname/family name/familyname/surname/last (joined)
  emails   email, emails, e-mail, email address, e-mail address, mail, email addresses
  phones   phone, phones, phone number, phone numbers, telephone, tel, mobile, mobile phone,
           cell, cell phone, work phone, home phone
  title    title, job title, jobtitle, position, role
  org      org, organization, organisation, company, company name, organization name, org id
           (an organization name, created if new, or an org_… id)
  tags     tags, tag, labels, label, categories, category, groups, group
  notes    notes, note, comments, comment (one note per column)
Emails, phones, tags and notes may repeat or be numbered (email 2, email2). Several emails, phones
or tags in one cell are separated by ';' (\\; is a literal ';', \\\\ a backslash).
vCard 3.0/4.0: FN (else N), EMAIL, TEL, TITLE, ORG, CATEGORIES, NOTE, and PHOTO as the logo
(inline base64 or a data: URI; PNG, JPEG, GIF or WebP, ≤ 5 MiB; a photo link is not fetched).

Bad rows are reported (line, field, problem) and skipped; the valid rows are imported. A file that
is not UTF-8, has no or an unknown header, uses another delimiter, or has a row over 1 MiB is
refused before anything is written. Works with or without \`orbit serve\` running.

Examples:
  $ orbit contact import contacts.csv --dry-run
  $ orbit contact import contacts.csv
  $ orbit contact import export.csv --delimiter ';' --ignore-unknown-columns
  $ orbit contact import phone.vcf --json | jq '.errors'`,
    )
    .action(
      ctx.action<[string]>(async (file, opts, cmd) => {
        const { dataDir, json } = ctx.globals(cmd)
        const report = await runImport(dataDir, ctx.io.cwd, file, {
          format: opts.format as ContactFileFormat | undefined,
          dryRun: opts.dryRun === true,
          allowDuplicates: opts.allowDuplicates === true,
          delimiter: (opts.delimiter as string | undefined) ?? (file.toLowerCase().endsWith('.tsv') ? '\t' : ','),
          ignoreUnknownColumns: opts.ignoreUnknownColumns === true,
          batchSize: opts.batchSize as number,
          progress: !json && process.stderr.isTTY === true,
        })
        ctx.emit(cmd, report, () => renderReport(report))
      }),
    )
}

function parseDelimiter(value: string): string {
  if (value === 'tab' || value === '\\t' || value === '\t') return '\t'
  if (value.length !== 1 || value === '"' || value === '\n' || value === '\r') {
    throw new ValidationError('delimiter: expected one character, or "tab"', { field: 'delimiter' })
  }
  return value
}

export interface ImportOptions {
  format?: ContactFileFormat | undefined
  dryRun: boolean
  allowDuplicates: boolean
  delimiter: string
  ignoreUnknownColumns: boolean
  batchSize: number
  /** Show progress bars on stderr (a TTY only). */
  progress: boolean
}

/**
 * Imports `file` into the device in `dataDir` (through `orbit serve` when it runs).
 * @throws ValidationError for a file-level problem (field `file`, `format`, `encoding`, `header`,
 *   `delimiter`, `record`, `rows`), StoreError for the store; nothing is written in either case.
 */
export async function runImport(dataDir: string, cwd: string, file: string, options: ImportOptions): Promise<ImportReport> {
  const t0 = performance.now()
  const { resolve } = await import('node:path')
  const { formatOfFileName } = await import('../../../core/contacts-io/index.js')
  const path = resolve(cwd, file)
  const format = options.format ?? formatOfFileName(path)
  if (format === undefined) {
    throw new ValidationError(`format: cannot tell the format of ${basename(path)} from its name; pass --format csv or --format vcf`, { field: 'format' })
  }
  const size = fileSize(path)
  const { existsSync } = await import('node:fs')
  const { storePath } = await import('../../node/data-dir.js')
  if (!existsSync(storePath(dataDir))) {
    const { notInitialised } = await import('../../node/device-config.js')
    throw notInitialised(dataDir)
  }
  const readOptions: ReadContactsOptions = { delimiter: options.delimiter, ignoreUnknownColumns: options.ignoreUnknownColumns }
  const { validateImage: validate } = await import('../../../core/blobs/image.js')
  const { readBlobLimit } = await import('../../node/blobs.js')
  // A photo is checked against the data dir's own image limit (`orbit blobs limit`), as `--logo` is.
  let maxBytes = 0
  const validateImage = (bytes: Uint8Array, o: { field: string }): unknown => validate(bytes, { ...o, maxBytes })
  const bars = options.progress ? await progressBars() : undefined
  const report: ImportReport = {
    file: path,
    format,
    dryRun: options.dryRun,
    rows: 0,
    imported: 0,
    batches: 0,
    orgsCreated: [],
    errors: [],
    duplicates: [],
    duplicatesImported: options.allowDuplicates,
    warnings: [],
    durationMs: 0,
  }
  try {
    if (options.dryRun) {
      const known = await readKnown(dataDir)
      maxBytes = known.maxBlobBytes
      await classify(path, format, readOptions, options, report, known, validateImage, bars, { bytes: size }, async (rows) => {
        for (const row of rows) if (row.newOrg !== undefined && !report.orgsCreated.includes(row.newOrg)) report.orgsCreated.push(row.newOrg)
      })
    } else {
      // Pass 1: refuse a file-level problem before anything is written.
      const totalRows = await scanFile(path, format, readOptions, bars, size)
      let failed: { shardUrls: string[] } | undefined
      // While `orbit serve` runs on the data dir it is the only writer: the batches go through it.
      const { findDaemon, remoteApi } = await import('../../control/client.js')
      const endpoint = findDaemon(dataDir)
      try {
        if (endpoint !== undefined) {
          const api = remoteApi(endpoint)
          const target: ImportTarget = { workspace: api.workspace, putBlob: (bytes) => api.putBlob(bytes), flush: async () => {} }
          const known = await readKnown(dataDir)
          maxBytes = await api.blobLimit()
          const writer = new BatchWriter(target, known, report, () => undefined)
          await classify(path, format, readOptions, options, report, known, validateImage, bars, { rows: totalRows }, (rows) => writer.commit(rows))
        } else {
          const { withDevice } = await import('../../node/device.js')
          await withDevice(dataDir, async (device) => {
            const known = await knownFromDevice(device)
            maxBytes = readBlobLimit(device.config)
            const target: ImportTarget = { workspace: device.workspace, putBlob: (bytes) => device.blobs.put(bytes) as Promise<BlobHash>, flush: () => device.flush(), db: device.db }
            const writer = new BatchWriter(target, known, report, () => (failed = { shardUrls: [...device.workspace.shardUrls] }))
            await classify(path, format, readOptions, options, report, known, validateImage, bars, { rows: totalRows }, (rows) => writer.commit(rows))
          })
        }
      } catch (err) {
        if (failed !== undefined) await markProjectionStale(dataDir, failed.shardUrls)
        throw err
      }
    }
  } finally {
    bars?.stop()
  }
  report.durationMs = Math.round(performance.now() - t0)
  return report
}

function fileSize(path: string): number {
  let st
  try {
    st = statSync(path)
  } catch (err) {
    throw new ValidationError(`file: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { field: 'file', cause: err })
  }
  if (!st.isFile()) throw new ValidationError(`file: ${path} is not a file`, { field: 'file' })
  return st.size
}

/** The file's bytes, streamed, counting them for the progress bar. */
async function* bytesOf(path: string, onBytes?: (n: number) => void): AsyncGenerator<Uint8Array> {
  const stream = createReadStream(path, { highWaterMark: 256 * 1024 })
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      onBytes?.(chunk.length)
      yield chunk
    }
  } finally {
    stream.destroy()
  }
}

/** Reads the whole file once; returns its number of rows. */
async function scanFile(path: string, format: ContactFileFormat, readOptions: ReadContactsOptions, bars: ProgressBars | undefined, size: number): Promise<number> {
  let read = 0
  let rows = 0
  bars?.start('checking ', size, 'bytes')
  const { readContactDrafts } = await import('../../../core/contacts-io/index.js')
  for await (const _draft of readContactDrafts(format, bytesOf(path, (n) => bars?.update((read += n), { rows })), readOptions)) {
    // Only file-level problems matter here; rows are validated in the second pass.
    rows++
  }
  bars?.update(size, { rows })
  return rows
}

/** A checked row, its organization resolved (an existing id, or a name to create). */
interface ReadyRow extends CheckedRow {
  orgId?: string
  newOrg?: string
}

/** What the workspace already holds: live contacts' emails and organizations. */
interface Known {
  emails: Map<string, string>
  orgIdsByName: Map<string, string>
  orgIds: Set<string>
}

async function classify(
  path: string,
  format: ContactFileFormat,
  readOptions: ReadContactsOptions,
  options: ImportOptions,
  report: ImportReport,
  known: Known,
  validateImage: (bytes: Uint8Array, options: { field: string }) => unknown,
  bars: ProgressBars | undefined,
  /** What the bar counts: rows (when a first pass counted them) or bytes read. */
  total: { rows: number } | { bytes: number },
  commit: (rows: ReadyRow[]) => Promise<void>,
): Promise<void> {
  const { checkDraft, DuplicateFinder, isProblem, readContactDrafts } = await import('../../../core/contacts-io/index.js')
  const finder = new DuplicateFinder(known.emails)
  const newOrgs = new Set<string>()
  let batch: ReadyRow[] = []
  let read = 0
  const byRows = 'rows' in total
  const tick = () => bars?.update(byRows ? report.rows : read, { rows: report.rows })
  bars?.start(options.dryRun ? 'checking ' : 'importing', byRows ? total.rows : total.bytes, byRows ? 'rows' : 'bytes')
  for await (const draft of readContactDrafts(format, bytesOf(path, (n) => (read += n)), readOptions)) {
    report.rows++
    report.warnings.push(...draft.warnings)
    const checked = checkDraft(draft)
    if (isProblem(checked)) {
      report.errors.push(checked)
      continue
    }
    const row: ReadyRow = checked
    if (row.photo !== undefined) {
      try {
        validateImage(row.photo, { field: 'logo' })
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err
        report.errors.push({ line: row.line, field: 'logo', message: err.message.replace(/^logo: /, 'logo: PHOTO: ') })
        continue
      }
    }
    if (row.org !== undefined) {
      if (/^org_[a-z2-7]{16}$/.test(row.org)) {
        if (!known.orgIds.has(row.org)) {
          report.errors.push({ line: row.line, field: 'org', message: `org: no organization with id ${row.org} (see \`orbit org list\`)` })
          continue
        }
        row.orgId = row.org
      } else {
        const id = known.orgIdsByName.get(row.org.toLowerCase())
        if (id !== undefined) row.orgId = id
        else {
          row.newOrg = [...newOrgs].find((n) => n.toLowerCase() === row.org!.toLowerCase()) ?? row.org
          newOrgs.add(row.newOrg)
        }
      }
    }
    const dup = finder.check(row.line, row.input.emails ?? [])
    if (dup !== undefined) {
      report.duplicates.push(dup)
      if (!options.allowDuplicates) continue
    }
    batch.push(row)
    if (batch.length >= options.batchSize) {
      await commit(batch)
      report.imported += batch.length
      report.batches++
      batch = []
      tick()
    }
    if (report.rows % 500 === 0) tick()
  }
  if (batch.length > 0) {
    await commit(batch)
    report.imported += batch.length
    report.batches++
  }
  tick()
}

/** A device with its own store open here (not the stand-in that forwards to `orbit serve`). */
/**
 * Where an import writes: the device open here (with its SQLite handle, so a batch is one
 * transaction) or the running daemon's API (which commits each request itself).
 */
interface ImportTarget {
  workspace: Pick<WorkspaceApi, 'addOrg' | 'addContacts' | 'addContact' | 'addNote'>
  putBlob(bytes: Uint8Array): Promise<BlobHash>
  flush(): Promise<void>
  db?: OrbitDevice['db']
}

const PAGE = 5000

/** Live contacts' emails and the organizations, from the listing projection (no Automerge). */
async function knownFromIndexes(
  contacts: { count(o: object): number; page(o: { offset: number; limit: number }): Contact[] },
  orgs: Organization[],
): Promise<Known> {
  const emails = new Map<string, string>()
  const total = contacts.count({})
  for (let offset = 0; offset < total; offset += PAGE) {
    for (const c of contacts.page({ offset, limit: PAGE })) for (const e of c.emails) emails.set(e.toLowerCase(), c.id)
  }
  const orgIdsByName = new Map<string, string>()
  const orgIds = new Set<string>()
  for (const o of orgs) {
    if (o.deletedAt !== undefined) continue
    orgIds.add(o.id)
    if (!orgIdsByName.has(o.name.toLowerCase())) orgIdsByName.set(o.name.toLowerCase(), o.id)
  }
  return { emails, orgIdsByName, orgIds }
}

async function knownFromDevice(device: OrbitDevice): Promise<Known> {
  return knownFromIndexes(device.index, await device.workspace.listOrgs())
}

/** Reads what the store holds without writing (the daemon, or a dry run, keeps it as it is). */
async function readKnown(dataDir: string): Promise<Known & { maxBlobBytes: number }> {
  const { openOrbitDatabase, ConfigStore, ContactIndex, OrgIndex } = await import('../../../adapters/storage-sqlite/index.js')
  const { storePath } = await import('../../node/data-dir.js')
  const { readBlobLimit } = await import('../../node/blobs.js')
  const db = openOrbitDatabase(storePath(dataDir), { create: false, readonly: true })
  try {
    const orgs = new OrgIndex(db)
    return { ...(await knownFromIndexes(new ContactIndex(db), orgs.page({ limit: Number.MAX_SAFE_INTEGER, includeDeleted: false }))), maxBlobBytes: readBlobLimit(new ConfigStore(db)) }
  } finally {
    db.close()
  }
}

/**
 * After a failed batch, marks every shard's listing stale, so the next open re-projects from what
 * storage holds: the failed batch is still in memory when the device closes, and its projection
 * must not be taken for the truth.
 */
async function markProjectionStale(dataDir: string, shardUrls: string[]): Promise<void> {
  try {
    const { openOrbitDatabase, ContactIndex } = await import('../../../adapters/storage-sqlite/index.js')
    const { storePath } = await import('../../node/data-dir.js')
    const { docIdOf } = await import('../../node/projection.js')
    const db = openOrbitDatabase(storePath(dataDir), { create: false })
    try {
      const index = new ContactIndex(db)
      db.transaction(() => shardUrls.forEach((url, n) => index.markClean(n, docIdOf(url as never), -1)))
    } finally {
      db.close()
    }
  } catch {
    // Best effort: the error that got us here is the one to report.
  }
}

/** Commits batches of valid rows through a device (local, in one transaction each, or the daemon). */
class BatchWriter {
  #rowByRow = false

  constructor(
    private readonly device: ImportTarget,
    private readonly known: Known,
    private readonly report: ImportReport,
    private readonly onRollback: () => void,
  ) {}

  async commit(rows: ReadyRow[]): Promise<void> {
    // Logos first: content-addressed files, harmless if the batch then fails.
    const logos = new Map<ReadyRow, BlobHash>()
    for (const row of rows) if (row.photo !== undefined) logos.set(row, await this.device.putBlob(row.photo))
    await this.#inTransaction(async () => {
      const ws = this.device.workspace
      const created: string[] = []
      for (const row of rows) {
        if (row.newOrg === undefined) continue
        const key = row.newOrg.toLowerCase()
        let id = this.known.orgIdsByName.get(key)
        if (id === undefined) {
          id = (await ws.addOrg({ name: row.newOrg })).id
          this.known.orgIdsByName.set(key, id)
          this.known.orgIds.add(id)
          created.push(row.newOrg)
        }
        row.orgId = id
      }
      const inputs: ContactInput[] = rows.map((row) => {
        const input: ContactInput = { ...row.input }
        if (row.orgId !== undefined) input.orgId = row.orgId as ContactInput['orgId']
        const logo = logos.get(row)
        if (logo !== undefined) input.logo = logo
        return input
      })
      const added = await this.#addContacts(inputs)
      for (let i = 0; i < rows.length; i++) {
        for (const body of rows[i]!.notes) await ws.addNote(added[i]!.id, { body })
      }
      await this.device.flush()
      this.report.orgsCreated.push(...created)
    })
  }

  async #addContacts(inputs: ContactInput[]): Promise<Contact[]> {
    const ws = this.device.workspace
    if (!this.#rowByRow) {
      try {
        if (this.device.db !== undefined) return await ws.addContacts(inputs)
        // Through the daemon, each request is one line of at most 8 MiB: send the batch in parts.
        const out: Contact[] = []
        for (const part of bySize(inputs, REMOTE_REQUEST_BYTES)) out.push(...(await ws.addContacts(part)))
        return out
      } catch (err) {
        // A daemon whose control protocol predates `addContacts` refuses the method by name.
        if (this.device.db !== undefined || !(err instanceof ValidationError) || !/method/.test(`${err.field ?? ''} ${err.message}`)) throw err
        this.#rowByRow = true
      }
    }
    const out: Contact[] = []
    for (const input of inputs) out.push(await ws.addContact(input))
    return out
  }

  /**
   * Runs `fn` (changes, flush, projection) inside one SQLite transaction when the store is open
   * here: automerge-repo's saves and the projection's writes nest in it as savepoints, so the
   * batch is durable all at once or not at all. Through the daemon, the daemon commits.
   */
  async #inTransaction(fn: () => Promise<void>): Promise<void> {
    if (this.device.db === undefined) return fn()
    const sqlite = this.device.db.sqlite
    sqlite.exec('BEGIN IMMEDIATE')
    try {
      await fn()
      sqlite.exec('COMMIT')
    } catch (err) {
      if (sqlite.inTransaction) sqlite.exec('ROLLBACK')
      this.onRollback()
      throw err
    }
  }
}

/** Largest JSON of contact inputs sent to the daemon in one request (its line limit is 8 MiB). */
const REMOTE_REQUEST_BYTES = 2 * 1024 * 1024

/** Splits `items` into runs whose JSON stays under `limit` bytes (at least one item each). */
function bySize<T>(items: T[], limit: number): T[][] {
  const parts: T[][] = []
  let part: T[] = []
  let bytes = 0
  for (const item of items) {
    const size = JSON.stringify(item).length * 3
    if (part.length > 0 && bytes + size > limit) {
      parts.push(part)
      part = []
      bytes = 0
    }
    part.push(item)
    bytes += size
  }
  if (part.length > 0) parts.push(part)
  return parts
}

function renderReport(r: ImportReport): string {
  const n = (x: number) => x.toLocaleString('en-US')
  const name = basename(r.file)
  const lines: string[] = []
  const secs = (r.durationMs / 1000).toFixed(1)
  if (r.dryRun) {
    lines.push(`Dry run: ${n(r.imported)} of ${n(r.rows)} rows in ${name} would be imported (${secs} s); nothing was written.`)
    if (r.orgsCreated.length > 0) lines.push(`Would create ${r.orgsCreated.length} organization${r.orgsCreated.length === 1 ? '' : 's'}: ${r.orgsCreated.join(', ')}.`)
  } else {
    lines.push(`Imported ${n(r.imported)} of ${n(r.rows)} rows from ${name} in ${r.batches} batch${r.batches === 1 ? '' : 'es'} (${secs} s).`)
    if (r.orgsCreated.length > 0) lines.push(`Created ${r.orgsCreated.length} organization${r.orgsCreated.length === 1 ? '' : 's'}: ${r.orgsCreated.join(', ')}.`)
  }
  const more = (total: number) => (total > SHOWN ? [`… and ${n(total - SHOWN)} more (--json lists them all)`] : [])
  if (r.errors.length > 0) {
    lines.push('', `${n(r.errors.length)} bad row${r.errors.length === 1 ? '' : 's'} ${r.dryRun ? 'would be ' : ''}skipped:`)
    lines.push(table(['LINE', 'FIELD', 'PROBLEM'], r.errors.slice(0, SHOWN).map((e) => [String(e.line), e.field, e.message]), 120))
    lines.push(...more(r.errors.length))
  }
  if (r.duplicates.length > 0) {
    const verb = r.duplicatesImported ? 'imported anyway (--allow-duplicates)' : `${r.dryRun ? 'would be ' : ''}skipped (--allow-duplicates imports them)`
    lines.push('', `${n(r.duplicates.length)} duplicate${r.duplicates.length === 1 ? '' : 's'} by email, ${verb}:`)
    lines.push(
      table(
        ['LINE', 'EMAIL', 'SAME AS'],
        r.duplicates.slice(0, SHOWN).map((d) => [String(d.line), d.email, 'line' in d.of ? `line ${d.of.line}` : `contact ${d.of.contactId}`]),
        80,
      ),
    )
    lines.push(...more(r.duplicates.length))
  }
  if (r.warnings.length > 0) {
    lines.push('', `${n(r.warnings.length)} warning${r.warnings.length === 1 ? '' : 's'}:`)
    lines.push(table(['LINE', 'FIELD', 'NOTE'], r.warnings.slice(0, SHOWN).map((w) => [String(w.line), w.field, w.message]), 120))
    lines.push(...more(r.warnings.length))
  }
  return lines.join('\n')
}

interface ProgressBars {
  start(label: string, total: number, unit: string): void
  update(value: number, payload?: { rows: number }): void
  stop(): void
}

/** cli-progress bars on stderr (only when it is a terminal and not `--json`). */
async function progressBars(): Promise<ProgressBars> {
  const { default: progress } = await import('cli-progress')
  let bar: InstanceType<typeof progress.SingleBar> | undefined
  return {
    start(label, total) {
      bar?.stop()
      bar = new progress.SingleBar(
        { format: `${label} |{bar}| {percentage}% | {rows} rows | {duration_formatted}`, stream: process.stderr, hideCursor: true, clearOnComplete: false },
        progress.Presets.shades_classic,
      )
      bar.start(Math.max(1, total), 0, { rows: 0 })
    },
    update(value, payload) {
      bar?.update(value, payload)
    },
    stop() {
      bar?.stop()
      bar = undefined
    },
  }
}

// ---------------------------------------------------------------- export

function registerExport(contact: Command, ctx: CliContext): void {
  contact
    .command('export')
    .description('export the live contacts as CSV or vCard 4.0 (what `contact import` reads)')
    .addOption(new Option('--format <format>', 'csv or vcf').argParser(oneOf(FORMATS)).makeOptionMandatory())
    .option('--out <file>', 'write to this file (default: stdout)')
    .addHelpText(
      'after',
      `
CSV columns: name, emails, phones, title, org (its name), tags, then one notes column per note
(multi-valued cells separated by ';'). vCard: FN, EMAIL, TEL, TITLE, ORG, CATEGORIES, NOTE and the
logo as PHOTO (a data: URI). Read from the listing index: no Automerge load.

Examples:
  $ orbit contact export --format csv --out contacts.csv
  $ orbit contact export --format vcf > contacts.vcf
  $ orbit contact export --format csv --out backup.csv --json`,
    )
    .action(
      ctx.action(async (opts, cmd) => {
        const { dataDir, json } = ctx.globals(cmd)
        const format = opts.format as ContactFileFormat
        const out = typeof opts.out === 'string' ? (await import('node:path')).resolve(ctx.io.cwd, opts.out) : undefined
        if (json && out === undefined) {
          cmd.error('error: --json prints a summary and needs --out FILE for the data', { exitCode: 2, code: 'commander.jsonNeedsOut' })
        }
        const result = await runExport(dataDir, format, out, (text) => ctx.io.stdout(text))
        if (out !== undefined) ctx.emit(cmd, result, () => `Exported ${result.contacts} contacts to ${out}.`)
      }),
    )
}

/** What `contact export --out` reports. */
export interface ExportReport {
  format: ContactFileFormat
  out: string | undefined
  contacts: number
}

/** Writes every live contact, from the listing projection, to `out` (atomically) or `write`. */
export async function runExport(dataDir: string, format: ContactFileFormat, out: string | undefined, write: (text: string) => void): Promise<ExportReport> {
  const { openReadView } = await import('../../node/read-view.js')
  // Refreshes a stale projection first (as `contact list` does), then reads it directly.
  const view = await openReadView(dataDir)
  const orgs = new Map(view.listOrgs().map((o) => [o.id, o.name]))
  view.close()
  const { openOrbitDatabase, ContactIndex } = await import('../../../adapters/storage-sqlite/index.js')
  const { storePath, blobsPath } = await import('../../node/data-dir.js')
  const { FsBlobStore } = await import('../../../adapters/blobstore-fs/index.js')
  const io = await import('../../../core/contacts-io/index.js')
  const db = openOrbitDatabase(storePath(dataDir), { create: false, readonly: true })
  const tmp = out === undefined ? undefined : `${out}.${process.pid}.tmp`
  const handle = tmp === undefined ? undefined : await openFile(tmp, 'w', 0o600)
  let count = 0
  try {
    const index = new ContactIndex(db)
    const total = index.count({})
    const pages = function* (): Generator<Contact[]> {
      for (let offset = 0; offset < total; offset += PAGE) yield index.page({ offset, limit: PAGE })
    }
    let buffer = ''
    const emit = async (text: string) => {
      buffer += text
      if (buffer.length < 1 << 20) return
      await flushOut()
    }
    const flushOut = async () => {
      if (buffer === '') return
      if (handle !== undefined) await handle.write(buffer)
      else write(buffer)
      buffer = ''
    }
    if (format === 'csv') {
      let notes = 0
      for (const page of pages()) for (const c of page) notes = Math.max(notes, Object.values(c.notes).filter((x) => x.deletedAt === undefined).length)
      await emit(io.csvExportHeader(notes))
      for (const page of pages()) {
        for (const c of page) {
          await emit(io.csvExportRow(c, c.orgId === undefined ? undefined : orgs.get(c.orgId), notes))
          count++
        }
      }
    } else {
      const blobs = new FsBlobStore(blobsPath(dataDir))
      for (const page of pages()) {
        for (const c of page) {
          const logo = c.logo === undefined ? undefined : await blobs.get(c.logo)
          await emit(io.contactToVCard(c, c.orgId === undefined ? undefined : orgs.get(c.orgId), logo))
          count++
        }
      }
    }
    await flushOut()
    if (handle !== undefined) {
      await handle.sync()
      await handle.close()
      await rename(tmp!, out!)
    }
  } catch (err) {
    await handle?.close().catch(() => undefined)
    if (tmp !== undefined) await rm(tmp, { force: true })
    throw err
  } finally {
    db.close()
  }
  return { format, out, contacts: count }
}

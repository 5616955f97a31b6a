import { Option, type Command } from 'commander'
import type { Contact, Organization } from '../../../core/model/types.js'
import type { CommandModule } from '../command-module.js'
import type { ActionOptions, CliContext } from '../context.js'
import { fields, when } from '../format.js'
import { collect, integer, oneOf } from '../options.js'
import { checkLogoLimit, readLogo, type LogoFile } from './logo.js'
import { registerContactIo } from './contact-io.js'
import { listContactsPage, type ContactListOptions } from './contact-page.js'
import { blobStateText } from './blobs.js'
import type { BlobItem } from '../../node/api.js'
import type { BlobHash } from '../../../core/ids.js'

const NOTE_KINDS = ['note', 'call', 'email', 'meeting'] as const

export const contactCommands: CommandModule = {
  name: 'contact',
  register(program, ctx) {
    const contact = program.command('contact').description('contacts: add, list, show, edit, remove, restore, note')
    contact.addHelpText('after', '\nRun `orbit contact <command> --help` for a command\'s options.')
    registerAdd(contact, ctx)
    registerList(contact, ctx)
    registerShow(contact, ctx)
    registerEdit(contact, ctx)
    registerRemoveRestore(contact, ctx)
    registerNote(contact, ctx)
    registerContactIo(contact, ctx)
  },
}

function registerAdd(contact: Command, ctx: CliContext): void {
  contact
    .command('add')
    .description('add a contact; prints its id')
    .requiredOption('--name <name>', 'full name')
    .option('--email <address>', 'an email address (repeat for more)', collect)
    .option('--phone <number>', 'a phone number (repeat for more)', collect)
    .option('--title <title>', 'job title')
    .option('--org <id>', 'organization id (see `orbit org list`)')
    .option('--tag <tag>', 'a tag (repeat for more)', collect)
    .option('--logo <file>', 'a PNG, JPEG, GIF or WebP image (at most the image limit, 10 MB by default: `orbit blobs limit`)')
    .addHelpText(
      'after',
      `
Examples:
  $ orbit contact add --name "Ada Lovelace" --email ada@example.com
  $ orbit contact add --name "Grace Hopper" --email grace@navy.mil --phone "+1 555 0100" \\
      --title "Rear Admiral" --org org_abcdefghijklmnop --tag vip --tag navy --logo ./grace.png
  $ id=$(orbit contact add --name "Alan Turing" --json | jq -r .id)`,
    )
    .action(
      ctx.action(async (opts, cmd) => {
        const { dataDir } = ctx.globals(cmd)
        const { parseContactInput } = await import('../../../core/model/validate.js')
        const logo = await optionalLogo(opts.logo)
        const input = parseContactInput(
          compact({
            name: opts.name,
            emails: opts.email,
            phones: opts.phone,
            title: opts.title,
            orgId: opts.org,
            tags: opts.tag,
            logo: logo?.hash,
          }),
        )
        const { withApi } = await import('../api.js')
        const created = await withApi(dataDir, async (api) => {
          if (input.orgId !== undefined) await api.requireOrg(input.orgId)
          if (logo !== undefined) {
            checkLogoLimit(logo, await api.blobLimit())
            await api.putBlob(logo.bytes)
          }
          return api.workspace.addContact(input)
        })
        ctx.emit(cmd, created, () => created.id)
      }),
    )
}

function registerList(contact: Command, ctx: CliContext): void {
  contact
    .command('list')
    .description('list contacts, sorted by name')
    .option('--limit <n>', 'how many to show', integer(1), 50)
    .option('--offset <n>', 'how many to skip', integer(0), 0)
    .option('--all', 'show all (no limit)')
    .option('--query <text>', 'only contacts whose name or an email contains the text (case-insensitive)')
    .option('--include-removed', 'also show removed contacts')
    .addHelpText(
      'after',
      `
Examples:
  $ orbit contact list
  $ orbit contact list --limit 20 --offset 40
  $ orbit contact list --query acme --json`,
    )
    .action(
      ctx.action(async (opts, cmd) => {
        const { dataDir } = ctx.globals(cmd)
        const { openReadView } = await import('../../node/read-view.js')
        const view = await openReadView(dataDir)
        try {
          const options: ContactListOptions = {
            limit: opts.limit as number,
            offset: opts.offset as number,
            all: opts.all === true,
            includeRemoved: opts.includeRemoved === true,
            ...(typeof opts.query === 'string' ? { query: opts.query } : {}),
          }
          ctx.io.stdout(listContactsPage(view, options, ctx.globals(cmd).json))
        } finally {
          view.close()
        }
      }),
    )
}

function registerShow(contact: Command, ctx: CliContext): void {
  contact
    .command('show')
    .description('show one contact with its notes')
    .argument('<id>', 'contact id (ct_...)')
    .addHelpText(
      'after',
      `
The logo line says where the image is: \`present (PNG 640×480, 52.0 KB)\`, \`pending — fetching
from Phone (40%)\` (a running \`orbit serve\` is receiving it) or \`missing (why)\`; --json adds
"logoBlob": { state, size, received, from, fromName, image, reason }. See \`orbit blobs\`.

Examples:
  $ orbit contact show ct_abcdefghijklmnop
  $ orbit contact show ct_abcdefghijklmnop --json`,
    )
    .action(
      ctx.action<[string]>(async (id, _opts, cmd) => {
        const { dataDir } = ctx.globals(cmd)
        const { parseContactId } = await import('../../../core/ids.js')
        const { UnknownIdError } = await import('../../../core/errors.js')
        const contactId = parseContactId(id, 'id')
        const { openReadView } = await import('../../node/read-view.js')
        const view = await openReadView(dataDir)
        try {
          const found = view.getContact(contactId)
          if (found === undefined) throw new UnknownIdError('contact', contactId)
          const org = found.orgId === undefined ? undefined : view.listOrgs().find((o) => o.id === found.orgId)
          // The logo's state: here (type, dimensions, size), being fetched (from whom, how far) or missing (why).
          const logoItem = found.logo === undefined ? undefined : await logoState(dataDir, found.logo)
          ctx.emit(cmd, logoItem === undefined ? found : { ...found, logoBlob: logoItem }, () => renderContact(found, org, logoItem))
        } finally {
          view.close()
        }
      }),
    )
}

/**
 * What this device holds of a logo: a running `orbit serve` knows what it is fetching; without
 * one, the blob store is read directly (present or missing).
 */
async function logoState(dataDir: string, hash: string): Promise<BlobItem | undefined> {
  const { findDaemon, remoteApi } = await import('../../control/client.js')
  const endpoint = findDaemon(dataDir)
  if (endpoint !== undefined) return (await remoteApi(endpoint).blobs({ hash })).items.find((i) => i.hash === hash)
  const { FsBlobStore } = await import('../../../adapters/blobstore-fs/index.js')
  const { blobsPath } = await import('../../node/data-dir.js')
  const { defaultInspector } = await import('../../node/blobs.js')
  const store = new FsBlobStore(blobsPath(dataDir))
  const h = hash as BlobHash
  const stat = await store.stat(h)
  if (stat === undefined) return { hash: h, state: 'missing', reason: 'orbit serve is not running here: nothing fetches (start `orbit serve`, or `orbit sync DEVICE`)', usedBy: [] }
  const bytes = await store.get(h)
  const image = bytes === undefined ? undefined : defaultInspector(bytes.subarray(0, 1024 * 1024))
  return { hash: h, state: 'present', size: stat.size, ...(image === undefined ? {} : { image }), usedBy: [] }
}

function renderContact(c: Contact, org: Organization | undefined, logo?: BlobItem): string {
  const notes = Object.values(c.notes).sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : 1))
  const lines = [
    fields([
      ['id', c.id],
      ['name', c.name + (c.deletedAt === undefined ? '' : `  (removed ${when(c.deletedAt)}; \`orbit contact restore ${c.id}\` brings it back)`)],
      ['emails', c.emails.length > 0 ? c.emails.join(', ') : undefined],
      ['phones', c.phones.length > 0 ? c.phones.join(', ') : undefined],
      ['title', c.title],
      ['org', c.orgId === undefined ? undefined : org === undefined ? c.orgId : `${org.name} (${c.orgId})`],
      ['tags', Object.keys(c.tags).length > 0 ? Object.keys(c.tags).join(', ') : undefined],
      ['logo', c.logo === undefined ? undefined : logo === undefined ? c.logo : `${blobStateText(logo)}  ${c.logo.slice(0, 12)}`],
      ['created', when(c.createdAt)],
      ['updated', when(c.updatedAt)],
    ]),
  ]
  if (notes.length > 0) {
    lines.push('', 'Notes:')
    for (const n of notes) lines.push(`  ${when(n.at)}  [${n.kind}]  ${n.body}`)
  }
  return lines.join('\n')
}

function registerEdit(contact: Command, ctx: CliContext): void {
  contact
    .command('edit')
    .description('change a contact; options not given are left alone')
    .argument('<id>', 'contact id (ct_...)')
    .option('--name <name>', 'new full name')
    .addOption(new Option('--email <address>', 'replace the email addresses (repeat for more)').argParser(collect).conflicts('clearEmails'))
    .addOption(new Option('--phone <number>', 'replace the phone numbers (repeat for more)').argParser(collect).conflicts('clearPhones'))
    .addOption(new Option('--title <title>', 'new job title').conflicts('clearTitle'))
    .addOption(new Option('--org <id>', 'new organization id').conflicts('clearOrg'))
    .addOption(new Option('--tag <tag>', 'replace the tags (repeat for more)').argParser(collect).conflicts(['clearTags', 'addTag', 'removeTag']))
    .option('--add-tag <tag>', 'add a tag (repeat for more)', collect)
    .option('--remove-tag <tag>', 'remove a tag (repeat for more)', collect)
    .addOption(new Option('--logo <file>', 'new logo image').conflicts('clearLogo'))
    .option('--clear-emails', 'remove all email addresses')
    .option('--clear-phones', 'remove all phone numbers')
    .option('--clear-title', 'remove the job title')
    .option('--clear-org', 'remove the organization')
    .addOption(new Option('--clear-tags', 'remove all tags').conflicts(['addTag', 'removeTag']))
    .option('--clear-logo', 'remove the logo')
    .addHelpText(
      'after',
      `
Examples:
  $ orbit contact edit ct_abcdefghijklmnop --title "CTO" --add-tag vip
  $ orbit contact edit ct_abcdefghijklmnop --email new@example.com --email other@example.com
  $ orbit contact edit ct_abcdefghijklmnop --clear-org --json`,
    )
    .action(
      ctx.action<[string]>(async (id, opts, cmd) => {
        const { dataDir } = ctx.globals(cmd)
        const { parseContactId } = await import('../../../core/ids.js')
        const { parseContactPatch } = await import('../../../core/model/validate.js')
        const contactId = parseContactId(id, 'id')
        const logo = await optionalLogo(opts.logo)
        const raw = editPatch(opts, logo)
        if (Object.keys(raw).length === 0) {
          cmd.error('error: nothing to change: give at least one option (see --help)', { exitCode: 2, code: 'commander.nothingToChange' })
        }
        const patch = parseContactPatch(raw)
        const { withApi } = await import('../api.js')
        const updated = await withApi(dataDir, async (api) => {
          if (typeof patch.orgId === 'string') await api.requireOrg(patch.orgId)
          if (logo !== undefined) {
            checkLogoLimit(logo, await api.blobLimit())
            await api.putBlob(logo.bytes)
          }
          return api.workspace.editContact(contactId, patch)
        })
        ctx.emit(cmd, updated, () => `Updated ${updated.id} (${updated.name}).`)
      }),
    )
}

function editPatch(opts: ActionOptions, logo: LogoFile | undefined): Record<string, unknown> {
  const patch: Record<string, unknown> = compact({
    name: opts.name,
    emails: opts.email,
    phones: opts.phone,
    title: opts.title,
    orgId: opts.org,
    tags: opts.tag,
    addTags: opts.addTag,
    removeTags: opts.removeTag,
    logo: logo?.hash,
  })
  if (opts.clearEmails === true) patch.emails = null
  if (opts.clearPhones === true) patch.phones = null
  if (opts.clearTitle === true) patch.title = null
  if (opts.clearOrg === true) patch.orgId = null
  if (opts.clearTags === true) patch.tags = null
  if (opts.clearLogo === true) patch.logo = null
  return patch
}

function registerRemoveRestore(contact: Command, ctx: CliContext): void {
  for (const verb of ['remove', 'restore'] as const) {
    contact
      .command(verb)
      .description(
        verb === 'remove'
          ? 'remove a contact (kept as a tombstone: `orbit contact restore ID` brings it back)'
          : 'bring back a removed contact',
      )
      .argument('<id>', 'contact id (ct_...)')
      .addHelpText(
        'after',
        `
Examples:
  $ orbit contact ${verb} ct_abcdefghijklmnop
  $ orbit contact ${verb} ct_abcdefghijklmnop --json`,
      )
      .action(
        ctx.action<[string]>(async (id, _opts, cmd) => {
          const { dataDir } = ctx.globals(cmd)
          const { parseContactId } = await import('../../../core/ids.js')
          const contactId = parseContactId(id, 'id')
          const { withApi } = await import('../api.js')
          const { UnknownIdError } = await import('../../../core/errors.js')
          const result = await withApi(dataDir, async (api) => {
            if (verb === 'remove') await api.workspace.removeContact(contactId)
            else await api.workspace.restoreContact(contactId)
            const after = await api.workspace.getContact(contactId, { includeDeleted: true })
            if (after === undefined) throw new UnknownIdError('contact', contactId)
            return after
          })
          ctx.emit(cmd, result, () =>
            verb === 'remove'
              ? `Removed ${result.id} (${result.name}). Undo with \`orbit contact restore ${result.id}\`.`
              : `Restored ${result.id} (${result.name}).`,
          )
        }),
      )
  }
}

function registerNote(contact: Command, ctx: CliContext): void {
  contact
    .command('note')
    .description('add a note or log an interaction on a contact; prints the note id')
    .argument('<id>', 'contact id (ct_...)')
    .requiredOption('--body <text>', 'what happened')
    .option('--kind <kind>', `one of ${NOTE_KINDS.join(', ')}`, oneOf(NOTE_KINDS), 'note')
    .addHelpText(
      'after',
      `
Examples:
  $ orbit contact note ct_abcdefghijklmnop --body "Met at the conference"
  $ orbit contact note ct_abcdefghijklmnop --kind call --body "Discussed the renewal"`,
    )
    .action(
      ctx.action<[string]>(async (id, opts, cmd) => {
        const { dataDir } = ctx.globals(cmd)
        const { parseContactId } = await import('../../../core/ids.js')
        const { parseNoteInput } = await import('../../../core/model/validate.js')
        const contactId = parseContactId(id, 'id')
        const input = parseNoteInput({ body: opts.body, kind: opts.kind })
        const { withApi } = await import('../api.js')
        const note = await withApi(dataDir, (api) => api.workspace.addNote(contactId, input))
        ctx.emit(cmd, { contactId, ...note }, () => note.id)
      }),
    )
}

async function optionalLogo(file: unknown): Promise<LogoFile | undefined> {
  return file === undefined ? undefined : readLogo(String(file))
}

/** Drops undefined values, so absent flags stay absent in the input (the validator is strict). */
function compact(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined))
}

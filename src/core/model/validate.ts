/**
 * Validation of every input to the CRM model's change API (CLI flags, HTTP bodies, UI forms).
 *
 * Each `parse*` function takes an untrusted value and returns a normalised, typed value, or throws
 * a {@link ValidationError} whose `field` is the path of the first offending value (`name`,
 * `emails[0]`, `tags[2]`) and whose message says what was expected. Unknown keys are refused, so a
 * misspelt flag or JSON key is an error rather than silently ignored.
 */
import { z } from 'zod'
import { ValidationError } from '../errors.js'
import { parseBlobHash, parseOrgId, type BlobHash, type DeviceId, type OrgId } from '../ids.js'
import type { MemberDevice, NoteKind } from './types.js'

export const NAME_MAX = 200
export const TAG_MAX = 50
export const NOTE_BODY_MAX = 10_000
export const LIST_MAX = 50

// Brand a value through one of the ids.ts parsers, so the id rules live in one place.
function branded<T>(parser: (value: unknown) => T, expected: string) {
  return z.unknown().transform((value, ctx): T => {
    try {
      return parser(value)
    } catch {
      ctx.addIssue({ code: 'custom', message: expected })
      return z.NEVER
    }
  })
}

const text = (what: string, max: number) =>
  z
    .string({ error: `expected ${what} (a string)` })
    .trim()
    .min(1, { error: `expected ${what}: must not be empty` })
    .max(max, { error: `expected ${what} of at most ${max} characters` })

const nameSchema = text('a name', NAME_MAX)
const titleSchema = text('a title', NAME_MAX)

const emailSchema = z
  .string({ error: 'expected an email address (a string)' })
  .trim()
  .max(254, { error: 'expected an email address of at most 254 characters' })
  .pipe(z.email({ error: 'expected a valid email address, like name@example.com' }))

const PHONE_CHARS = /^[+0-9 ()\-.]{3,32}$/
const phoneSchema = z
  .string({ error: 'expected a phone number (a string)' })
  .trim()
  .refine((v) => PHONE_CHARS.test(v) && (v.match(/[0-9]/g)?.length ?? 0) >= 3, {
    error: 'expected a phone number: 3 to 32 characters of digits, +, spaces, -, (, ) or ., with at least 3 digits',
  })

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/
const tagSchema = z
  .string({ error: 'expected a tag (a string)' })
  .trim()
  .min(1, { error: 'expected a tag: must not be empty' })
  .max(TAG_MAX, { error: `expected a tag of at most ${TAG_MAX} characters` })
  .refine((v) => !CONTROL.test(v), { error: 'expected a tag without control characters' })

const list = <T extends z.ZodType>(item: T, what: string) =>
  z
    .array(item, { error: `expected a list of ${what}` })
    .max(LIST_MAX, { error: `expected at most ${LIST_MAX} ${what}` })

const orgIdSchema = branded<OrgId>(
  (v) => parseOrgId(v),
  'expected an organization id ("org_" followed by 16 base32 characters)',
)
const blobHashSchema = branded<BlobHash>(
  (v) => parseBlobHash(v),
  'expected a blob hash (64 lower-case hex characters)',
)
const timestampSchema = z
  .number({ error: 'expected a timestamp (milliseconds since the Unix epoch)' })
  .int({ error: 'expected a whole number of milliseconds' })
  .min(0, { error: 'expected a timestamp at or after 1970' })
  .max(8.64e15, { error: 'expected a timestamp within the JavaScript date range' })

const contactInputSchema = z.strictObject({
  name: nameSchema,
  emails: list(emailSchema, 'email addresses').optional(),
  phones: list(phoneSchema, 'phone numbers').optional(),
  title: titleSchema.optional(),
  orgId: orgIdSchema.optional(),
  tags: list(tagSchema, 'tags').optional(),
  logo: blobHashSchema.optional(),
})

const contactPatchSchema = z.strictObject({
  name: nameSchema.optional(),
  emails: list(emailSchema, 'email addresses').nullable().optional(),
  phones: list(phoneSchema, 'phone numbers').nullable().optional(),
  title: titleSchema.nullable().optional(),
  orgId: orgIdSchema.nullable().optional(),
  tags: list(tagSchema, 'tags').nullable().optional(),
  addTags: list(tagSchema, 'tags').optional(),
  removeTags: list(tagSchema, 'tags').optional(),
  logo: blobHashSchema.nullable().optional(),
})

const NOTE_KINDS = ['note', 'call', 'email', 'meeting'] as const satisfies readonly NoteKind[]
const noteInputSchema = z.strictObject({
  kind: z.enum(NOTE_KINDS, { error: `expected one of ${NOTE_KINDS.join(', ')}` }).optional(),
  body: z
    .string({ error: 'expected a note body (a string)' })
    .trim()
    .min(1, { error: 'expected a note body: must not be empty' })
    .max(NOTE_BODY_MAX, { error: `expected a note body of at most ${NOTE_BODY_MAX} characters` }),
  at: timestampSchema.optional(),
})

const orgInputSchema = z.strictObject({
  name: nameSchema,
  logo: blobHashSchema.optional(),
})

const orgPatchSchema = z.strictObject({
  name: nameSchema.optional(),
  logo: blobHashSchema.nullable().optional(),
})

const DEVICE_ID = /^[A-Za-z0-9_-]{4,128}$/
const BASE64URL = /^[A-Za-z0-9_-]{16,1024}$/
const deviceIdSchema = z
  .string({ error: 'expected a device id (a string)' })
  .regex(DEVICE_ID, { error: 'expected a device id: 4 to 128 letters, digits, _ or -' })
  .transform((v) => v as DeviceId)

const memberDeviceSchema = z.strictObject({
  id: deviceIdSchema,
  publicKey: z
    .string({ error: 'expected a public key (base64url string)' })
    .regex(BASE64URL, { error: 'expected a public key in base64url' }),
  name: text('a device name', NAME_MAX),
  addedAt: timestampSchema,
  addedBy: deviceIdSchema,
  revokedAt: timestampSchema.optional(),
})

/** A new contact, normalised (strings trimmed). */
export type ContactInput = z.output<typeof contactInputSchema>
/**
 * Changes to a contact. Absent fields are left alone; `null` clears an optional field (`emails`,
 * `phones`, `tags` become empty). `tags` replaces the whole set; `addTags`/`removeTags` change it.
 */
export type ContactPatch = z.output<typeof contactPatchSchema>
/** A new note or logged interaction; `kind` defaults to `note`, `at` to now. */
export type NoteInput = z.output<typeof noteInputSchema>
/** A new organization. */
export type OrgInput = z.output<typeof orgInputSchema>
/** Changes to an organization; `logo: null` clears the logo. */
export type OrgPatch = z.output<typeof orgPatchSchema>

function formatPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`
    else out += out === '' ? String(key) : `.${String(key)}`
  }
  return out
}

function parseWith<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value)
  if (result.success) return result.data
  const issue = result.error.issues[0]
  if (issue === undefined) throw new ValidationError(`invalid ${what}`)
  let path = [...issue.path]
  let message = issue.message
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? ''
    path = [...path, key]
    message = `unknown field in ${what} (allowed: ${Object.keys(shapeOf(schema)).join(', ')})`
  } else if (path.length === 0 && issue.code === 'invalid_type') {
    message = `expected ${what} as an object`
  }
  const field = formatPath(path)
  throw new ValidationError(field === '' ? `${what}: ${message}` : `${field}: ${message}`, {
    field: field === '' ? undefined : field,
    cause: result.error,
  })
}

function shapeOf(schema: z.ZodType): Record<string, unknown> {
  return schema instanceof z.ZodObject ? (schema.shape as Record<string, unknown>) : {}
}

/** Validate a new contact. @throws ValidationError naming the field. */
export const parseContactInput = (value: unknown): ContactInput =>
  parseWith(contactInputSchema, value, 'contact')
/** Validate a contact patch. @throws ValidationError naming the field. */
export const parseContactPatch = (value: unknown): ContactPatch =>
  parseWith(contactPatchSchema, value, 'contact changes')
/** Validate a new note. @throws ValidationError naming the field. */
export const parseNoteInput = (value: unknown): NoteInput => parseWith(noteInputSchema, value, 'note')
/** Validate a new organization. @throws ValidationError naming the field. */
export const parseOrgInput = (value: unknown): OrgInput =>
  parseWith(orgInputSchema, value, 'organization')
/** Validate an organization patch. @throws ValidationError naming the field. */
export const parseOrgPatch = (value: unknown): OrgPatch =>
  parseWith(orgPatchSchema, value, 'organization changes')
/** Validate a workspace member record. @throws ValidationError naming the field. */
export const parseMemberDevice = (value: unknown): MemberDevice =>
  parseWith(memberDeviceSchema, value, 'device')
/** Validate a workspace or device display name (trimmed, 1..200 characters). */
export const parseName = (value: unknown, field = 'name'): string =>
  parseWith(z.strictObject({ [field]: nameSchema }), { [field]: value }, field)[field] as string

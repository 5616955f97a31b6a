/**
 * The endpoints of the web UI's API, `/api/v1/...` (docs/protocol/http.md): each validates its
 * query and body with zod before it calls anything, then asks the running node's `OrbitApi` — the
 * same calls the CLI makes over the control socket — and answers JSON. A write answers once it is
 * durable and in the listing projection (`device.flush()`), as the control server does.
 */
import QRCode from 'qrcode'
import { z } from 'zod'
import { ValidationError } from '../../../core/errors.js'
import { parseBlobHash, type BlobHash } from '../../../core/ids.js'
import type { JoinResult } from '../../node/join.js'
import type { OrbitApi } from '../../node/api.js'
import type { OrbitNode } from '../../node/orbit-node.js'
import { flushOrExplain, refuseWhileFull } from '../control-server.js'
import { HttpError } from './errors.js'
import { sniffImage } from './image-type.js'

/** What the API serves: the daemon's current node and API (they change when `pair/join` restarts the node). */
export interface HttpTarget {
  /** The daemon's API (its view of peers, its WebRTC offers). */
  readonly api: OrbitApi
  readonly node: OrbitNode
  /** `orbit status`'s daemon fields (`mdns` among them). */
  status(): Record<string, unknown>
}

/** A parsed request, as a handler sees it. */
export interface ApiRequest {
  method: string
  /** Path segments after `/api/v1/`. */
  segments: string[]
  query: URLSearchParams
  /** The JSON body (POST/PATCH), parsed; `undefined` when there was none. */
  json: () => Promise<unknown>
  /** The raw body, up to `limit` bytes (else HttpError 413). */
  raw: (limit: number) => Promise<Buffer>
  contentType: string
}

/** A handler's answer: JSON with a status, raw bytes, or the SSE stream. */
export type ApiResponse =
  | { kind: 'json'; status: number; body: unknown }
  | { kind: 'bytes'; status: number; type: string; body: Uint8Array }
  | { kind: 'events' }

/** What the routes need besides the target. */
export interface RouteContext {
  target(): HttpTarget
  /** Stops the node, joins with `code`, starts it again (src/apps/daemon/daemon.ts). */
  join(code: string, options: { address?: string; timeoutMs?: number }): Promise<JoinResult>
  /** Largest image upload, bytes (config `blobs.maxBytes`, default 10 MB). */
  maxBlobBytes(): number
}

/** Largest `limit` of `GET contacts`. */
export const CONTACTS_PAGE_MAX = 200

const json = (body: unknown, status = 200): ApiResponse => ({ kind: 'json', status, body })

/** Parses with `schema`; the first issue becomes a ValidationError naming its field. */
function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value)
  if (r.success) return r.data
  const issue = r.error.issues[0]
  const path = (issue?.path ?? []).map(String)
  const field = path.length === 0 ? what : path.join('.')
  throw new ValidationError(`${field}: ${issue?.message ?? 'invalid'}`, { field })
}

const Ttl = z.number().int().positive().max(7 * 24 * 3600 * 1000)
const Timeout = z.number().int().positive().max(3_600_000)
const Code = z.string().trim().min(1).max(8192)
const SyncBody = z.object({ target: z.string().min(1).max(300).optional(), via: z.enum(['auto', 'local-network', 'webrtc', 'qr-code']).optional(), timeoutMs: Timeout.optional() }).strict()
const ContactsQuery = z
  .object({
    query: z.string().max(200).optional(),
    offset: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
    limit: z.coerce.number().int().min(1).max(CONTACTS_PAGE_MAX).default(50),
    removed: z.enum(['true', 'false', '1', '0']).optional(),
  })
  .strict()
const InviteBody = z.object({ ttlMs: Ttl.optional() }).strict()
const JoinBody = z.object({ code: Code, address: z.string().min(3).max(300).optional(), timeoutMs: Timeout.optional() }).strict()
const OfferBody = z.object({ ttlMs: z.number().int().positive().max(24 * 3_600_000).optional(), timeoutMs: Timeout.optional() }).strict()
const CodeBody = z.object({ code: Code }).strict()
const QrExportBody = z.object({ forDevice: z.string().min(1).max(200).optional() }).strict()
const QrImportBody = z.object({ bundle: z.string().min(1).max(12 * 1024 * 1024).regex(/^[A-Za-z0-9+/_-]+={0,2}$/, 'expected base64'), reply: z.boolean().optional() }).strict()

/** The invite (or offer) text as an SVG QR code, rendered here so the page needs no encoder for it. */
export function qrSvg(text: string): Promise<string> {
  return QRCode.toString(text, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 })
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')

/** Whether a contact or organization (live or removed) refers to `hash` as its logo. */
function isReferenced(node: OrbitNode, hash: BlobHash): boolean {
  const row = node.device.db.sqlite.prepare(`SELECT 1 AS one FROM entity_index WHERE json_extract(json, '$.logo') = ? LIMIT 1`).get(hash)
  return row !== undefined
}

const notFound = (what: string): HttpError => new HttpError(404, 'NOT_FOUND', `no ${what}`)
const methodNotAllowed = (): HttpError => new HttpError(405, 'METHOD_NOT_ALLOWED', 'this endpoint does not take that method')

/** `GET status`'s body: the device, its workspace, where it listens, and the sync store's summary. */
export function statusBody(t: HttpTarget): Record<string, unknown> {
  const s = t.status()
  const ws = t.node.device.workspace
  const st = t.node.store.getState()
  return {
    device: { id: t.node.device.identity.deviceId, name: t.node.device.deviceName },
    workspace: { id: ws.workspaceId, name: ws.name },
    listen: s.listen,
    discovery: s.mdns,
    sync: { status: st.status, currentMethod: st.currentMethod, lastSyncTimestamp: st.lastSyncTimestamp },
  }
}

/**
 * `GET contacts`'s body: one page of the listing index (SQLite rows, no Automerge document is
 * opened) and the filter's total, read in one transaction so they agree while the node writes.
 */
export function contactsPage(t: HttpTarget, filter: { includeDeleted: boolean; query?: string }, offset: number, limit: number): { total: number; offset: number; items: ReturnType<HttpTarget['node']['device']['index']['page']> } {
  const index = t.node.device.index
  const page = t.node.device.db.sqlite.transaction(() => ({ total: index.count(filter), items: index.page({ ...filter, offset, limit }) }))()
  return { total: page.total, offset, items: page.items }
}

/** Answers one `/api/v1/...` request. @throws HttpError, ValidationError, UnknownIdError and the API's errors (mapped by errors.ts). */
export async function handleApi(ctx: RouteContext, req: ApiRequest): Promise<ApiResponse> {
  const [head, id, tail, ...rest] = req.segments
  const { method } = req
  const only = (m: string): void => {
    if (method !== m) throw methodNotAllowed()
  }
  if (rest.length > 0) throw notFound('such endpoint')
  switch (head) {
    case 'status': {
      only('GET')
      if (id !== undefined) throw notFound('such endpoint')
      return json(statusBody(ctx.target()))
    }
    case 'events':
      only('GET')
      if (id !== undefined) throw notFound('such endpoint')
      return { kind: 'events' }
    case 'peers':
      only('GET')
      if (id !== undefined) throw notFound('such endpoint')
      return json(await ctx.target().api.peers())
    case 'sync': {
      only('POST')
      if (id !== undefined) throw notFound('such endpoint')
      const body = parse(SyncBody, (await req.json()) ?? {}, 'body')
      return json(await ctx.target().api.sync(body))
    }
    case 'orgs':
      only('GET')
      if (id !== undefined) throw notFound('such endpoint')
      return json(await ctx.target().api.workspace.listOrgs())
    case 'contacts':
      return contacts(ctx, req, id, tail)
    case 'blobs':
      return blobs(ctx, req, id)
    case 'pair': {
      only('POST')
      if (tail !== undefined) throw notFound('such endpoint')
      if (id === 'invite') {
        const { ttlMs } = parse(InviteBody, (await req.json()) ?? {}, 'body')
        const invite = await ctx.target().api.createInvite(ttlMs)
        return json({ ...invite, qrSvg: await qrSvg(invite.code) })
      }
      if (id === 'join') {
        const { code, address, timeoutMs } = parse(JoinBody, await req.json(), 'body')
        return json(await ctx.join(code, { ...(address === undefined ? {} : { address }), ...(timeoutMs === undefined ? {} : { timeoutMs }) }))
      }
      throw notFound('such endpoint')
    }
    case 'webrtc': {
      only('POST')
      if (tail !== undefined) throw notFound('such endpoint')
      const api = ctx.target().api
      if (id === 'offer') {
        const o = parse(OfferBody, (await req.json()) ?? {}, 'body')
        const offer = await api.webrtc.offer(o)
        return json({ ...offer, qrSvg: await qrSvg(offer.code) })
      }
      if (id === 'answer') {
        const { code } = parse(CodeBody, await req.json(), 'body')
        const answer = await api.webrtc.answer(code)
        return json({ ...answer, qrSvg: await qrSvg(answer.code) })
      }
      if (id === 'accept') {
        const { code } = parse(CodeBody, await req.json(), 'body')
        return json(await api.webrtc.accept(code))
      }
      throw notFound('such endpoint')
    }
    case 'qr': {
      only('POST')
      if (tail !== undefined) throw notFound('such endpoint')
      const t = ctx.target()
      if (id === 'export') {
        const { forDevice } = parse(QrExportBody, (await req.json()) ?? {}, 'body')
        const { encodeFrames } = await import('../../../core/qr/frame.js')
        const { bundle, ...rest } = await t.api.qrExport(forDevice === undefined ? {} : { forDevice })
        return json({ ...rest, frames: encodeFrames(bundle).map(b64), bundleBytes: bundle.length })
      }
      if (id === 'import') {
        const { bundle, reply } = parse(QrImportBody, await req.json(), 'body')
        const bytes = new Uint8Array(Buffer.from(bundle, 'base64'))
        await refuseWhileFull(t.node.device)
        const { imported, replyBundle } = await t.api.qrImport(bytes, { reply: reply ?? true })
        await flushOrExplain(t.node.device)
        let replyFrames: string[] | undefined
        if (replyBundle !== undefined && replyBundle.length > 0) {
          const { encodeFrames } = await import('../../../core/qr/frame.js')
          replyFrames = encodeFrames(replyBundle).map(b64)
        }
        return json({ imported, ...(replyFrames === undefined ? {} : { reply: { frames: replyFrames, bundleBytes: replyBundle!.length } }) })
      }
      throw notFound('such endpoint')
    }
    default:
      throw notFound('such endpoint')
  }
}

async function contacts(ctx: RouteContext, req: ApiRequest, id: string | undefined, tail: string | undefined): Promise<ApiResponse> {
  const t = ctx.target()
  const ws = t.api.workspace
  const wrote = async <T>(value: T, status = 200): Promise<ApiResponse> => {
    await flushOrExplain(t.node.device)
    return json(value, status)
  }
  // On a full disk a write is refused before it changes anything (docs/architecture.md, "Disk full").
  if (req.method !== 'GET') await refuseWhileFull(t.node.device)
  if (id === undefined) {
    if (req.method === 'GET') {
      const q = parse(ContactsQuery, Object.fromEntries(req.query), 'query')
      const filter = { includeDeleted: q.removed === 'true' || q.removed === '1', ...(q.query === undefined || q.query === '' ? {} : { query: q.query }) }
      return json(contactsPage(t, filter, q.offset, q.limit))
    }
    if (req.method === 'POST') return wrote(await ws.addContact(await req.json()), 201)
    throw methodNotAllowed()
  }
  if (tail === undefined) {
    switch (req.method) {
      case 'GET': {
        const contact = await ws.getContact(id, { includeDeleted: true })
        if (contact === undefined) throw notFound(`contact with id ${id}`)
        return json(contact)
      }
      case 'PATCH':
        return wrote(await ws.editContact(id, await req.json()))
      case 'DELETE':
        await ws.removeContact(id)
        return wrote(await ws.getContact(id, { includeDeleted: true }))
      default:
        throw methodNotAllowed()
    }
  }
  if (req.method !== 'POST') throw methodNotAllowed()
  if (tail === 'restore') return wrote(await ws.restoreContact(id))
  if (tail === 'notes') {
    const input = noteInput(await req.json())
    try {
      return await wrote(await ws.addNote(id, input), 201)
    } catch (error) {
      // The model calls the text `body`; the API calls it `text`.
      if (error instanceof ValidationError && error.field === 'body') throw new ValidationError(error.message.replace(/note body/g, 'note text'), { field: 'text' })
      throw error
    }
  }
  throw notFound('such endpoint')
}

/** The API's note `{ text, kind?, at? }` as the model's `{ body, kind?, at? }`; the model validates it. */
function noteInput(body: unknown): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return body
  const { text, ...rest } = body as Record<string, unknown>
  if ('body' in rest) throw new ValidationError('a note is { text, kind?, at? }', { field: 'body.body' })
  return { ...rest, body: text }
}

async function blobs(ctx: RouteContext, req: ApiRequest, hashText: string | undefined): Promise<ApiResponse> {
  const t = ctx.target()
  if (hashText === undefined) {
    if (req.method !== 'POST') throw methodNotAllowed()
    if (!/^image\/[\w.+-]+$/i.test(req.contentType.split(';')[0]!.trim())) {
      throw new ValidationError('the body must be an image (Content-Type: image/png, image/jpeg, image/gif or image/webp)', { field: 'content-type' })
    }
    const bytes = await req.raw(ctx.maxBlobBytes())
    if (bytes.length === 0) throw new ValidationError('the image is empty', { field: 'body' })
    if (sniffImage(bytes) === undefined) throw new ValidationError('the body is not a PNG, JPEG, GIF or WebP image', { field: 'body' })
    const hash = await t.api.putBlob(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength))
    return json({ hash }, 201)
  }
  if (req.method !== 'GET') throw methodNotAllowed()
  let hash: BlobHash
  try {
    hash = parseBlobHash(hashText, 'hash')
  } catch {
    throw notFound('such image')
  }
  // Only what the workspace refers to: the store may hold unreferenced or partial blobs.
  if (!isReferenced(t.node, hash)) throw notFound('such image')
  const bytes = await t.node.device.blobs.get(hash)
  const type = bytes === undefined ? undefined : sniffImage(bytes)
  if (bytes === undefined || type === undefined) throw notFound('such image here (yet)')
  return { kind: 'bytes', status: 200, type, body: bytes }
}


/**
 * The page's client of the daemon's HTTP API (docs/protocol/http.md): JSON over `fetch`, same
 * origin, the secret travelling as the `orbit_ui` cookie the `?secret=` link set. Every failure is
 * an {@link ApiError} carrying the server's `{ error: { name, code, message, field } }`, or
 * `DAEMON_UNREACHABLE` when nothing answered.
 */
import type { ApiContact, ApiContactPage, ApiStatus, ContactForm, PeerRow } from './types.js'

/** Where the API lives, relative to the page's origin. */
export const API_BASE = '/api/v1'

/** A refused or failed API call. */
export class ApiError extends Error {
  override readonly name = 'ApiError'
  /** The HTTP status; 0 when the daemon did not answer at all. */
  readonly status: number
  /** The server's error code (`VALIDATION`, `UNAUTHORIZED`, `ORIGIN_REFUSED`, ...) or `DAEMON_UNREACHABLE`. */
  readonly code: string
  /** The offending field of a ValidationError (`name`, `emails[0]`, ...). */
  readonly field: string | undefined
  /** The server-side error's class name (`ValidationError`, `PairingError`, ...). */
  readonly errorName: string | undefined

  constructor(message: string, o: { status: number; code: string; field?: string | undefined; errorName?: string | undefined }) {
    super(message)
    this.status = o.status
    this.code = o.code
    this.field = o.field
    this.errorName = o.errorName
  }
}

/** Words for a user: what went wrong and, where there is one, what to do. */
export function describeError(error: unknown): string {
  if (!(error instanceof ApiError)) return error instanceof Error ? error.message : String(error)
  switch (error.code) {
    case 'DAEMON_UNREACHABLE':
      // A browser reports a refused cross-origin request (a failed CORS preflight) like a network failure.
      return 'The Orbit daemon did not answer, or refused the request: is `orbit serve` still running, and is this page open from the link `orbit ui` prints?'
    case 'UNAUTHORIZED':
      return 'This page is not signed in: open the link that `orbit ui` prints.'
    case 'ORIGIN_REFUSED':
    case 'HOST_REFUSED':
      return `The daemon refused this request (${error.code}): open the UI from the link \`orbit ui\` prints, not through another site.`
    default:
      return error.message || `The request failed (${error.status} ${error.code}).`
  }
}

async function request<T>(method: string, path: string, body?: unknown, raw?: { bytes: Blob; type: string }): Promise<T> {
  const init: RequestInit = { method, credentials: 'same-origin', headers: {} }
  const headers = init.headers as Record<string, string>
  if (raw !== undefined) {
    init.body = raw.bytes
    headers['Content-Type'] = raw.type
  } else if (body !== undefined) {
    init.body = JSON.stringify(body)
    headers['Content-Type'] = 'application/json'
  }
  let res: Response
  try {
    res = await fetch(API_BASE + path, init)
  } catch {
    throw new ApiError('the daemon did not answer', { status: 0, code: 'DAEMON_UNREACHABLE' })
  }
  const text = await res.text()
  let json: unknown = undefined
  try {
    json = text === '' ? undefined : JSON.parse(text)
  } catch {
    // A proxy's or a stopped daemon's HTML page: reported by status below.
  }
  if (!res.ok) {
    const e = (json as { error?: { name?: string; code?: string; message?: string; field?: string } } | undefined)?.error
    throw new ApiError(e?.message ?? `${res.status} ${res.statusText}`, {
      status: res.status,
      code: e?.code ?? (res.status === 401 ? 'UNAUTHORIZED' : `HTTP_${res.status}`),
      field: e?.field,
      errorName: e?.name,
    })
  }
  return json as T
}

/** A base64 string of bytes (frames and bundles travel as base64 in JSON). */
export function toBase64(bytes: Uint8Array): string {
  let s = ''
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(s)
}

/** The bytes of a base64 string. */
export function fromBase64(text: string): Uint8Array {
  const s = atob(text)
  const out = new Uint8Array(s.length)
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i)
  return out
}

/** What `POST pair/invite` answers: the invite and its QR as SVG. */
export interface InviteReply {
  code: string
  expiresAt: number
  qrSvg: string
  workspace?: { id: string; name: string }
}

/** The calls the page makes, one per endpoint. */
export const api = {
  status: () => request<ApiStatus>('GET', '/status'),
  peers: () => request<PeerRow[]>('GET', '/peers'),
  sync: (target?: string) => request<unknown>('POST', '/sync', target === undefined ? {} : { target }),
  contacts: (query: string, offset: number, limit: number, removed = false) =>
    request<ApiContactPage>('GET', `/contacts?query=${encodeURIComponent(query)}&offset=${offset}&limit=${limit}${removed ? '&removed=true' : ''}`),
  contact: (id: string) => request<ApiContact>('GET', `/contacts/${encodeURIComponent(id)}`),
  addContact: (input: ContactForm) => request<ApiContact>('POST', '/contacts', input),
  editContact: (id: string, patch: Record<string, unknown>) => request<ApiContact>('PATCH', `/contacts/${encodeURIComponent(id)}`, patch),
  removeContact: (id: string) => request<unknown>('DELETE', `/contacts/${encodeURIComponent(id)}`),
  restoreContact: (id: string) => request<unknown>('POST', `/contacts/${encodeURIComponent(id)}/restore`),
  addNote: (id: string, text: string) => request<unknown>('POST', `/contacts/${encodeURIComponent(id)}/notes`, { text }),
  putBlob: (file: Blob) => request<{ hash: string }>('POST', '/blobs', undefined, { bytes: file, type: file.type || 'application/octet-stream' }),
  invite: () => request<InviteReply>('POST', '/pair/invite', {}),
  join: (code: string) => request<unknown>('POST', '/pair/join', { code }),
  webrtcOffer: () => request<{ code: string; qrSvg: string }>('POST', '/webrtc/offer', {}),
  webrtcAccept: (code: string) => request<unknown>('POST', '/webrtc/accept', { code }),
  qrExport: () => request<{ frames: string[]; documents: number; bundleBytes: number }>('POST', '/qr/export', {}),
  qrImport: (bundle: Uint8Array) => request<{ imported: unknown; reply?: { frames: string[] } }>('POST', '/qr/import', { bundle: toBase64(bundle), reply: true }),
}

/** The URL of a logo blob. */
export const blobUrl = (hash: string): string => `${API_BASE}/blobs/${encodeURIComponent(hash)}`

/**
 * The daemon's HTTP server: the Sync screen's page (static files of `dist/web/`) and its API under
 * `/api/v1/` (docs/protocol/http.md). Node's own `http`, no framework. Every request passes, in
 * order:
 *
 * 1. Host: one of `127.0.0.1:PORT`, `localhost:PORT`, `[::1]:PORT` (or the exposed host's
 *    addresses): a DNS-rebinding page names its own host, so it is refused (421 `HOST_REFUSED`).
 * 2. Origin: when present it must be `http://<Host>` (403 `ORIGIN_REFUSED`); a write (POST,
 *    PATCH, PUT, DELETE) must carry it or `Sec-Fetch-Site: same-origin`, and no API request may
 *    say `Sec-Fetch-Site: cross-site` / `same-site` (no cross-site requests at all).
 * 3. Auth, for `/api/`: the `orbit_ui` cookie (set by the secret link `/?secret=S`) or
 *    `Authorization: Bearer S` (401 `UNAUTHORIZED`).
 * 4. Bodies: JSON ≤ 64 KiB (a QR bundle ≤ 12 MiB), an image ≤ the blob limit (413 `TOO_LARGE`).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { networkInterfaces } from 'node:os'
import { silentLogger, type Logger } from '../../../core/log.js'
import { WireError } from '../../../core/errors.js'
import { bootData, readPageInlines, withBootData } from './boot.js'
import { EventHub, type EventSource } from './events.js'
import { HttpError, httpErrorOf } from './errors.js'
import { handleApi, type ApiRequest, type RouteContext } from './routes.js'
import { secretMatches } from './secret.js'
import { defaultWebRoot, NOT_BUILT_PAGE, StaticFiles } from './static.js'

/** Version prefix of the API. */
export const API_PREFIX = '/api/v1/'
/** Largest JSON body, bytes. */
export const MAX_JSON_BYTES = 64 * 1024
/** Largest JSON body of `POST qr/import` (a base64 bundle), bytes. */
export const MAX_BUNDLE_JSON_BYTES = 12 * 1024 * 1024
/** Name of the auth cookie. */
export const COOKIE_NAME = 'orbit_ui'
/** Default address of the UI: loopback only. */
export const DEFAULT_HTTP = { host: '127.0.0.1', port: 7879 } as const

/** Options of {@link startHttpServer}. */
export interface HttpServerOptions extends RouteContext {
  host: string
  port: number
  /** Allow a non-loopback `host` (`--http-expose`); without it one is refused. */
  expose?: boolean
  /** The per-device secret (secret.ts). */
  secret: string
  /** Folder of the built page. Default `<package root>/dist/web`. */
  webRoot?: string
  /** Where the event stream reads the node's state; re-attached with {@link HttpServer.attach}. */
  events?: EventSource
  logger?: Logger
}

/** A listening UI server. */
export interface HttpServer {
  /** Where it is bound (the chosen port when 0 was asked). */
  readonly address: { host: string; port: number }
  /** `Host` values accepted (`host:port`, lower case). */
  readonly hosts: readonly string[]
  /** The secret link: `http://127.0.0.1:PORT/?secret=…` (the exposed host when it is not loopback). */
  readonly url: string
  /** Whether `dist/web` was found. */
  readonly built: boolean
  /** Follow another node's events (after `pair/join` restarted it); undefined while none runs. */
  attach(events: EventSource | undefined): void
  /** Idempotent: ends event streams and closes every connection. */
  close(): Promise<void>
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]'])

/** Whether `host` is a loopback host (what needs no `--http-expose`). */
export function isLoopbackHost(host: string): boolean {
  return LOOPBACK.has(host.toLowerCase()) || /^127\.\d+\.\d+\.\d+$/.test(host)
}

const hostPart = (h: string): string => (h.includes(':') && !h.startsWith('[') ? `[${h}]` : h)

/** The `Host` values a server bound at `host:port` answers. */
export function allowedHosts(host: string, port: number, expose: boolean): string[] {
  const names = new Set(['127.0.0.1', 'localhost', '[::1]'])
  if (expose) {
    if (host === '0.0.0.0' || host === '::') {
      for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) names.add(hostPart(i.address))
    } else names.add(hostPart(host.toLowerCase()))
  }
  return [...names].map((n) => `${n}:${port}`)
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie
  if (header === undefined) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}

function bearer(req: IncomingMessage): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')
  return m?.[1]
}

const SECURITY_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // The secret link must not leak through a Referer.
  'referrer-policy': 'no-referrer',
}

const PAGE_CSP = "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

function send(res: ServerResponse, status: number, type: string, body: string | Uint8Array, extra: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end()
    return
  }
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': String(Buffer.byteLength(body)), ...extra })
  res.end(body)
}

function sendJson(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body ?? null), { 'cache-control': 'no-store', ...extra })
}

/** Reads the body, refusing more than `limit` bytes (declared or sent) with HttpError 413. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0')
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge(limit))
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    let done = false
    req.on('data', (chunk: Buffer) => {
      if (done) return
      size += chunk.length
      if (size > limit) {
        done = true
        reject(tooLarge(limit))
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => {
      if (done) return
      done = true
      resolve(Buffer.concat(chunks))
    })
    req.on('error', (error) => {
      if (done) return
      done = true
      reject(error)
    })
  })
}

const tooLarge = (limit: number): HttpError => new HttpError(413, 'TOO_LARGE', `the body is larger than ${limit} bytes`)

/**
 * Starts the server on `host:port` (port 0 picks one).
 * @throws WireError `HTTP_EXPOSE_REQUIRED` for a non-loopback host without `expose`; WireError
 *   `LISTEN_FAILED` (its cause the system error, e.g. EADDRINUSE) when the port cannot be bound.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const log = (options.logger ?? silentLogger).forComponent('orbit:http')
  const expose = options.expose === true
  if (!expose && !isLoopbackHost(options.host)) {
    throw new WireError(`the web UI would be reachable by other machines on ${options.host}; add --http-expose to mean it, or use --http 127.0.0.1:PORT`, { code: 'HTTP_EXPOSE_REQUIRED' })
  }
  const webRoot = options.webRoot ?? defaultWebRoot()
  const files = new StaticFiles(webRoot)
  // The stylesheet and the pre-React paint that a signed-in page carries inline (boot.ts).
  const inlines = readPageInlines(webRoot)
  const bootCsp = inlines.script === undefined ? PAGE_CSP : `${PAGE_CSP}; script-src 'self' ${inlines.script.source}`
  const hub = new EventHub()
  hub.attach(options.events)
  let hosts: string[] = []

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = req.method ?? 'GET'
    const host = (req.headers.host ?? '').toLowerCase()
    // 1. Host (DNS rebinding)
    if (!hosts.includes(host)) throw new HttpError(421, 'HOST_REFUSED', 'this server answers only to its own address (127.0.0.1, localhost, [::1])')
    // 2. Origin (cross-site requests)
    const origin = req.headers.origin
    if (origin !== undefined && origin !== `http://${host}`) throw new HttpError(403, 'ORIGIN_REFUSED', 'requests from other sites are refused')
    const site = req.headers['sec-fetch-site']
    const write = method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS'
    if (write && origin === undefined && site !== 'same-origin') throw new HttpError(403, 'ORIGIN_REFUSED', 'a write needs an Origin header (or Sec-Fetch-Site: same-origin)')
    const target = req.url ?? '/'
    // Origin-form only: `//host/path` or an absolute URL would be read as another authority.
    if (!target.startsWith('/') || target.startsWith('//')) throw new HttpError(400, 'BAD_PATH', 'malformed request target')
    let url: URL
    try {
      url = new URL(target, `http://${host}`)
    } catch {
      throw new HttpError(400, 'BAD_REQUEST', 'malformed request target')
    }
    const path = url.pathname
    if (path.startsWith('/api/')) {
      if (site === 'cross-site' || site === 'same-site') throw new HttpError(403, 'ORIGIN_REFUSED', 'requests from other sites are refused')
      // 3. Auth
      if (!secretMatches(options.secret, cookie(req, COOKIE_NAME)) && !secretMatches(options.secret, bearer(req))) {
        throw new HttpError(401, 'UNAUTHORIZED', 'open the link `orbit ui` prints (it carries this device\'s secret)')
      }
      if (!path.startsWith(API_PREFIX)) throw new HttpError(404, 'NOT_FOUND', 'this API is /api/v1/')
      const segments = path.slice(API_PREFIX.length).split('/').filter((s) => s !== '').map((s) => decodeSegment(s))
      const contentType = String(req.headers['content-type'] ?? '')
      const apiReq: ApiRequest = {
        method,
        segments,
        query: url.searchParams,
        contentType,
        raw: (limit) => readBody(req, limit),
        json: async () => {
          const limit = segments[0] === 'qr' && segments[1] === 'import' ? MAX_BUNDLE_JSON_BYTES : MAX_JSON_BYTES
          const body = await readBody(req, limit)
          if (body.length === 0) return undefined
          if (!/^application\/json\b/i.test(contentType)) throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send JSON (Content-Type: application/json)')
          try {
            return JSON.parse(body.toString('utf8')) as unknown
          } catch {
            throw new HttpError(400, 'BAD_JSON', 'the body is not valid JSON')
          }
        },
      }
      const answer = await handleApi(options, apiReq)
      if (answer.kind === 'events') return hub.open(res)
      if (answer.kind === 'bytes') return send(res, answer.status, answer.type, answer.body, { 'cache-control': 'private, max-age=31536000, immutable' })
      return sendJson(res, answer.status, answer.body)
    }
    // Static: the page. Reads only.
    if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'the page is read-only')
    const given = url.searchParams.get('secret')
    if (path === '/' && given !== null) {
      if (!secretMatches(options.secret, given)) {
        return send(res, 401, 'text/html; charset=utf-8', '<!doctype html><meta charset="utf-8"><title>Orbit</title><p>This link is not (or no longer) this device\'s. Open the one <code>orbit ui</code> prints.</p>')
      }
      res.writeHead(303, {
        ...SECURITY_HEADERS,
        location: '/',
        'set-cookie': `${COOKIE_NAME}=${options.secret}; HttpOnly; SameSite=Strict; Path=/`,
        'cache-control': 'no-store',
        'content-length': '0',
      })
      res.end()
      return
    }
    const file = await files.resolve(path)
    switch (file.kind) {
      case 'refused':
        throw new HttpError(400, 'BAD_PATH', 'that path is not allowed')
      case 'not-found':
        throw new HttpError(404, 'NOT_FOUND', 'no such file')
      case 'not-built':
        return send(res, 200, 'text/html; charset=utf-8', method === 'HEAD' ? '' : NOT_BUILT_PAGE, { 'content-security-policy': PAGE_CSP, 'cache-control': 'no-store' })
      case 'file': {
        // The page for a signed-in browser carries its first paint's data (boot.ts); never cached, it is private.
        const boot = method === 'GET' && file.index && secretMatches(options.secret, cookie(req, COOKIE_NAME)) ? bootData(() => options.target()) : undefined
        const body = boot === undefined ? file.body : withBootData(file.body.toString('utf8'), boot, inlines)
        return send(res, 200, file.type, method === 'HEAD' ? Buffer.alloc(0) : body, {
          'content-security-policy': boot === undefined ? PAGE_CSP : bootCsp,
          'cache-control': boot !== undefined ? 'no-store' : file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
        })
      }
    }
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const { status, body } = httpErrorOf(error)
      if (status >= 500) log.warn('request failed', { method: req.method, url: req.url?.slice(0, 200), error: String(error) })
      // A refused body is not read: close the connection rather than drain it.
      sendJson(res, status, body, status === 413 ? { connection: 'close' } : {})
      if (status === 413) req.resume()
    })
  })
  server.headersTimeout = 20_000
  server.requestTimeout = 120_000
  server.maxHeadersCount = 100
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n')
    else socket.destroy()
  })
  await new Promise<void>((resolve, reject) => {
    const fail = (error: Error): void => {
      reject(new WireError(`cannot serve the web UI on ${hostPart(options.host)}:${options.port}: ${error.message}; choose another with --http HOST:PORT, or --no-http`, { code: 'LISTEN_FAILED', cause: error }))
    }
    server.once('error', fail)
    server.listen(options.port, options.host, () => {
      server.off('error', fail)
      resolve()
    })
  })
  const bound = server.address()
  const port = typeof bound === 'object' && bound !== null ? bound.port : options.port
  hosts = allowedHosts(options.host, port, expose)
  const linkHost = isLoopbackHost(options.host) || options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : hostPart(options.host)
  let closing: Promise<void> | undefined
  log.info('web UI listening', { host: options.host, port })
  return {
    address: { host: options.host, port },
    hosts,
    url: `http://${linkHost}:${port}/?secret=${options.secret}`,
    built: files.built,
    attach: (events) => hub.attach(events),
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        hub.close()
        server.close(() => resolve())
        server.closeAllConnections()
      })),
  }
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    throw new HttpError(400, 'BAD_PATH', 'malformed path')
  }
}

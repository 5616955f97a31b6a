/**
 * Fuzzing the daemon's two doors (docs/fuzzing.md): JSON lines on the control socket and requests
 * on the HTTP API (paths, methods, headers, bodies; and raw bytes on the socket), against one real
 * in-process daemon (127.0.0.1, port 0, no mDNS, its own temp data dir).
 *
 * Each input must end in an answer: on the control socket one JSON line, `ok: true` or a typed
 * error (never `INTERNAL`); on HTTP a status below 500 with the API's error shape. And a refused
 * input writes nothing: the SQLite connection's `total_changes()` is the same after it.
 *
 * Ops that would reach the network (sync, WebRTC offers/answers, pair.join, blob fetches) are kept
 * out of the mix — a mutation that turns into one is replaced by `ping` — so nothing leaves 127.0.0.1.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startDaemon, type Daemon } from '../../src/apps/daemon/daemon.js'
import { OrbitError } from '../../src/core/errors.js'
import { initDevice } from '../../src/apps/node/device.js'
import type { Prng } from '../helpers/prng.js'
import { raw } from '../http/helpers.js'
import { FUZZ_TEST_TIMEOUT, fuzz, mutateBytes, mutateText } from './harness.js'

/** Ops and API paths that dial out, wait on a peer or restart the node: never sent by the fuzzer. */
const NETWORK_OPS = new Set(['sync', 'webrtc.offer', 'webrtc.answer', 'webrtc.accept', 'webrtc.answered', 'pair.join', 'blobs.fetch'])
const NETWORK_PATH = /sync|join|webrtc|fetch|offer|answer|accept/iu

/** OrbitError subclasses the daemon may answer with (src/core/errors.ts, src/apps/daemon/http/errors.ts). */
const TYPED = new Set(['OrbitError', 'ValidationError', 'UnknownIdError', 'StoreError', 'WireError', 'HandshakeError', 'PairingError', 'QrError', 'CryptoError', 'WebRtcError', 'AbortedError', 'HttpError'])

const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=='

let root: string
let daemon: Daemon
let secret: string
let port: number
let contactId: string

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'orbit-fuzz-'))
  const dir = join(root, 'data')
  await initDevice(dir, { name: 'Fuzz' })
  daemon = await startDaemon({ dataDir: dir, listen: { host: '127.0.0.1', port: 0 }, mdns: false, http: { host: '127.0.0.1', port: 0 }, webRoot: join(root, 'no-web') })
  const ui = daemon.ui()!
  secret = new URL(ui.url).searchParams.get('secret')!
  port = ui.port
  const answer = JSON.parse(await controlLine(JSON.stringify({ v: 1, id: 'seed', op: 'workspace.call', params: { method: 'addContact', args: [{ name: 'Seed Contact', emails: ['seed@example.org'] }] } }))) as { result: { id: string } }
  contactId = answer.result.id
}, 60_000)

afterAll(async () => {
  await daemon?.stop()
  if (root !== undefined) rmSync(root, { recursive: true, force: true })
})

/** Rows written through the daemon's SQLite connection so far. */
const changes = (): number => (daemon.device.db.sqlite.prepare('SELECT total_changes() AS n').get() as { n: number }).n

/** One request line on a fresh connection; resolves with the first answer line. */
function controlLine(line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(daemon.controlPath)
    let buffer = ''
    socket.setEncoding('utf8')
    socket.on('connect', () => socket.write(line.endsWith('\n') ? line : line + '\n'))
    socket.on('data', (s: string) => {
      buffer += s
      const nl = buffer.indexOf('\n')
      if (nl >= 0) {
        socket.destroy()
        resolve(buffer.slice(0, nl))
      }
    })
    socket.on('error', reject)
    socket.on('close', () => reject(new Error(`control socket closed without an answer (had ${JSON.stringify(buffer.slice(0, 200))})`)))
  })
}

/** A typed refusal from an answer, as the OrbitError it stands for. */
function answerError(name: string, code: string, message: string): OrbitError {
  const error = new OrbitError(message, { code })
  error.name = name
  return error
}

// ---- structured JSON mutation ------------------------------------------------------------------

const ODD_VALUES: unknown[] = [null, true, false, 0, -1, 1.5, 2 ** 53 + 2, -1e308, 1e308, '', ' ', 'x'.repeat(300), '\u0000', '🙂', '../../etc/passwd', 'org_aaaaaaaaaaaaaaaaaaaaaaaaaa', 'ct_' + 'a'.repeat(26), [], [[[]]], {}, { __proto__: { polluted: true } }, { constructor: { prototype: { x: 1 } } }]

/** A copy of `value` with one leaf (or key) replaced, or a key added/removed. */
function mutateJson(prng: Prng, value: unknown, depth = 0): unknown {
  const leaf = (): unknown => (prng.chance(0.7) ? prng.pick(ODD_VALUES) : prng.word(prng.int(0, 12)))
  if (Array.isArray(value)) {
    const out = [...value]
    if (out.length === 0 || prng.chance(0.2)) out.push(leaf())
    else {
      const i = prng.int(0, out.length - 1)
      out[i] = prng.chance(0.6) && depth < 4 ? mutateJson(prng, out[i], depth + 1) : leaf()
    }
    return out
  }
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = { ...(value as Record<string, unknown>) }
    const keys = Object.keys(out)
    const r = prng.next()
    if (keys.length === 0 || r < 0.15) out[prng.pick(['extra', '__proto__', 'constructor', 'v', 'id', 'op', 'params', 'args', 'method', 'name'])] = leaf()
    else if (r < 0.25) delete out[prng.pick(keys)]
    else {
      const k = prng.pick(keys)
      out[k] = prng.chance(0.6) && depth < 4 ? mutateJson(prng, out[k], depth + 1) : leaf()
    }
    return out
  }
  return leaf()
}

// ---- the control socket --------------------------------------------------------------------------

function controlSeeds(): Array<Record<string, unknown>> {
  const call = (method: string, ...args: unknown[]) => ({ v: 1, id: 'f', op: 'workspace.call', params: { method, args } })
  const op = (name: string, params: Record<string, unknown> = {}) => ({ v: 1, id: 'f', op: name, params })
  return [
    op('ping'),
    op('status'),
    call('addContact', { name: 'Ada', emails: ['ada@example.org'], phones: ['+44 1'], tags: ['x'] }),
    call('editContact', contactId, { title: 'Countess' }),
    call('removeContact', contactId),
    call('restoreContact', contactId),
    call('getContact', contactId),
    call('listContacts', { limit: 5, query: 'a' }),
    call('addNote', contactId, 'a note'),
    call('addOrg', { name: 'Acme' }),
    call('listOrgs'),
    call('addContacts', [{ name: 'B' }, { name: 'C' }]),
    call('memberStatus'),
    op('device.list'),
    op('device.requireOrg', { id: 'org_x' }),
    op('device.revoke', { id: 'aaaa' }),
    op('peers'),
    op('blobs.status', {}),
    op('blobs.put', { base64: PNG }),
    op('blobs.putPart', { upload: 'abcdefgh', offset: 0, base64: PNG, done: true }),
    op('blobs.limit', {}),
    op('pair.invite', { ttlMs: 60_000 }),
    op('pair.accept', { code: 'orbit-accept:AAAA' }),
    op('sync.history', { limit: 3 }),
    op('qr.export', {}),
    op('qr.import', { base64: 'T0IBAB13c19hYWFh' }),
    op('webrtc.ice', {}),
    op('webrtc.host', {}),
    op('webrtc.cancel', { code: 'orbit-rtc1.AAAA' }),
    op('ui.url'),
  ]
}

/** The line to send, or `ping` when the mutation turned into an op that would reach the network. */
function safeLine(line: string): string {
  try {
    const v = JSON.parse(line) as { op?: unknown }
    if (typeof v === 'object' && v !== null && typeof v.op === 'string' && NETWORK_OPS.has(v.op)) return JSON.stringify({ v: 1, id: 'f', op: 'ping', params: {} })
  } catch {
    /* not JSON: sent as is */
  }
  return line.replace(/\n/gu, ' ')
}

describe('fuzz: the daemon control socket', () => {
  it(
    'mutated request lines: one JSON answer, ok or a typed error (never INTERNAL); a refused line writes nothing',
    async () => {
      const seeds = controlSeeds()
      const texts = seeds.map((s) => JSON.stringify(s))
      let okCount = 0
      const r = await fuzz<string>({
        name: 'control',
        seeds: [],
        generate: (prng) => safeLine(prng.chance(0.6) ? JSON.stringify(mutateJson(prng, prng.pick(seeds))) : prng.chance(0.1) ? prng.pick(texts) : mutateText(prng, texts)),
        inputs: 1000,
        ciMs: 5000,
        perInputMs: 10_000,
        run: async (line) => {
          const before = changes()
          const text = await controlLine(line)
          let answer: { v?: unknown; ok?: unknown; error?: { name?: unknown; code?: unknown; message?: unknown } }
          try {
            answer = JSON.parse(text) as typeof answer
          } catch {
            throw new Error(`answer is not JSON: ${text.slice(0, 200)}`)
          }
          if (answer.ok === true) {
            okCount++
            return answer
          }
          const e = answer.error
          if (answer.ok !== false || e === undefined || typeof e.name !== 'string' || typeof e.code !== 'string') throw new Error(`answer is neither ok nor a typed error: ${text.slice(0, 300)}`)
          if (e.code === 'INTERNAL' || !TYPED.has(e.name)) throw new Error(`untyped error ${e.name}/${e.code}: ${String(e.message)}`)
          const after = changes()
          if (after !== before) throw new Error(`a refused request (${e.name}/${e.code}) wrote ${after - before} row(s)`)
          // The daemon's typed refusal, re-thrown so the report counts it by name and code.
          throw answerError(e.name, e.code, String(e.message))
        },
      })
      if (r.inputs > 0) expect(okCount).toBeGreaterThan(0)
      // The daemon still answers, and the seeded contact is readable.
      expect(JSON.parse(await controlLine(JSON.stringify({ v: 1, id: 'x', op: 'ping', params: {} }))).ok).toBe(true)
    },
    FUZZ_TEST_TIMEOUT,
  )
})

// ---- the HTTP API --------------------------------------------------------------------------------

interface HttpInput {
  method: string
  path: string
  headers: Record<string, string>
  body?: string
}

function httpSeeds(): HttpInput[] {
  const json = (method: string, path: string, body: unknown): HttpInput => ({ method, path, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return [
    { method: 'GET', path: '/api/v1/status', headers: {} },
    { method: 'GET', path: '/api/v1/contacts?limit=5&offset=0&query=a', headers: {} },
    { method: 'GET', path: `/api/v1/contacts/${contactId}`, headers: {} },
    json('POST', '/api/v1/contacts', { name: 'Grace', emails: ['g@example.org'], tags: ['navy'] }),
    json('PATCH', `/api/v1/contacts/${contactId}`, { title: 'Rear Admiral' }),
    { method: 'DELETE', path: `/api/v1/contacts/${contactId}`, headers: {} },
    json('POST', `/api/v1/contacts/${contactId}/notes`, { text: 'hello' }),
    { method: 'GET', path: '/api/v1/orgs', headers: {} },
    json('POST', '/api/v1/orgs', { name: 'Navy' }),
    { method: 'GET', path: '/api/v1/peers', headers: {} },
    { method: 'GET', path: '/api/v1/blobs', headers: {} },
    json('POST', '/api/v1/pair/invite', { ttlMs: 60_000 }),
    json('POST', '/api/v1/qr/export', {}),
    json('POST', '/api/v1/qr/import', { bundle: 'T0IBAB13c19hYWFh' }),
    { method: 'POST', path: '/api/v1/blobs', headers: { 'content-type': 'image/png' }, body: Buffer.from(PNG, 'base64').toString('latin1') },
    { method: 'GET', path: '/', headers: {} },
    { method: 'GET', path: `/?secret=${'0'.repeat(10)}`, headers: {} },
  ]
}

const CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8', 'text/plain', 'image/png', 'multipart/form-data; boundary=x', '', 'application/jsonx', 'APPLICATION/JSON']

function httpInput(prng: Prng, seeds: readonly HttpInput[]): HttpInput {
  const seed = prng.pick(seeds)
  const out: HttpInput = { method: seed.method, path: seed.path, headers: { ...seed.headers }, ...(seed.body === undefined ? {} : { body: seed.body }) }
  for (let n = prng.int(1, 3); n > 0; n--) {
    const r = prng.next()
    if (r < 0.25) out.path = mutateText(prng, [out.path])
    else if (r < 0.55 && out.body !== undefined) {
      let parsed: unknown
      try {
        parsed = JSON.parse(out.body)
      } catch {
        parsed = undefined
      }
      out.body = parsed !== undefined && prng.chance(0.6) ? JSON.stringify(mutateJson(prng, parsed)) : mutateText(prng, [out.body])
    } else if (r < 0.65) out.method = prng.pick(['GET', 'POST', 'PATCH', 'DELETE', 'PUT', 'HEAD', 'OPTIONS', 'TRACE', 'get'])
    else if (r < 0.8) out.headers['content-type'] = prng.pick(CONTENT_TYPES)
    else if (r < 0.9) out.body = mutateText(prng, ['{"name":"x"}', 'null', '[]', '"s"', '{'])
    else out.headers[prng.pick(['accept', 'x-forwarded-for', 'cookie', 'range', 'if-none-match', 'transfer-encoding'])] = prng.pick(['*/*', '127.0.0.1', 'orbit_secret=nope', 'bytes=0-1', '"x"', 'identity'])
  }
  // Paths must stay a valid request target for the client (no spaces or controls); the server sees the rest.
  out.path = '/' + out.path.replace(/^\/+/u, '').replace(/[^\x21-\x7e]/gu, (c) => Buffer.from(c).toString('hex').replace(/../gu, '%$&'))
  let decoded = out.path
  try {
    decoded = decodeURIComponent(out.path)
  } catch {
    /* the server refuses it as it is */
  }
  if (NETWORK_PATH.test(decoded) || NETWORK_PATH.test(out.path)) return { method: 'GET', path: '/api/v1/status', headers: {} }
  return out
}

describe('fuzz: the daemon HTTP API', () => {
  it(
    'mutated paths, methods, headers and bodies (authorised, same origin): a status below 500 and the API error shape; a refused request writes nothing',
    async () => {
      const seeds = httpSeeds()
      const statuses = new Map<number, number>()
      await fuzz<HttpInput>({
        name: 'http',
        seeds,
        generate: httpInput,
        inputs: 1000,
        ciMs: 5000,
        perInputMs: 10_000,
        run: async (input) => {
          const before = changes()
          const withAuth = { authorization: `Bearer ${secret}`, origin: `http://127.0.0.1:${port}`, ...input.headers }
          const res = await raw(port, { method: input.method, path: input.path, headers: withAuth, ...(input.body === undefined ? {} : { body: input.body }) })
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
          if (res.status >= 500) throw new Error(`status ${res.status}: ${res.text.slice(0, 300)}`)
          if (res.status >= 400) {
            // Node's HTTP parser refuses some requests itself (a bad Transfer-Encoding): a bare 400, no body.
            const parserRefusal = res.status === 400 && res.text === ''
            if (input.path.startsWith('/api/') && input.method !== 'HEAD' && !parserRefusal) {
              const body = res.json<{ error?: { name?: string; code?: string } }>()
              if (typeof body.error?.code !== 'string' || !TYPED.has(String(body.error.name))) throw new Error(`error without the API's shape: ${res.text.slice(0, 200)}`)
            }
            const after = changes()
            if (after !== before) throw new Error(`a refused request (${res.status}) wrote ${after - before} row(s)`)
          }
          return res.status
        },
      })
      console.log(`http statuses: ${[...statuses].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}×${n}`).join(' ')}`)
      expect((await raw(port, { path: '/api/v1/status', headers: { authorization: `Bearer ${secret}` } })).status).toBe(200)
    },
    FUZZ_TEST_TIMEOUT,
  )

  it(
    'raw bytes on the HTTP socket (mutated requests: request line, headers, lengths, chunking): no 5xx, nothing written, the server still answers',
    async () => {
      const base = (extra: string, body = ''): string => `POST /api/v1/contacts HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${secret}\r\nOrigin: http://127.0.0.1:${port}\r\nContent-Type: application/json\r\n${extra}\r\n${body}`
      const seeds = [
        base('Content-Length: 14\r\n', '{"name":"Raw"}'),
        base('Transfer-Encoding: chunked\r\n', 'e\r\n{"name":"Raw"}\r\n0\r\n\r\n'),
        `GET /api/v1/contacts?limit=2 HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${secret}\r\n\r\n`,
        `GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nCookie: orbit_secret=${secret}\r\nConnection: close\r\n\r\n`,
      ].map((s) => new TextEncoder().encode(s))
      await fuzz<Uint8Array>({
        name: 'http-raw',
        seeds,
        generate: (prng, s) => mutateBytes(prng, s),
        inputs: 200,
        ciMs: 3000,
        perInputMs: 10_000,
        run: async (bytes) => {
          const before = changes()
          const response = await new Promise<string>((resolve) => {
            let got = ''
            const socket = connect(port, '127.0.0.1', () => socket.end(Buffer.from(bytes)))
            socket.setEncoding('latin1')
            socket.on('data', (d: string) => {
              got += d
            })
            // A request the server is still waiting on (a length longer than the body) is cut here.
            socket.setTimeout(300, () => socket.destroy())
            socket.on('close', () => resolve(got))
            socket.on('error', () => resolve(got))
          })
          const statuses = [...response.matchAll(/HTTP\/1\.[01] (\d{3})/gu)].map((m) => Number(m[1]))
          if (statuses.some((s) => s >= 500)) throw new Error(`a 5xx answer: ${response.slice(0, 300)}`)
          // Not "nothing written" here: a valid request followed by garbage on one connection is
          // served (and written) even when the garbage makes the server drop the connection before
          // the answer goes out. The structured target above checks that refusals write nothing.
          if (changes() - before > 1000) throw new Error('one connection wrote more than a request can')
          return statuses
        },
      })
      expect((await raw(port, { path: '/api/v1/status', headers: { authorization: `Bearer ${secret}` } })).status).toBe(200)
    },
    FUZZ_TEST_TIMEOUT,
  )
})

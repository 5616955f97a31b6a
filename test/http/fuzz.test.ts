import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { raw, UiScratch, type UiDaemon } from './helpers.js'

/** A small seeded generator (mulberry32), so a failure can be replayed. */
function rng(seed: number): () => number {
  let t = seed >>> 0
  return () => {
    t = (t + 0x6d2b79f5) >>> 0
    let r = Math.imul(t ^ (t >>> 15), 1 | t)
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296
  }
}

const PIECES = ['contacts', 'orgs', 'status', 'peers', 'sync', 'blobs', 'pair', 'invite', 'join', 'qr', 'export', 'import', 'webrtc', 'offer', 'accept', 'restore', 'notes', 'ct_aaaaaaaaaaaaaaaa', '..', '%2e%2e', '%00', '%ff', '', 'x'.repeat(300), '🙂', '?limit=-1', '?offset=9e99', '?query=%', '#frag']
const BODIES = ['', '{', 'null', '[]', '"x"', '{"name":1}', '{"name":"F","emails":[1]}', '{"__proto__":{"x":1}}', '{"code":""}', '{"bundle":"AAAA"}', '{"target":"nobody"}', '{"ttlMs":1e300}', 'x'.repeat(5000), '{"name":"' + 'z'.repeat(1000) + '"}']
const METHODS = ['GET', 'POST', 'PATCH', 'DELETE', 'PUT', 'HEAD', 'OPTIONS']

describe('the web UI server survives malformed requests', () => {
  const scratch = new UiScratch()
  let a: UiDaemon
  beforeAll(async () => {
    a = await scratch.daemon('Fuzz')
  }, 60_000)
  afterAll(() => scratch.cleanup())

  it('answers a few hundred random paths, methods and bodies with 4xx (never 5xx), and writes no contact it should not', async () => {
    const random = rng(12)
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!
    const statuses = new Map<number, number>()
    for (let i = 0; i < 300; i++) {
      const depth = 1 + Math.floor(random() * 4)
      const path = '/api/v1/' + Array.from({ length: depth }, () => pick(PIECES)).join('/')
      const method = pick(METHODS)
      const body = method === 'GET' || method === 'HEAD' ? undefined : pick(BODIES)
      const r = await raw(a.port, {
        method,
        path: path.replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(c)),
        headers: { authorization: `Bearer ${a.secret}`, origin: `http://127.0.0.1:${a.port}`, 'content-type': random() < 0.8 ? 'application/json' : 'text/plain' },
        ...(body === undefined ? {} : { body }),
      }).catch((e: Error) => ({ status: -1, text: e.message }))
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1)
      expect(r.status, `${method} ${path}: ${r.text.slice(0, 200)}`).toBeGreaterThanOrEqual(200)
      expect(r.status, `${method} ${path}: ${r.text.slice(0, 200)}`).toBeLessThan(500)
    }
    expect(statuses.size).toBeGreaterThan(2)
    // Only an accepted POST contacts (201; no other endpoint can create in this mix) added one.
    const page = (await a.api('GET', 'contacts?limit=200')).json<{ total: number }>()
    expect(page.total).toBe(statuses.get(201) ?? 0)
    expect((await a.api('GET', 'status')).status).toBe(200)
  }, 120_000)

  it('survives garbage on the socket: broken request lines, huge headers, a half-sent body', async () => {
    const random = rng(7)
    const garbage = [
      'GARBAGE\r\n\r\n',
      'GET / HTTP/9.9\r\n\r\n',
      `GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1:${a.port}\r\nX: ${'a'.repeat(40_000)}\r\n\r\n`,
      `POST /api/v1/contacts HTTP/1.1\r\nHost: 127.0.0.1:${a.port}\r\nContent-Length: 100\r\nAuthorization: Bearer ${a.secret}\r\nOrigin: http://127.0.0.1:${a.port}\r\n\r\n{"na`,
      `POST /api/v1/contacts HTTP/1.1\r\nHost: 127.0.0.1:${a.port}\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nzz\r\n`,
      Buffer.from(Array.from({ length: 2000 }, () => Math.floor(random() * 256))).toString('latin1'),
    ]
    for (const g of garbage) {
      await new Promise<void>((resolve) => {
        const socket = connect(a.port, '127.0.0.1', () => socket.write(g, 'latin1'))
        socket.on('data', () => undefined)
        socket.setTimeout(1500, () => socket.destroy())
        socket.on('close', () => resolve())
        socket.on('error', () => resolve())
      })
    }
    expect((await a.api('GET', 'status')).status).toBe(200)
    expect((await a.api('GET', 'contacts')).json<{ total: number }>().total).toBe(0)
  }, 60_000)
})

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { raw, UiScratch, type UiDaemon } from './helpers.js'

describe('web UI auth, Host and Origin', () => {
  const scratch = new UiScratch()
  let a: UiDaemon
  beforeAll(async () => {
    a = await scratch.daemon('A')
  }, 60_000)
  afterAll(() => scratch.cleanup())

  const host = (): string => `127.0.0.1:${a.port}`

  it('refuses the API without the secret, or with a wrong one (401 UNAUTHORIZED)', async () => {
    const none = await raw(a.port, { path: '/api/v1/status' })
    expect(none.status).toBe(401)
    expect(none.json<{ error: { code: string } }>().error.code).toBe('UNAUTHORIZED')
    const wrong = 'x'.repeat(a.secret.length)
    expect((await raw(a.port, { path: '/api/v1/status', headers: { authorization: `Bearer ${wrong}` } })).status).toBe(401)
    expect((await raw(a.port, { path: '/api/v1/status', headers: { cookie: `orbit_ui=${wrong}` } })).status).toBe(401)
    expect((await raw(a.port, { path: '/api/v1/status', headers: { cookie: `orbit_ui=${a.secret.slice(1)}` } })).status).toBe(401)
    const wrongLink = await raw(a.port, { path: `/?secret=${wrong}` })
    expect(wrongLink.status).toBe(401)
    expect(wrongLink.headers['set-cookie']).toBeUndefined()
  })

  it('the secret link sets an HttpOnly SameSite=Strict cookie and redirects 303 to /; the cookie then opens the API', async () => {
    const link = await raw(a.port, { path: `/?secret=${a.secret}` })
    expect(link.status).toBe(303)
    expect(link.headers.location).toBe('/')
    const setCookie = String(link.headers['set-cookie'])
    expect(setCookie).toBe(`orbit_ui=${a.secret}; HttpOnly; SameSite=Strict; Path=/`)
    const status = await raw(a.port, { path: '/api/v1/status', headers: { cookie: `other=1; orbit_ui=${a.secret}` } })
    expect(status.status).toBe(200)
    expect(status.json<{ device: { id: string } }>().device.id).toBe(a.daemon.device.identity.deviceId)
    // The Bearer header is the alternative.
    expect((await raw(a.port, { path: '/api/v1/status', headers: { authorization: `Bearer ${a.secret}` } })).status).toBe(200)
  })

  it('refuses a forged Host (DNS rebinding), for the API and the page', async () => {
    for (const h of ['evil.example:80', `evil.example:${a.port}`, '127.0.0.1', `127.0.0.1:${a.port + 1}`, '']) {
      const r = await raw(a.port, { path: '/api/v1/status', headers: { host: h, authorization: `Bearer ${a.secret}` } })
      expect(r.status, h).toBe(421)
      expect(r.json<{ error: { code: string } }>().error.code).toBe('HOST_REFUSED')
    }
    expect((await raw(a.port, { path: '/', headers: { host: `rebind.example:${a.port}` } })).status).toBe(421)
    for (const h of [`localhost:${a.port}`, `[::1]:${a.port}`, `LOCALHOST:${a.port}`]) {
      expect((await raw(a.port, { path: '/api/v1/status', headers: { host: h, authorization: `Bearer ${a.secret}` } })).status, h).toBe(200)
    }
  })

  it('refuses a foreign Origin on GET and POST, and a write with neither Origin nor Sec-Fetch-Site: same-origin', async () => {
    const auth = { authorization: `Bearer ${a.secret}` }
    for (const origin of ['http://evil.example', `http://localhost:${a.port + 1}`, 'null', `https://${host()}`]) {
      const get = await raw(a.port, { path: '/api/v1/status', headers: { ...auth, origin } })
      expect(get.status, origin).toBe(403)
      expect(get.json<{ error: { code: string } }>().error.code).toBe('ORIGIN_REFUSED')
      const post = await raw(a.port, { method: 'POST', path: '/api/v1/contacts', headers: { ...auth, origin, 'content-type': 'application/json' }, body: '{"name":"Mallory"}' })
      expect(post.status, origin).toBe(403)
    }
    const bare = await raw(a.port, { method: 'POST', path: '/api/v1/contacts', headers: { ...auth, 'content-type': 'application/json' }, body: '{"name":"Mallory"}' })
    expect(bare.status).toBe(403)
    const crossSite = await raw(a.port, { path: '/api/v1/contacts', headers: { ...auth, 'sec-fetch-site': 'cross-site' } })
    expect(crossSite.status).toBe(403)
    // Nothing was written by any of those.
    const list = await a.api('GET', 'contacts')
    expect(list.json<{ total: number }>().total).toBe(0)
    // The same write, same-origin, goes through.
    const ok = await raw(a.port, { method: 'POST', path: '/api/v1/contacts', headers: { ...auth, 'sec-fetch-site': 'same-origin', 'content-type': 'application/json' }, body: '{"name":"Alice"}' })
    expect(ok.status).toBe(201)
    const withOrigin = await raw(a.port, { method: 'POST', path: '/api/v1/contacts', headers: { ...auth, origin: `http://${host()}`, 'content-type': 'application/json' }, body: '{"name":"Bob"}' })
    expect(withOrigin.status).toBe(201)
    expect((await a.api('GET', 'contacts')).json<{ total: number }>().total).toBe(2)
  })

  it('serves the not-built page without the secret when dist/web is absent', async () => {
    const page = await raw(a.port, { path: '/' })
    expect(page.status).toBe(200)
    expect(page.headers['content-type']).toMatch(/^text\/html/)
    expect(page.text).toContain('was not built')
  })
})

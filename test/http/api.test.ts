import { PNG } from 'pngjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { raw, readEvents, UiScratch, type UiDaemon } from './helpers.js'

interface Page {
  total: number
  offset: number
  items: Array<{ id: string; name: string; deletedAt?: number; logo?: string; notes: Record<string, unknown> }>
}

function png(): Buffer {
  const image = new PNG({ width: 4, height: 3 })
  image.data.fill(200)
  return PNG.sync.write(image)
}

describe('web UI API: contacts, orgs, blobs, errors, events', () => {
  const scratch = new UiScratch()
  let a: UiDaemon
  beforeAll(async () => {
    a = await scratch.daemon('A')
  }, 60_000)
  afterAll(() => scratch.cleanup())

  it('an invalid contact field is 400 with its field, and nothing is written', async () => {
    const before = (await a.api('GET', 'contacts')).json<Page>().total
    const r = await a.api('POST', 'contacts', { name: 'Ada', emails: ['not-an-email'] })
    expect(r.status).toBe(400)
    const e = r.json<{ error: { name: string; code: string; field: string } }>().error
    expect(e).toMatchObject({ name: 'ValidationError', code: 'VALIDATION', field: 'emails[0]' })
    expect((await a.api('GET', 'contacts')).json<Page>().total).toBe(before)
    const bad = await a.api('POST', 'contacts', '{"name":')
    expect(bad.status).toBe(400)
    expect(bad.json<{ error: { code: string } }>().error.code).toBe('BAD_JSON')
    expect((await a.api('GET', 'contacts')).json<Page>().total).toBe(before)
  })

  it('an oversized body is 413, nothing written; the daemon answers after it', async () => {
    const r = await a.api('POST', 'contacts', JSON.stringify({ name: 'x'.repeat(70 * 1024) }))
    expect(r.status).toBe(413)
    expect(r.json<{ error: { code: string } }>().error.code).toBe('TOO_LARGE')
    expect((await a.api('GET', 'contacts')).json<Page>().total).toBe(0)
    expect((await a.api('GET', 'status')).status).toBe(200)
  })

  it('an unknown id is 404 (GET, PATCH, DELETE, restore, notes); an unknown endpoint is 404', async () => {
    const id = 'ct_aaaaaaaaaaaaaaaa'
    expect((await a.api('GET', `contacts/${id}`)).status).toBe(404)
    expect((await a.api('PATCH', `contacts/${id}`, { name: 'X' })).status).toBe(404)
    expect((await a.api('DELETE', `contacts/${id}`)).status).toBe(404)
    expect((await a.api('POST', `contacts/${id}/restore`)).status).toBe(404)
    const note = await a.api('POST', `contacts/${id}/notes`, { text: 'hi' })
    expect(note.status).toBe(404)
    expect(note.json<{ error: { name: string } }>().error.name).toBe('UnknownIdError')
    expect((await a.api('GET', 'nothing-here')).status).toBe(404)
    expect((await raw(a.port, { path: '/api/v2/status', headers: { authorization: `Bearer ${a.secret}` } })).status).toBe(404)
  })

  it('pages and searches contacts; edits, removes, restores, adds notes', async () => {
    const names = Array.from({ length: 25 }, (_, i) => `Person ${String(i).padStart(2, '0')}`)
    for (const name of names) expect((await a.api('POST', 'contacts', { name, ...(name.endsWith('7') ? { emails: [`p${name.slice(-2)}@acme.example`] } : {}) })).status).toBe(201)
    const first = (await a.api('GET', 'contacts?limit=10')).json<Page>()
    expect(first.total).toBe(25)
    expect(first.items.map((c) => c.name)).toEqual(names.slice(0, 10))
    const third = (await a.api('GET', 'contacts?limit=10&offset=20')).json<Page>()
    expect(third).toMatchObject({ total: 25, offset: 20 })
    expect(third.items.map((c) => c.name)).toEqual(names.slice(20))
    const acme = (await a.api('GET', 'contacts?query=ACME')).json<Page>()
    expect(acme.items.map((c) => c.name)).toEqual(['Person 07', 'Person 17'])
    expect((await a.api('GET', 'contacts?limit=201')).status).toBe(400)
    expect((await a.api('GET', 'contacts?limit=abc')).json<{ error: { field: string } }>().error.field).toBe('limit')
    expect((await a.api('GET', 'contacts?offset=-1')).status).toBe(400)
    expect((await a.api('GET', 'contacts?sort=name')).status).toBe(400)

    const id = first.items[0]!.id
    const edited = await a.api('PATCH', `contacts/${id}`, { name: 'Zed Renamed' })
    expect(edited.status).toBe(200)
    expect(edited.json<{ name: string }>().name).toBe('Zed Renamed')
    expect((await a.api('GET', `contacts/${id}`)).json<{ name: string }>().name).toBe('Zed Renamed')
    expect((await a.api('POST', `contacts/${id}/notes`, { text: '' })).json<{ error: { field: string } }>().error.field).toBe('text')
    const note = await a.api('POST', `contacts/${id}/notes`, { text: 'Met at the fair' })
    expect(note.status).toBe(201)
    expect(Object.values((await a.api('GET', `contacts/${id}`)).json<Page['items'][number]>().notes)).toHaveLength(1)
    const removed = await a.api('DELETE', `contacts/${id}`)
    expect(removed.status).toBe(200)
    expect(removed.json<{ deletedAt?: number }>().deletedAt).toBeTypeOf('number')
    expect((await a.api('GET', 'contacts')).json<Page>().total).toBe(24)
    expect((await a.api('GET', 'contacts?removed=true')).json<Page>().total).toBe(25)
    const restored = await a.api('POST', `contacts/${id}/restore`)
    expect(restored.json<{ deletedAt?: number }>().deletedAt).toBeUndefined()
    expect((await a.api('GET', 'contacts')).json<Page>().total).toBe(25)
  })

  it('lists organizations', async () => {
    const org = await a.daemon.api.workspace.addOrg({ name: 'Acme' })
    await a.daemon.device.flush()
    const orgs = (await a.api('GET', 'orgs')).json<Array<{ id: string; name: string }>>()
    expect(orgs.map((o) => o.id)).toContain(org.id)
  })

  it('uploads an image and serves it only once a contact refers to it', async () => {
    const bytes = png()
    const notImage = await a.api('POST', 'blobs', Buffer.from('hello'), { 'content-type': 'image/png' })
    expect(notImage.status).toBe(400)
    const wrongType = await a.api('POST', 'blobs', bytes, { 'content-type': 'text/plain' })
    expect(wrongType.status).toBe(400)
    const up = await a.api('POST', 'blobs', bytes, { 'content-type': 'image/png' })
    expect(up.status).toBe(201)
    const { hash } = up.json<{ hash: string }>()
    expect(hash).toMatch(/^[0-9a-f]{64}$/)
    expect((await a.api('GET', `blobs/${hash}`)).status).toBe(404)
    expect((await a.api('POST', 'contacts', { name: 'With logo', logo: hash })).status).toBe(201)
    const got = await a.api('GET', `blobs/${hash}`)
    expect(got.status).toBe(200)
    expect(got.headers['content-type']).toBe('image/png')
    expect(got.bytes.equals(bytes)).toBe(true)
    expect((await a.api('GET', 'blobs/nothex')).status).toBe(404)
    expect((await a.api('GET', `blobs/${'0'.repeat(64)}`)).status).toBe(404)
  })

  it('an image over the blob limit is 413', async () => {
    a.daemon.device.config.set('blobs.maxBytes', 1000)
    try {
      const big = Buffer.concat([png(), Buffer.alloc(2000)])
      const r = await a.api('POST', 'blobs', big, { 'content-type': 'image/png' })
      expect(r.status).toBe(413)
    } finally {
      a.daemon.device.config.set('blobs.maxBytes', undefined)
    }
  })

  it('the event stream sends state on connect and contacts after a contact add', async () => {
    let added = false
    const events = await readEvents(a.port, a.secret, (event) => {
      if (event === 'state' && !added) {
        added = true
        void a.api('POST', 'contacts', { name: 'Eve Event' })
      }
      return event === 'contacts' && added
    })
    expect(events[0]!.event).toBe('state')
    expect(events[0]!.data).toMatchObject({ status: expect.any(String), peers: [], activeSessions: [] })
    // The listing the page fetches on `contacts` already has it.
    const found = (await a.api('GET', 'contacts?query=Eve%20Event')).json<Page>()
    expect(found.total).toBe(1)
  })
})

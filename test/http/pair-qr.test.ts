import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FrameDecoder } from '../../src/core/qr/frame.js'
import { readEvents, UiScratch, type UiDaemon } from './helpers.js'

interface Page {
  total: number
  items: Array<{ id: string; name: string }>
}

async function until<T>(fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 200))
  }
}

/** Frames (base64) decoded back into their bundle, as the page does with FrameDecoder. */
function assemble(frames: string[]): string {
  const decoder = new FrameDecoder()
  for (const f of frames) {
    if (decoder.push(new Uint8Array(Buffer.from(f, 'base64'))).status === 'complete') return Buffer.from(decoder.result()!).toString('base64')
  }
  throw new Error('the frames did not complete a bundle')
}

describe('pairing, sync and QR through the HTTP API of two daemons', () => {
  const scratch = new UiScratch()
  let a: UiDaemon
  let b: UiDaemon
  beforeAll(async () => {
    ;[a, b] = await Promise.all([scratch.daemon('Alpha'), scratch.daemon('Beta')])
  }, 60_000)
  afterAll(() => scratch.cleanup())

  it('A invites (code + QR SVG), B joins: B restarts its node into A\'s workspace and its event stream says so', async () => {
    expect((await a.api('POST', 'contacts', { name: 'Ada From A' })).status).toBe(201)
    const invite = await a.api('POST', 'pair/invite', { ttlMs: 600_000 })
    expect(invite.status).toBe(200)
    const info = invite.json<{ code: string; qrSvg: string; workspace: { id: string } }>()
    expect(info.code).toMatch(/^orbit-invite:/)
    expect(info.qrSvg).toMatch(/^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/)
    expect((await a.api('POST', 'pair/invite', { ttlMs: -1 })).json<{ error: { field: string } }>().error.field).toBe('ttlMs')

    const aWorkspace = (await a.api('GET', 'status')).json<{ workspace: { id: string } }>().workspace.id
    expect((await b.api('GET', 'status')).json<{ workspace: { id: string } }>().workspace.id).not.toBe(aWorkspace)
    // B's page keeps its stream open across the restart and gets the new workspace in a state event.
    const seen = readEvents(b.port, b.secret, (event, data) => event === 'state' && (data as { workspace: { id: string } }).workspace.id === aWorkspace, 60_000)
    await new Promise((r) => setTimeout(r, 300))
    const joined = await b.api('POST', 'pair/join', { code: info.code })
    expect(joined.status, joined.text).toBe(200)
    expect(joined.json<{ workspace: { id: string }; contacts: number }>()).toMatchObject({ workspace: { id: aWorkspace }, contacts: 1 })
    await seen
    expect((await b.api('GET', 'status')).json<{ workspace: { id: string } }>().workspace.id).toBe(aWorkspace)
    expect((await b.api('GET', 'contacts')).json<Page>().items.map((c) => c.name)).toEqual(['Ada From A'])
    // The control socket serves the new node too.
    expect(b.daemon.device.workspace.workspaceId).toBe(aWorkspace)
    // A used invite is refused (409), and B is still serving after it.
    const again = await b.api('POST', 'pair/join', { code: info.code })
    expect(again.status).toBe(409)
    expect((await b.api('GET', 'status')).status).toBe(200)
  }, 120_000)

  it('a contact added on A appears on B after a sync through the API; a state event reports the session', async () => {
    expect((await a.api('POST', 'contacts', { name: 'Grace After Pairing' })).status).toBe(201)
    const aId = a.daemon.device.identity.deviceId
    const t0 = Date.now()
    const synced = readEvents(b.port, b.secret, (event, data) => event === 'state' && ((data as { lastSyncTimestamp: number | null }).lastSyncTimestamp ?? 0) >= t0, 60_000)
    const sync = await b.api('POST', 'sync', { target: aId })
    expect(sync.status, sync.text).toBe(200)
    expect(sync.json<{ status: string }>().status).toBe('completed')
    await synced
    const names = await until(async () => {
      const page = (await b.api('GET', 'contacts')).json<Page>()
      return page.items.some((c) => c.name === 'Grace After Pairing') ? page.items.map((c) => c.name) : undefined
    })
    expect(names).toContain('Grace After Pairing')
    const peers = (await b.api('GET', 'peers')).json<Array<{ deviceId: string; paired: boolean }>>()
    expect(peers.find((p) => p.deviceId === aId)?.paired).toBe(true)
  }, 120_000)

  it('QR export on A, import on B (with a reply), reply imported on A: frames as base64, assembled as the page does', async () => {
    const bId = b.daemon.device.identity.deviceId
    const aId = a.daemon.device.identity.deviceId
    expect((await a.api('POST', 'contacts', { name: 'Quinn By QR' })).status).toBe(201)
    const exported = await a.api('POST', 'qr/export', { forDevice: bId })
    expect(exported.status, exported.text).toBe(200)
    const ex = exported.json<{ frames: string[]; documents: number; bundleBytes: number; recipients: string[] }>()
    expect(ex.frames.length).toBeGreaterThan(0)
    expect(ex.recipients).toEqual([bId])
    const bundle = assemble(ex.frames)
    expect(Buffer.from(bundle, 'base64').length).toBe(ex.bundleBytes)
    const imported = await b.api('POST', 'qr/import', { bundle })
    expect(imported.status, imported.text).toBe(200)
    const im = imported.json<{ imported: { senderId: string; status: string }; reply?: { frames: string[] } }>()
    expect(im.imported.senderId).toBe(aId)
    // The LAN link may have carried it first: then the bundle is "nothing new", and either way B has it.
    expect(['applied', 'nothing-new']).toContain(im.imported.status)
    expect((await b.api('GET', 'contacts?query=Quinn')).json<Page>().total).toBe(1)
    expect(im.reply?.frames.length).toBeGreaterThan(0)
    const back = await a.api('POST', 'qr/import', { bundle: assemble(im.reply!.frames), reply: false })
    expect(back.status, back.text).toBe(200)
    expect(back.json<{ imported: { senderId: string }; reply?: unknown }>()).toMatchObject({ imported: { senderId: bId } })
    expect(back.json<{ reply?: unknown }>().reply).toBeUndefined()
    // A tampered bundle is refused and changes nothing.
    const raw = Buffer.from(bundle, 'base64')
    raw[raw.length - 1] = raw[raw.length - 1]! ^ 0xff
    const tampered = await b.api('POST', 'qr/import', { bundle: raw.toString('base64') })
    expect(tampered.status).toBeGreaterThanOrEqual(400)
    expect(tampered.status).toBeLessThan(500)
    expect((await b.api('POST', 'qr/import', { bundle: '!!!' })).status).toBe(400)
  }, 120_000)
})

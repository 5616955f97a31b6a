import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { handleControlLine } from '../../src/apps/daemon/control-server.js'
import { UiScratch, type UiDaemon } from './helpers.js'

async function op(d: UiDaemon, name: string, params: Record<string, unknown>): Promise<{ ok: boolean; result?: Record<string, unknown>; error?: { name: string; code: string } }> {
  return JSON.parse(await handleControlLine(d.daemon, JSON.stringify({ v: 1, id: 't', op: name, params }))) as never
}

describe('control ops ui.url and pair.join', () => {
  const scratch = new UiScratch()
  let a: UiDaemon
  let b: UiDaemon
  beforeAll(async () => {
    ;[a, b] = await Promise.all([scratch.daemon('A'), scratch.daemon('B')])
  }, 60_000)
  afterAll(() => scratch.cleanup())

  it('ui.url answers the secret link the daemon serves', async () => {
    const r = await op(a, 'ui.url', {})
    expect(r.ok).toBe(true)
    expect(r.result).toMatchObject({ url: `http://127.0.0.1:${a.port}/?secret=${a.secret}`, port: a.port, exposed: false, built: false })
    expect((await op(a, 'ui.url', { extra: 1 })).error?.name).toBe('ValidationError')
  })

  it('pair.join refuses a malformed code, its own invite, and a device with data of its own, without restarting the node', async () => {
    const node = b.daemon.node
    expect((await op(b, 'pair.join', { code: 'orbit-invite:nonsense' })).error?.name).toBe('PairingError')
    const own = await b.daemon.createInvite()
    expect((await op(b, 'pair.join', { code: own.code })).error?.code).toBe('SELF')
    await b.daemon.api.workspace.addContact({ name: 'Mine' })
    const invite = await a.daemon.createInvite()
    expect((await op(b, 'pair.join', { code: invite.code })).error?.code).toBe('WORKSPACE_NOT_EMPTY')
    expect(b.daemon.node).toBe(node)
    expect(b.daemon.device.workspace.workspaceId).not.toBe(a.daemon.device.workspace.workspaceId)
  })
})

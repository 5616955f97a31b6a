/**
 * `orbit sync history`: every finished session of every tier lands in the store's `sync_history`
 * — LAN (`orbit sync` in-process, and the daemon's link), QR export and import, failed sessions
 * with their typed error — survives a restart, and reads the same with and without a daemon.
 * Real `orbit` child processes on 127.0.0.1, mDNS off.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { Scratch, jsonError, orbit, orbitJson, requireBuilt } from '../daemon/helpers.js'
import { eventually, history, pairOnLoopback } from './helpers.js'

const scratch = new Scratch()
afterEach(() => scratch.cleanup())
beforeAll(requireBuilt)

const KEYS = ['bytesReceived', 'bytesSent', 'changesReceived', 'changesSent', 'deviceId', 'durationMs', 'endedAt', 'id', 'method', 'startedAt', 'status']

describe('orbit sync history', () => {
  it('records LAN and QR sessions on both sides, failed ones with their error, and keeps them across a restart', async () => {
    const { a, b } = await pairOnLoopback(scratch)
    await orbitJson(b.dir, ['contact', 'add', '--name', 'Grace Hopper'])

    // LAN, in-process on B: one row with the session report's outcome.
    const report = await orbitJson<{ status: string; changesSent: number; documents: number }>(b.dir, ['sync', a.listen])
    expect(report.status).toBe('completed')
    const afterLan = await history(b.dir)
    expect(afterLan).toHaveLength(1)
    expect(afterLan[0]).toMatchObject({ method: 'local-network', deviceId: a.id, status: 'completed', via: a.listen, changesSent: report.changesSent, documents: report.documents })
    expect(afterLan[0]!.bytesSent).toBeGreaterThan(0)
    expect(afterLan[0]!.bytesReceived).toBeGreaterThan(0)
    expect(afterLan[0]!.endedAt).toBeGreaterThanOrEqual(afterLan[0]!.startedAt)
    for (const key of KEYS) expect(afterLan[0], key).toHaveProperty(key)

    // The daemon on A: its link with B is a row once the link closed (through the daemon's API).
    const onA = await eventually(() => history(a.dir, [b.id]), (rows) => rows.some((r) => r.changesReceived > 0))
    expect(onA.every((r) => r.method === 'local-network' && r.deviceId === b.id && r.status === 'completed')).toBe(true)
    expect(onA.find((r) => r.changesReceived > 0)!.changesReceived).toBe(report.changesSent)

    // QR: B exports for A (a session that sends), A imports it (one that receives).
    await orbitJson(b.dir, ['contact', 'add', '--name', 'Linus Torvalds'])
    const out = `${b.dir}-qr`
    const exported = await orbitJson<{ bundleBytes: number; documents: number }>(b.dir, ['qr', 'export', '--for', a.id, '--out', out])
    const qrOut = (await history(b.dir, ['--limit', '1']))[0]!
    expect(qrOut).toMatchObject({ method: 'qr-code', deviceId: a.id, status: 'completed', bytesSent: exported.bundleBytes, changesSent: exported.documents, bytesReceived: 0 })
    const imported = await orbitJson<{ changedDocuments: number }>(a.dir, ['qr', 'import', out])
    const qrIn = (await history(a.dir, ['--limit', '1']))[0]!
    expect(qrIn).toMatchObject({ method: 'qr-code', deviceId: b.id, status: 'completed', bytesReceived: exported.bundleBytes, changesReceived: imported.changedDocuments })

    // Failed sessions: an address nobody answers (no device: the row names the address), then A
    // stopped, so its remembered address refuses.
    const refused = await orbit(['--data', b.dir, '--json', 'sync', '127.0.0.1:1'])
    expect(refused.code).toBe(1)
    const noOne = (await history(b.dir, ['--limit', '1']))[0]!
    expect(noOne).toMatchObject({ method: 'local-network', deviceId: '', via: '127.0.0.1:1', status: 'error', error: { name: jsonError(refused).name, code: jsonError(refused).code } })
    expect(await a.serve.stop()).toBe(0)
    const down = await orbit(['--data', b.dir, '--json', 'sync', a.id.slice(0, 6)])
    expect(down.code).toBe(1)
    const failed = (await history(b.dir, [a.id.slice(0, 6), '--limit', '1']))[0]!
    // The row is the LAN session's own failure; the command's answer is the orchestrated one (no
    // live tier: NO_ROUTE), which names that failure.
    expect(failed).toMatchObject({ method: 'local-network', deviceId: a.id, status: 'error', error: { name: 'WireError' } })
    expect(jsonError(down).code).toBe('NO_ROUTE')
    expect(jsonError(down).message).toContain(failed.error!.message)

    // After the restart (A's daemon is gone: in-process now), everything is still there, newest first.
    const all = await history(a.dir)
    expect(all.map((r) => r.method)).toContain('qr-code')
    expect(all.map((r) => r.method)).toContain('local-network')
    expect([...all].sort((x, y) => y.endedAt - x.endedAt).map((r) => r.id)).toEqual(all.map((r) => r.id))
    const text = await orbit(['--data', a.dir, 'sync', 'history'])
    expect(text.code).toBe(0)
    expect(text.stdout).toMatch(/ENDED\s+DEVICE\s+METHOD\s+STATUS/)
    expect(text.stdout).toContain(b.id)
    expect(text.stdout).toContain('qr')
  }, 480_000)

  it('an orbit sync through a daemon is its own row at once, though the link it ran over stays up', async () => {
    const { a, b } = await pairOnLoopback(scratch)
    const serveB = scratch.serve(b.dir, ['--listen', '127.0.0.1:0', '--no-mdns', '--no-invite'])
    const readyB = (await serveB.ready) as unknown as { listen: string }
    await orbitJson(a.dir, ['contact', 'add', '--name', 'Katherine Johnson'])
    const before = (await history(a.dir, [b.id])).length
    const report = await orbitJson<{ method: string; status: string; changesSent: number }>(a.dir, ['sync', readyB.listen])
    expect(report).toMatchObject({ method: 'local-network', status: 'completed' })
    // Both daemons still run, so the link is up: the row is the asked-for session's, not the link's.
    const rows = await history(a.dir, [b.id])
    expect(rows).toHaveLength(before + 1)
    expect(rows[0]).toMatchObject({ method: 'local-network', deviceId: b.id, status: 'completed', changesSent: report.changesSent })
  }, 240_000)

  it('refuses bad input: an unknown device prefix is a typed error, a bad --limit a usage error; nothing is written', async () => {
    const dir = scratch.dir('orbit-state-')
    await orbitJson(dir, ['init', '--name', 'Solo'])
    expect(await history(dir)).toEqual([])
    const unknown = await orbit(['--data', dir, '--json', 'sync', 'history', 'zzzzzz'])
    expect(unknown.code).toBe(1)
    expect(jsonError(unknown)).toMatchObject({ name: 'UnknownIdError', code: 'UNKNOWN_ID' })
    for (const bad of ['garbage', '0', '-3', '1.5', '10001']) {
      const r = await orbit(['--data', dir, '--json', 'sync', 'history', '--limit', bad])
      expect(r.code, bad).toBe(2)
      expect(jsonError(r).code).toBe('USAGE')
    }
    expect(await history(dir)).toEqual([])
    const help = await orbit(['sync', 'history', '--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('Examples:')
  }, 120_000)
})

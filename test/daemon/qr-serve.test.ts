/**
 * `orbit qr export|import` while `orbit serve` runs on the data dir: they go through the daemon
 * (control ops `qr.export` / `qr.import`), not refused, the daemon applies the bundle, and its sync
 * store records the QR sessions (`method: "qr-code"`). Real child processes on loopback, no mDNS;
 * the frames are PNG files decoded from their pixels.
 */
import { readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { callDaemon, findDaemon } from '../../src/apps/control/client.js'
import { Scratch, contactNames, orbitJson, requireBuilt } from './helpers.js'

const scratch = new Scratch()
afterEach(() => scratch.cleanup())
beforeAll(requireBuilt)

interface Ready {
  deviceId: string
  invite?: { code: string }
}

describe('orbit qr with orbit serve running', () => {
  it('exports and imports through the daemon, which records the QR sessions', async () => {
    const a = scratch.dir()
    const serve = scratch.serve(a, ['--name', 'Alpha', '--listen', '127.0.0.1:0', '--no-mdns'])
    const ready = (await serve.ready) as unknown as Ready
    const b = scratch.dir()
    await orbitJson(b, ['init', '--name', 'Beta'])
    const joined = await orbitJson<{ members: { deviceId: string; name: string }[] }>(b, ['pair', 'join', ready.invite!.code])
    const beta = joined.members.find((m) => m.name === 'Beta')!.deviceId

    // While serving: a write and an export on A both go through the daemon.
    await orbitJson(a, ['contact', 'add', '--name', 'Ada Lovelace'])
    const out = join(dirname(a), 'to-beta')
    const exported = await orbitJson<{ frames: number; recipients: string[]; documents: number }>(a, ['qr', 'export', '--out', out, '--for', beta])
    expect(exported.recipients).toEqual([beta])
    expect(exported.documents).toBeGreaterThan(0)
    expect(readdirSync(out)).toContain('frame-0001.png')

    // B (no daemon) imports in-process and replies with its own change.
    await orbitJson(b, ['contact', 'add', '--name', 'Grace Hopper'])
    const reply = join(dirname(b), 'to-alpha')
    const imported = await orbitJson<{ status: string; senderId: string }>(b, ['qr', 'import', out, '--reply', reply])
    expect(imported).toMatchObject({ status: 'applied', senderId: ready.deviceId })
    expect(await contactNames(b)).toEqual(['Ada Lovelace', 'Grace Hopper'])

    // A imports the reply while serving: the daemon applies it.
    const back = await orbitJson<{ status: string; senderId: string; changedDocuments: number }>(a, ['qr', 'import', reply])
    expect(back).toMatchObject({ status: 'applied', senderId: beta })
    expect(back.changedDocuments).toBeGreaterThan(0)
    expect(await contactNames(a)).toEqual(['Ada Lovelace', 'Grace Hopper'])

    // Both QR sessions are in the daemon's sync store, next to the LAN session of the join.
    const status = (await callDaemon(findDaemon(a)!, 'status', {})) as { recentSessions: Array<{ method: string; peerId: string; status: string; bytesReceived: number; bytesSent: number }> }
    const qr = status.recentSessions.filter((s) => s.method === 'qr-code' && s.peerId === beta)
    expect(qr).toHaveLength(2)
    expect(qr.every((s) => s.status === 'completed')).toBe(true)
    expect(qr.some((s) => s.bytesSent > 0) && qr.some((s) => s.bytesReceived > 0)).toBe(true)
    expect(await serve.stop()).toBe(0)
  }, 180_000)
})

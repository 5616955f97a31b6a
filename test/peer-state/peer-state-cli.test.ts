/**
 * One sync state across tiers, from real devices on loopback (A runs `orbit serve`, B works
 * in-process): after a LAN sync both see the other in sync; an edit makes the other "1 document
 * behind" with a reason; and a QR export `--for` a device that last synced over LAN carries only
 * what it lacks — one new edit is one document in one frame (the bar).
 */
import { readdirSync } from 'node:fs'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { Scratch, orbit, orbitJson, requireBuilt } from '../daemon/helpers.js'
import { eventually, pairOnLoopback } from '../sync-history/helpers.js'

const scratch = new Scratch()
afterEach(() => scratch.cleanup())
beforeAll(requireBuilt)

interface Sync {
  state: string
  behind: number
  ahead: number
  unknown: number
  documents: number
  via?: string
  at?: number
  reason?: string
  detail?: string
}

async function syncOf(dir: string, deviceId: string): Promise<Sync> {
  const { peers } = await orbitJson<{ peers: Array<{ deviceId: string; sync: Sync }> }>(dir, ['peers'])
  return peers.find((p) => p.deviceId === deviceId)!.sync
}

const frames = (dir: string): number => readdirSync(dir).filter((f) => /^frame-\d+\.png$/.test(f)).length

describe('peer sync state across tiers', () => {
  it('in sync after LAN, N documents behind after an edit (with a reason), and a QR export --for then carries one frame', async () => {
    const { a, b } = await pairOnLoopback(scratch)
    await orbitJson(b.dir, ['contact', 'add', '--name', 'Grace Hopper'])
    expect((await orbitJson<{ status: string }>(b.dir, ['sync', a.listen])).status).toBe('completed')

    // Both sides learnt the other's heads over the LAN.
    const bSeesA = await syncOf(b.dir, a.id)
    expect(bSeesA).toMatchObject({ state: 'in-sync', behind: 0, ahead: 0, unknown: 0, via: 'local-network' })
    expect(bSeesA.documents).toBeGreaterThan(1)
    expect(bSeesA.reason).toBeUndefined()
    const aSeesB = await eventually(() => syncOf(a.dir, b.id), (s) => s.state === 'in-sync')
    expect(aSeesB).toMatchObject({ state: 'in-sync', behind: 0, ahead: 0, unknown: 0, via: 'local-network' })

    // One edit on each side: each sees the other one document behind, and says why it is not in sync.
    await orbitJson(b.dir, ['contact', 'add', '--name', 'Linus Torvalds'])
    await orbitJson(a.dir, ['contact', 'add', '--name', 'Ada Lovelace'])
    const bBehind = await syncOf(b.dir, a.id)
    expect(bBehind).toMatchObject({ state: 'behind', behind: 1, ahead: 0, via: 'local-network', reason: 'not-serving' })
    const aBehind = await syncOf(a.dir, b.id)
    expect(aBehind).toMatchObject({ state: 'behind', behind: 1, ahead: 0, via: 'local-network' })
    expect(typeof aBehind.reason).toBe('string')
    const status = await orbitJson<{ peers: Array<{ deviceId: string; sync: Sync }> }>(b.dir, ['status'])
    expect(status.peers.find((p) => p.deviceId === a.id)?.sync).toMatchObject({ state: 'behind', behind: 1 })
    const text = await orbit(['--data', b.dir, 'peers'])
    expect(text.stdout).toContain('1 document behind via LAN')

    // The bar: a QR export for a device that last synced over LAN, with one new edit to receive.
    const fromB = `${b.dir}-qr`
    const exportedB = await orbitJson<{ documents: number; frames: number }>(b.dir, ['qr', 'export', '--for', a.id, '--out', fromB])
    expect(exportedB).toMatchObject({ documents: 1, frames: 1 })
    expect(frames(fromB)).toBe(1)
    const fromA = `${a.dir}-qr` // through A's daemon: its knowledge came from the link B opened
    const exportedA = await orbitJson<{ documents: number; frames: number }>(a.dir, ['qr', 'export', '--for', b.id, '--out', fromA])
    expect(exportedA).toMatchObject({ documents: 1, frames: 1 })
    expect(frames(fromA)).toBe(1)
    // For scale: without knowledge (no --for) every document is carried.
    const all = await orbitJson<{ documents: number; frames: number }>(b.dir, ['qr', 'export', '--out', `${b.dir}-all`])
    expect(all.documents).toBe(bSeesA.documents)

    // Each imports the other's frame: the edits cross, and each learns the sender's heads by QR.
    await orbitJson(a.dir, ['qr', 'import', fromB])
    await orbitJson(b.dir, ['qr', 'import', fromA])
    const names = await orbitJson<{ contacts: Array<{ name: string }> }>(b.dir, ['contact', 'list'])
    expect(names.contacts.map((c) => c.name).sort()).toEqual(['Ada Lovelace', 'Grace Hopper', 'Linus Torvalds'])
    // B imported A's bundle: A's heads it now holds (plus B's own edit, which A has too now — but B cannot know that).
    const bAfter = await syncOf(b.dir, a.id)
    expect(bAfter.via).toBe('qr-code')
    expect(bAfter.ahead).toBe(0)
  }, 480_000)
})

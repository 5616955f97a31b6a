/**
 * `orbit serve`, `orbit pair`, `orbit sync`, `orbit device` as real child processes on 127.0.0.1
 * with mDNS off: pairing by code, sync by address with and without a daemon on the syncing side,
 * refused invites (wrong, expired, reused) that reveal nothing, and revocation.
 */
import { dirname, join } from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { encodeInviteCode, parseInviteCode } from '../../src/core/pairing/invite.js'
import { storeDigest } from '../cli/helpers.js'
import { Scratch, contactNames, jsonError, orbit, orbitJson, requireBuilt } from './helpers.js'

interface Ready {
  listen: string
  deviceId: string
  invite?: { code: string; expiresAt: number; addresses: string[] }
  workspace: { id: string }
}

const scratch = new Scratch()
afterEach(() => scratch.cleanup())
beforeAll(requireBuilt)

/** A first-run daemon ("start a device") on a fresh data dir, listening on a free loopback port. */
async function startDevice(name: string): Promise<{ dir: string; ready: Ready }> {
  const dir = scratch.dir()
  const serve = scratch.serve(dir, ['--name', name, '--listen', '127.0.0.1:0', '--no-mdns'])
  const ready = (await serve.ready) as unknown as Ready
  return { dir, ready }
}

describe('orbit serve + pair + sync on loopback', () => {
  it('refuses bad arguments as usage errors and explains a missing daemon', async () => {
    const dir = scratch.dir()
    for (const args of [['serve', '--listen', 'nowhere'], ['serve', '--interface', '300.1.1.1'], ['pair', 'invite', '--ttl', 'soon'], ['sync', '--via', 'carrier-pigeon']]) {
      const r = await orbit(['--data', dir, '--json', ...args])
      expect(r.code, args.join(' ')).toBe(2)
    }
    await orbitJson(dir, ['init', '--name', 'Lonely'])
    const invite = await orbit(['--data', dir, '--json', 'pair', 'invite'])
    expect(invite.code).toBe(1)
    expect(jsonError(invite)).toMatchObject({ name: 'PairingError', code: 'DAEMON_NOT_RUNNING' })
    const sync = await orbit(['--data', dir, '--json', 'sync'])
    expect(sync.code).toBe(2)
    const help = await orbit(['pair', 'join', '--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('Examples:')
  }, 120_000)

  it('pairs by code, edits on both sides, and `orbit sync HOST:PORT` makes both list the same contacts', async () => {
    const a = await startDevice('Alpha')
    expect(a.ready.invite?.code).toMatch(/^orbit-invite:/)
    // A second daemon on the same data dir is refused.
    const second = await orbit(['--data', a.dir, '--json', 'serve', '--listen', '127.0.0.1:0', '--no-mdns'])
    expect(second.code).toBe(1)
    expect(jsonError(second).code).toBe('DAEMON_RUNNING')

    const b = scratch.dir()
    await orbitJson(b, ['init', '--name', 'Beta'])
    const joined = await orbitJson<{ workspace: { id: string }; members: { name: string }[] }>(b, ['pair', 'join', a.ready.invite!.code])
    expect(joined.workspace.id).toBe(a.ready.workspace.id)
    expect(joined.members.map((m) => m.name).sort()).toEqual(['Alpha', 'Beta'])

    // Both list each other as paired members.
    const onA = await orbitJson<{ devices: { name: string; status: string }[] }>(a.dir, ['device', 'list'])
    const onB = await orbitJson<{ devices: { name: string; status: string }[] }>(b, ['device', 'list'])
    for (const list of [onA, onB]) expect(list.devices.map((d) => `${d.name}:${d.status}`).sort()).toEqual(['Alpha:member', 'Beta:member'])

    // Edits on both sides: A's goes through its daemon (its store has one writer), B's straight
    // into B's store. B receiving A's edit below shows the daemon, not a second process, wrote it.
    await orbitJson(a.dir, ['contact', 'add', '--name', 'Ada Lovelace'])
    await orbitJson(b, ['contact', 'add', '--name', 'Grace Hopper'])
    const report = await orbitJson<Record<string, unknown>>(b, ['sync', a.ready.listen])
    expect(report).toMatchObject({ method: 'local-network', status: 'completed', peer: { deviceId: a.ready.deviceId } })
    expect(report.changesSent).toBeGreaterThan(0)
    expect(report.changesReceived).toBeGreaterThan(0)
    expect(report.bytesSent).toBeGreaterThan(0)
    expect(typeof report.durationMs).toBe('number')

    expect(await contactNames(a.dir)).toEqual(['Ada Lovelace', 'Grace Hopper'])
    expect(await contactNames(b)).toEqual(['Ada Lovelace', 'Grace Hopper'])

    // A conflicting edit of one contact on both sides converges to one value on both.
    const ada = (await orbitJson<{ contacts: { id: string; name: string }[] }>(b, ['contact', 'list'])).contacts.find((c) => c.name === 'Ada Lovelace')!
    await orbitJson(a.dir, ['contact', 'edit', ada.id, '--title', 'Analyst'])
    await orbitJson(b, ['contact', 'edit', ada.id, '--title', 'Countess'])
    await orbitJson(b, ['sync', a.ready.listen])
    const titleA = (await orbitJson<{ title?: string }>(a.dir, ['contact', 'show', ada.id])).title
    const titleB = (await orbitJson<{ title?: string }>(b, ['contact', 'show', ada.id])).title
    expect(titleA).toBe(titleB)
    expect(['Analyst', 'Countess']).toContain(titleA)
  }, 180_000)

  it('pair join on a data dir orbit serve holds: the daemon joins and restarts into the workspace', async () => {
    const a = await startDevice('Alpha')
    await orbitJson(a.dir, ['contact', 'add', '--name', 'Ada Lovelace'])
    const b = await startDevice('Beta')
    expect(b.ready.workspace.id).not.toBe(a.ready.workspace.id)
    const joined = await orbitJson<{ workspace: { id: string }; members: { name: string }[]; contacts: number }>(b.dir, ['pair', 'join', a.ready.invite!.code])
    expect(joined.workspace.id).toBe(a.ready.workspace.id)
    expect(joined.members.map((m) => m.name).sort()).toEqual(['Alpha', 'Beta'])
    expect(joined.contacts).toBe(1)
    // The data dir now shows the joined workspace, and B's daemon serves it: a write through it
    // (the daemon holds the store) reaches A by the background link.
    const status = await orbitJson<{ workspace: { id: string } }>(b.dir, ['status'])
    expect(status.workspace.id).toBe(a.ready.workspace.id)
    expect(await contactNames(b.dir)).toEqual(['Ada Lovelace'])
    await orbitJson(b.dir, ['contact', 'add', '--name', 'Grace Hopper'])
    await orbitJson(b.dir, ['sync', a.ready.listen])
    expect(await contactNames(a.dir)).toEqual(['Ada Lovelace', 'Grace Hopper'])
    const human = await orbit(['--data', b.dir, 'pair', 'join', a.ready.invite!.code])
    expect(human.code).toBe(1)
  }, 180_000)

  it('refuses a reused, a wrong and an expired invite without revealing anything or writing anything', async () => {
    const a = await startDevice('Alpha')
    const code = a.ready.invite!.code
    const b = scratch.dir()
    await orbitJson(b, ['init', '--name', 'Beta'])
    await orbitJson(b, ['pair', 'join', code])

    // Reused: the secret was single-use.
    const c = scratch.dir()
    await orbitJson(c, ['init', '--name', 'Mallory'])
    const before = await storeDigest(c)
    const reused = await orbit(['--data', c, '--json', 'pair', 'join', code])
    expect(reused.code).toBe(1)
    expect(jsonError(reused)).toMatchObject({ name: 'PairingError', code: 'REFUSED' })
    expect(reused.stdout).toBe('')

    // Wrong: a fresh invite with its secret changed (checksum recomputed, so it parses).
    const fresh = await orbitJson<{ code: string }>(a.dir, ['pair', 'invite'])
    const invite = parseInviteCode(fresh.code)
    invite.secret = invite.secret.map((x) => x ^ 0xff)
    const wrong = await orbit(['--data', c, '--json', 'pair', 'join', encodeInviteCode(invite)])
    expect(jsonError(wrong)).toMatchObject({ name: 'PairingError', code: 'REFUSED' })

    // Expired: an invite of 1 s, used after it ran out (its expiry pushed forward in the code, so
    // only the inviter's own record says it expired).
    const short = await orbitJson<{ code: string }>(a.dir, ['pair', 'invite', '--ttl', '1s'])
    await new Promise((r) => setTimeout(r, 2100))
    const expiredLocally = await orbit(['--data', c, '--json', 'pair', 'join', short.code])
    expect(jsonError(expiredLocally)).toMatchObject({ name: 'PairingError', code: 'EXPIRED' })
    const stretched = parseInviteCode(short.code)
    stretched.expiresAt = Date.now() + 3_600_000
    const expired = await orbit(['--data', c, '--json', 'pair', 'join', encodeInviteCode(stretched)])
    expect(jsonError(expired)).toMatchObject({ name: 'PairingError', code: 'REFUSED' })

    // Nothing was written on the refused device, and the inviter's members did not change.
    expect(await storeDigest(c)).toBe(before)
    const members = await orbitJson<{ devices: { name: string }[] }>(a.dir, ['device', 'list'])
    expect(members.devices.map((d) => d.name).sort()).toEqual(['Alpha', 'Beta'])
    // The unpaired device cannot sync either: the handshake refuses it.
    const sync = await orbit(['--data', c, '--json', 'sync', a.ready.listen])
    expect(sync.code).toBe(1)
    expect(jsonError(sync).name).toBe('HandshakeError')
    expect(await contactNames(c)).toEqual([])
  }, 180_000)

  it('joins from the invite’s QR PNG; a revoked device is refused from then on and gets none of the later changes', async () => {
    const a = await startDevice('Alpha')
    const b = scratch.dir()
    await orbitJson(b, ['init', '--name', 'Beta'])
    const png = join(dirname(b), 'invite.png')
    const invite = await orbitJson<{ code: string; qr: string }>(a.dir, ['pair', 'invite', '--qr', png, '--ttl', '5m'])
    expect(invite.qr).toBe(png)
    const joined = await orbitJson<{ members: { deviceId: string; name: string }[] }>(b, ['pair', 'join', png])
    const peers = await orbitJson<{ peers: { name: string; paired: boolean }[] }>(a.dir, ['peers'])
    expect(peers.peers.map((p) => `${p.name}:${p.paired}`)).toEqual(['Beta:true'])
    const beta = joined.members.find((m) => m.name === 'Beta')!.deviceId
    await orbitJson(b, ['sync', a.ready.listen])

    const revoked = await orbitJson<{ status: string }>(a.dir, ['device', 'revoke', beta.slice(0, 8)])
    expect(revoked.status).toBe('revoked')
    await orbitJson(a.dir, ['contact', 'add', '--name', 'Secret Contact'])
    const refused = await orbit(['--data', b, '--json', 'sync', a.ready.listen])
    expect(refused.code).toBe(1)
    expect(jsonError(refused)).toMatchObject({ name: 'HandshakeError', code: 'REFUSED' })
    expect(await contactNames(b)).toEqual([])
    // Sticky: still revoked in the list.
    const list = await orbitJson<{ devices: { id: string; status: string }[] }>(a.dir, ['device', 'list'])
    expect(list.devices.find((d) => d.id === beta)?.status).toBe('revoked')
  }, 180_000)
})

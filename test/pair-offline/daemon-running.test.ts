/**
 * Offline pairing while `orbit serve` runs on the inviter's data dir: `pair invite --offline` and
 * `pair accept` go through the daemon (control ops `pair.inviteOffline`, `pair.accept`), the
 * accepted joiner is a member at once, and the joiner completes the pairing with the daemon's QR
 * bundle. `pair join --offline` still refuses with DAEMON_RUNNING on a served data dir: it
 * replaces the workspace the daemon serves.
 */
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { decodeQrPng } from '../../src/adapters/qr-image/index.js'
import { contactNames, jsonError, orbit, orbitJson, requireBuilt, Scratch } from '../daemon/helpers.js'

const scratch = new Scratch()
beforeAll(requireBuilt)
afterEach(() => scratch.cleanup())

const qrText = (file: string): string => new TextDecoder().decode(decodeQrPng(new Uint8Array(readFileSync(file))))

describe('offline pairing with orbit serve running', () => {
  it('pair invite --offline and pair accept go through the daemon; the joiner then completes the pairing', async () => {
    const alice = scratch.dir('orbit-pair-offline-')
    const aliceId = (await orbitJson<{ deviceId: string }>(alice, ['init', '--name', 'Alice'])).deviceId
    await orbitJson(alice, ['contact', 'add', '--name', 'Ada Lovelace'])
    const serve = scratch.serve(alice, ['--listen', '127.0.0.1:0', '--no-mdns'])
    await serve.ready

    const invitePng = join(dirname(alice), `${aliceId}-invite.png`)
    const invite = await orbitJson<{ code: string; qr: string; workspace: { id: string } }>(alice, ['pair', 'invite', '--offline', '--qr', invitePng])
    expect(invite.code.startsWith('orbit-invite:')).toBe(true)
    expect(qrText(invitePng)).toBe(invite.code)

    const bob = scratch.dir('orbit-pair-offline-')
    const bobId = (await orbitJson<{ deviceId: string }>(bob, ['init', '--name', 'Bob'])).deviceId
    const acceptPng = join(dirname(bob), `${bobId}-acceptance.png`)
    const joined = await orbitJson<{ code: string; deviceId: string }>(bob, ['pair', 'join', invitePng, '--offline', '--qr', acceptPng])
    expect(joined.deviceId).toBe(bobId)

    // The daemon admits Bob, and says so once it is durable.
    const accepted = await orbitJson<{ joiner: { deviceId: string; name: string }; workspace: { id: string } }>(alice, ['pair', 'accept', acceptPng])
    expect(accepted).toMatchObject({ joiner: { deviceId: bobId, name: 'Bob' }, workspace: { id: invite.workspace.id } })
    const devices = await orbitJson<{ devices: { id: string; status: string }[] }>(alice, ['device', 'list'])
    expect(devices.devices.find((d) => d.id === bobId)).toMatchObject({ status: 'member' })
    const again = await orbit(['--data', alice, '--json', 'pair', 'accept', acceptPng])
    expect(again.code).toBe(1)
    expect(jsonError(again)).toMatchObject({ name: 'PairingError', code: 'REFUSED' })

    // The first bundle from the daemon carries the workspace; Bob (no daemon) adopts it.
    const q1 = join(dirname(alice), `${aliceId}-q1`)
    const r1 = join(dirname(bob), `${bobId}-r1`)
    await orbitJson(alice, ['qr', 'export', '--out', q1, '--for', bobId])
    const imported = await orbitJson<{ status: string; senderId: string; adoptedWorkspace?: string }>(bob, ['qr', 'import', q1, '--reply', r1])
    expect(imported).toMatchObject({ status: 'applied', senderId: aliceId, adoptedWorkspace: invite.workspace.id })
    expect(await contactNames(bob)).toEqual(['Ada Lovelace'])

    // Bob's edit comes back through the daemon.
    await orbitJson(bob, ['contact', 'add', '--name', 'Grace Hopper'])
    const q2 = join(dirname(bob), `${bobId}-q2`)
    await orbitJson(bob, ['qr', 'export', '--out', q2, '--for', aliceId])
    expect(await orbitJson(alice, ['qr', 'import', q2])).toMatchObject({ status: 'applied', senderId: bobId })
    expect(await contactNames(alice)).toEqual(['Ada Lovelace', 'Grace Hopper'])
    expect(await serve.stop()).toBe(0)
  }, 180_000)

  it('pair join --offline refuses with DAEMON_RUNNING on a data dir orbit serve holds', async () => {
    const alice = scratch.dir('orbit-pair-offline-')
    await orbitJson(alice, ['init', '--name', 'Alice'])
    const invite = await orbitJson<{ code: string }>(alice, ['pair', 'invite', '--offline'])
    const carol = scratch.dir('orbit-pair-offline-')
    await orbitJson(carol, ['init', '--name', 'Carol'])
    const serve = scratch.serve(carol, ['--listen', '127.0.0.1:0', '--no-mdns'])
    await serve.ready
    const join = await orbit(['--data', carol, '--json', 'pair', 'join', invite.code, '--offline'])
    expect(join.code).toBe(1)
    expect(jsonError(join)).toMatchObject({ name: 'StoreError', code: 'DAEMON_RUNNING' })
    expect(await serve.stop()).toBe(0)
    // Stopped: the same command works.
    const later = await orbitJson<{ code: string }>(carol, ['pair', 'join', invite.code, '--offline'])
    expect(later.code.startsWith('orbit-accept:')).toBe(true)
  }, 60_000)
})

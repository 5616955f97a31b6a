/**
 * The offline pairing commands write the store directly: while `orbit serve` holds the data dir
 * they refuse with StoreError DAEMON_RUNNING (and say how to proceed) instead of racing it.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { jsonError, orbit, orbitJson, requireBuilt, Scratch } from '../daemon/helpers.js'

const scratch = new Scratch()
afterEach(() => scratch.cleanup())

describe('offline pairing with orbit serve running', () => {
  it('pair invite --offline and pair accept refuse with DAEMON_RUNNING, and work once it is stopped', async () => {
    requireBuilt()
    const dir = scratch.dir('orbit-pair-offline-')
    await orbitJson(dir, ['init', '--name', 'Alice'])
    const serve = scratch.serve(dir, ['--listen', '127.0.0.1:0', '--no-mdns'])
    await serve.ready
    const invite = await orbit(['--data', dir, '--json', 'pair', 'invite', '--offline'])
    expect(invite.code).not.toBe(0)
    expect(jsonError(invite)).toMatchObject({ name: 'StoreError', code: 'DAEMON_RUNNING' })
    const accept = await orbit(['--data', dir, '--json', 'pair', 'accept', 'orbit-accept:AAAA'])
    expect(accept.code).not.toBe(0)
    expect(jsonError(accept)).toMatchObject({ name: 'StoreError', code: 'DAEMON_RUNNING' })
    expect(await serve.stop()).toBe(0)
    // Stopped: the same command works.
    const later = await orbitJson<{ code: string }>(dir, ['pair', 'invite', '--offline'])
    expect(later.code.startsWith('orbit-invite:')).toBe(true)
  }, 60_000)
})

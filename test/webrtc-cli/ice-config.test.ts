/**
 * `orbit webrtc ice|host add | list | clear` (config keys `webrtc.iceServers`, `webrtc.hostAddresses`) and `--ice` validation,
 * as real child processes: specs are validated before anything is stored or opened, TURN
 * passwords are not echoed in plain text, and clearing leaves host candidates only.
 */
import { join } from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { loadIdentity } from '../../src/adapters/identity-fs/index.js'
import { parseSignalCode } from '../../src/core/webrtc/signal.js'
import { Scratch, jsonError, requireBuilt } from './helpers.js'

const scratch = new Scratch()
beforeAll(requireBuilt)
afterEach(() => scratch.cleanup())

describe('orbit webrtc ice', () => {
  it('stores, lists and clears ICE servers; refuses malformed specs without storing them', async () => {
    const dir = join(scratch.root(), 'a')
    await scratch.json(dir, ['init', '--name', 'Alpha'])
    expect(await scratch.json(dir, ['webrtc', 'ice', 'list'])).toEqual({ iceServers: [] })

    await scratch.json(dir, ['webrtc', 'ice', 'add', 'stun:stun.example.org:3478'])
    const added = await scratch.json<{ iceServers: string[] }>(dir, ['webrtc', 'ice', 'add', 'turn:orbit:s3cret@turn.example.org:3478'])
    expect(added.iceServers).toEqual(['stun:stun.example.org:3478', 'turn:orbit:s3cret@turn.example.org:3478'])

    const human = await scratch.run(['--data', dir, 'webrtc', 'ice', 'list'])
    expect(human.code).toBe(0)
    expect(human.stdout).toContain('stun:stun.example.org:3478')
    expect(human.stdout).not.toContain('s3cret')

    for (const bad of ['turn:turn.example.org:3478', 'http://example.org', 'stun:user:pw@host:1']) {
      const r = await scratch.run(['--data', dir, '--json', 'webrtc', 'ice', 'add', bad])
      expect(r.code).toBe(1)
      expect(jsonError(r)).toMatchObject({ name: 'ValidationError' })
    }
    expect((await scratch.json<{ iceServers: string[] }>(dir, ['webrtc', 'ice', 'list'])).iceServers).toHaveLength(2)

    // A malformed --ice is refused before the device is opened or an offer made.
    const offer = await scratch.run(['--data', dir, '--json', 'webrtc', 'offer', '--ice', 'turn:nopass@host:1'])
    expect(offer.code).toBe(1)
    expect(offer.stdout).toBe('')
    expect(jsonError(offer)).toMatchObject({ name: 'ValidationError' })

    expect(await scratch.json(dir, ['webrtc', 'ice', 'clear'])).toEqual({ iceServers: [] })
    expect(await scratch.json(dir, ['webrtc', 'ice', 'list'])).toEqual({ iceServers: [] })

    // Not initialised: a StoreError saying what to run.
    const none = await scratch.run(['--data', join(scratch.root(), 'none'), '--json', 'webrtc', 'ice', 'list'])
    expect(none.code).toBe(1)
    expect(jsonError(none)).toMatchObject({ name: 'StoreError', code: 'NOT_INITIALISED' })
  })

  it('stores host addresses that offers then use (the code carries only those host candidates)', async () => {
    const root = scratch.root()
    const a = join(root, 'a')
    await scratch.json(a, ['init', '--name', 'Alpha'])
    expect(await scratch.json(a, ['webrtc', 'host', 'list'])).toEqual({ hostAddresses: [] })
    expect(await scratch.json(a, ['webrtc', 'host', 'add', '127.0.0.1'])).toEqual({ hostAddresses: ['127.0.0.1'] })
    const bad = await scratch.run(['--data', a, '--json', 'webrtc', 'host', 'add', 'not-an-ip'])
    expect(bad.code).toBe(1)
    expect(jsonError(bad)).toMatchObject({ name: 'ValidationError', code: 'VALIDATION' })

    const offering = scratch.start(['--data', a, '--json', 'webrtc', 'offer'])
    const code = (JSON.parse(await offering.line(0)) as { code: string }).code
    offering.endInput()
    await offering.exited
    const identity = loadIdentity(a)!
    const parsed = parseSignalCode(code, { now: Date.now, resolveMember: (id) => (id === identity.deviceId ? identity.publicKey : undefined) })
    const hosts = parsed.essentials.candidates.filter((c) => c.type === 'host')
    expect(hosts.length).toBeGreaterThan(0)
    expect(new Set(hosts.map((c) => c.address))).toEqual(new Set(['127.0.0.1']))

    expect(await scratch.json(a, ['webrtc', 'host', 'clear'])).toEqual({ hostAddresses: [] })
  })
})

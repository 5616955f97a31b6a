/**
 * `orbit webrtc ice add | list | clear` (config key `webrtc.iceServers`) and `--ice` validation,
 * as real child processes: specs are validated before anything is stored or opened, TURN
 * passwords are not echoed in plain text, and clearing leaves host candidates only.
 */
import { join } from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
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
})

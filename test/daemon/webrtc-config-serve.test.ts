/**
 * `orbit webrtc ice|host add | list | clear` while `orbit serve` runs on the data dir: they go
 * through the daemon (control ops `webrtc.ice`, `webrtc.host`), so the daemon's next offer uses
 * what was stored. Real child processes on loopback, no mDNS.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { loadIdentity } from '../../src/adapters/identity-fs/index.js'
import { parseSignalCode } from '../../src/core/webrtc/signal.js'
import { callDaemon, findDaemon } from '../../src/apps/control/client.js'
import { Scratch, jsonError, orbit, orbitJson, requireBuilt } from './helpers.js'

const scratch = new Scratch()
afterEach(() => scratch.cleanup())
beforeAll(requireBuilt)

describe('orbit webrtc ice|host with orbit serve running', () => {
  it('changes what the daemon stores and uses', async () => {
    const a = scratch.dir()
    await orbitJson(a, ['init', '--name', 'Alpha'])
    const serve = scratch.serve(a, ['--listen', '127.0.0.1:0', '--no-mdns'])
    await serve.ready
    const daemon = findDaemon(a)!

    expect(await orbitJson(a, ['webrtc', 'ice', 'list'])).toEqual({ iceServers: [] })
    expect(await orbitJson(a, ['webrtc', 'ice', 'add', 'stun:stun.example.org:3478'])).toEqual({ iceServers: ['stun:stun.example.org:3478'] })
    expect(await orbitJson(a, ['webrtc', 'ice', 'list'])).toEqual({ iceServers: ['stun:stun.example.org:3478'] })
    // The daemon itself holds it (the command did not write the store beside it).
    expect(await callDaemon(daemon, 'webrtc.ice', {})).toEqual({ iceServers: ['stun:stun.example.org:3478'] })
    const bad = await orbit(['--data', a, '--json', 'webrtc', 'ice', 'add', 'http://nope'])
    expect(bad.code).toBe(1)
    expect(jsonError(bad)).toMatchObject({ name: 'ValidationError' })
    expect(await orbitJson(a, ['webrtc', 'ice', 'clear'])).toEqual({ iceServers: [] })
    expect(await orbitJson(a, ['webrtc', 'ice', 'list'])).toEqual({ iceServers: [] })

    // A stored host address restricts the host candidates of the daemon's next offer.
    expect(await orbitJson(a, ['webrtc', 'host', 'add', '127.0.0.1'])).toEqual({ hostAddresses: ['127.0.0.1'] })
    expect(await callDaemon(daemon, 'webrtc.host', {})).toEqual({ hostAddresses: ['127.0.0.1'] })
    const offer = await orbitJson<{ code: string; heldBy: string }>(a, ['webrtc', 'offer'])
    expect(offer.heldBy).toBe('daemon')
    const identity = loadIdentity(a)!
    const parsed = parseSignalCode(offer.code, { now: Date.now, resolveMember: (id) => (id === identity.deviceId ? identity.publicKey : undefined) })
    const hosts = parsed.essentials.candidates.filter((c) => c.type === 'host')
    expect(hosts.length).toBeGreaterThan(0)
    expect(new Set(hosts.map((c) => c.address))).toEqual(new Set(['127.0.0.1']))
    expect(await orbitJson(a, ['webrtc', 'host', 'clear'])).toEqual({ hostAddresses: [] })
    expect(await orbitJson(a, ['webrtc', 'host', 'list'])).toEqual({ hostAddresses: [] })
    expect(await serve.stop()).toBe(0)
  }, 120_000)
})

/**
 * Who gets what over TCP: refused devices get nothing, replayed handshakes fail, a member cannot
 * speak as another peer, garbage on the port is dropped without harming the listener, and stalled
 * handshakes cannot fill the listener so that a member is refused.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { connect, type Socket } from 'node:net'
import { Repo, type PeerId } from '@automerge/automerge-repo'
import { generateIdentity } from '../../src/core/crypto/identity.js'
import { performHandshake } from '../../src/core/crypto/channel.js'
import type { DeviceId } from '../../src/core/ids.js'
import type { OrbitError } from '../../src/core/errors.js'
import { TcpNetworkAdapter, encodeFrame, type PairingConnection } from '../../src/adapters/transport-tcp/index.js'
import { TEST_BACKOFF, makeDevices, sessions } from './setup.js'

const cleanups: Array<() => void> = []
afterEach(() => {
  for (const c of cleanups.splice(0)) c()
})
const track = <T extends TcpNetworkAdapter>(a: T): T => {
  cleanups.push(() => a.disconnect())
  return a
}

function nextError(adapter: TcpNetworkAdapter): Promise<OrbitError> {
  return new Promise((resolve) => {
    const off = adapter.on2('connection-error', ({ error }) => {
      off()
      resolve(error)
    })
  })
}

function rawSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port }, () => resolve(s))
    s.resume() // discard what the server says; flowing mode is needed to see its close
    s.once('error', reject)
    cleanups.push(() => s.destroy())
  })
}

/** A TCP connection from `localAddress` (any of 127/8 is this host) that never says a word. */
function stalled(port: number, localAddress: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, localAddress }, () => resolve(s))
    s.resume()
    s.once('error', () => undefined)
    s.once('error', reject)
    cleanups.push(() => s.destroy())
  })
}

function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve()
    socket.once('close', () => resolve())
  })
}

/** A Repo on `device` with peer id = device id (the production policy). */
function repoOn(adapter: TcpNetworkAdapter, deviceId: DeviceId): Repo {
  return new Repo({ network: [adapter], peerId: deviceId as unknown as PeerId })
}

describe('TCP transport security', () => {
  it('refuses a device that is not a member: the dial fails and nothing reaches the Repo', async () => {
    const [owner] = await makeDevices(1)
    track(owner!.adapter)
    const ownerRepo = repoOn(owner!.adapter, owner!.identity.deviceId)
    const handle = ownerRepo.create<{ secret: string }>({ secret: 'crm data' })
    let candidates = 0
    owner!.adapter.on('peer-candidate', () => candidates++)

    const stranger = generateIdentity()
    const strangerAdapter = track(
      new TcpNetworkAdapter({ identity: stranger, authorize: () => 'member', backoff: TEST_BACKOFF }),
    )
    const strangerRepo = repoOn(strangerAdapter, stranger.deviceId)
    let strangerMessages = 0
    strangerAdapter.on('message', () => strangerMessages++)
    const ownerError = nextError(owner!.adapter)

    await expect(strangerAdapter.dial('127.0.0.1', owner!.port)).rejects.toMatchObject({ name: 'HandshakeError' })
    expect((await ownerError).name).toBe('HandshakeError')
    // The stranger cannot find the document either.
    await expect(strangerRepo.find(handle.url)).rejects.toThrow(/unavailable/)
    expect(candidates).toBe(0)
    expect(strangerMessages).toBe(0)
    expect(owner!.adapter.connectedDevices()).toEqual([])
  })

  it('refuses when the device at the address is not the one we expected', async () => {
    const [a, b, impostor] = await makeDevices(3)
    for (const d of [a, b, impostor]) track(d!.adapter)
    repoOn(a!.adapter, a!.identity.deviceId)
    repoOn(impostor!.adapter, impostor!.identity.deviceId)
    await expect(a!.adapter.dial('127.0.0.1', impostor!.port, { expectedDeviceId: b!.identity.deviceId })).rejects.toMatchObject({
      name: 'HandshakeError',
      code: 'UNEXPECTED_PEER',
    })
    expect(a!.adapter.connectedDevices()).toEqual([])
  })

  it('refuses a handshake replayed from an earlier session', async () => {
    const [server, client] = await makeDevices(2)
    for (const d of [server, client]) track(d!.adapter)
    // Record what the genuine client sends during its handshake.
    const recorded: Uint8Array[] = []
    const recorder = track(
      new TcpNetworkAdapter({
        identity: client!.identity,
        authorize: () => 'member',
        handshake: (io, opts) =>
          performHandshake({ send: (f) => (recorded.push(f.slice()), io.send(f)), receive: (s) => io.receive(s) }, opts),
      }),
    )
    repoOn(recorder, client!.identity.deviceId)
    repoOn(server!.adapter, server!.identity.deviceId)
    await recorder.dial('127.0.0.1', server!.port)
    expect(recorded.map((f) => f[0])).toEqual([1, 3]) // the initiator's hello and finish
    recorder.disconnect()

    let sessionsSeen = 0
    server!.adapter.on2('session', () => sessionsSeen++)
    const serverError = nextError(server!.adapter)
    const socket = await rawSocket(server!.port)
    for (const frame of recorded) socket.write(encodeFrame(frame))
    expect((await serverError).name).toBe('HandshakeError')
    await closed(socket)
    expect(sessionsSeen).toBe(0)
  })

  it('drops random bytes, oversized and future-version frames, and keeps serving', async () => {
    const [server, client] = await makeDevices(2)
    for (const d of [server, client]) track(d!.adapter)
    repoOn(server!.adapter, server!.identity.deviceId)
    repoOn(client!.adapter, client!.identity.deviceId)

    const inputs = [
      Uint8Array.from({ length: 300 }, (_, i) => (i * 7919) & 0xff), // garbage
      Uint8Array.of(1, 0xff, 0xff, 0xff, 0xff), // 4 GiB frame announced
      Uint8Array.of(9, 0, 0, 0, 1, 0), // framing version 9
      encodeFrame(Uint8Array.of(0x01, 2, 3)), // a hello truncated inside the Noise message
    ]
    for (const bytes of inputs) {
      const error = nextError(server!.adapter)
      const socket = await rawSocket(server!.port)
      socket.write(bytes)
      expect(['WireError', 'HandshakeError']).toContain((await error).name)
      await closed(socket)
    }
    await expect(client!.adapter.dial('127.0.0.1', server!.port)).resolves.toBe(server!.identity.deviceId)
  })

  it('refuses a member that joins under another device id', async () => {
    const [victim, server] = await makeDevices(2)
    const attacker = generateIdentity()
    const members = new Set([victim!.identity.deviceId, server!.identity.deviceId, attacker.deviceId])
    const serverAdapter = track(
      new TcpNetworkAdapter({
        identity: server!.identity,
        listen: { host: '127.0.0.1', port: 0 },
        authorize: (r) => (members.has(r.deviceId) ? 'member' : 'refuse'),
      }),
    )
    const port = (await serverAdapter.listen())!.port
    repoOn(serverAdapter, server!.identity.deviceId)
    let candidates = 0
    serverAdapter.on('peer-candidate', () => candidates++)
    // The attacker is a member, but announces the victim's device id as its peer id.
    const attackerAdapter = track(new TcpNetworkAdapter({ identity: attacker, authorize: () => 'member', peerIdPolicy: 'bound' }))
    new Repo({ network: [attackerAdapter], peerId: victim!.identity.deviceId as unknown as PeerId })
    const error = nextError(serverAdapter)
    void attackerAdapter.dial('127.0.0.1', port, { reconnect: false }).catch(() => undefined)
    expect(await error).toMatchObject({ name: 'HandshakeError', code: 'PEER_ID_MISMATCH' })
    expect(candidates).toBe(0)
    victim!.adapter.disconnect()
  })

  it('hands pairing sessions to the pairing handler and never to the Repo', async () => {
    const newcomer = generateIdentity()
    const pairing: PairingConnection[] = []
    const [host] = await makeDevices(1, {
      authorize: (r) => (r.deviceId === newcomer.deviceId ? 'pairing' : 'refuse'),
      onPairingSession: (c) => pairing.push(c),
    })
    track(host!.adapter)
    repoOn(host!.adapter, host!.identity.deviceId)
    let candidates = 0
    host!.adapter.on('peer-candidate', () => candidates++)
    const joiner = track(
      new TcpNetworkAdapter({
        identity: newcomer,
        authorize: () => 'pairing',
        onPairingSession: (c) => pairing.push(c),
      }),
    )
    const hostSession = sessions(host!.adapter, 1)
    await expect(joiner.dial('127.0.0.1', host!.port, { expectedDeviceId: host!.identity.deviceId })).resolves.toBe(
      host!.identity.deviceId,
    )
    await hostSession
    expect(pairing.map((p) => p.session.authorization)).toEqual(['pairing', 'pairing'])
    // The pairing exchange runs over the session: one message each way, end to end encrypted.
    const [a, b] = pairing
    for (const f of a!.session.encrypt(new TextEncoder().encode('proof'))) a!.io.send(f)
    const got = b!.session.decrypt(await b!.io.receive())
    expect(new TextDecoder().decode(got)).toBe('proof')
    expect(candidates).toBe(0)
    for (const p of pairing) p.close()
  })

  it('stalled handshakes from many addresses cannot lock a member out: the oldest make room', async () => {
    const [owner, member] = await makeDevices(2, { maxPendingHandshakes: 16 })
    track(owner!.adapter)
    track(member!.adapter)
    repoOn(owner!.adapter, owner!.identity.deviceId)
    repoOn(member!.adapter, member!.identity.deviceId)
    const evicted: string[] = []
    owner!.adapter.on2('connection-error', ({ error }) => {
      if (error.code === 'HANDSHAKE_EVICTED') evicted.push(error.code)
    })
    // 40 strangers, one connection each from its own address, none of them ever speaks.
    const strangers = await Promise.all(Array.from({ length: 40 }, (_, i) => stalled(owner!.port, `127.0.0.${i + 2}`)))
    await vi.waitFor(() => expect(evicted.length).toBe(40 - 16), { timeout: 10_000 })
    expect(strangers.filter((s) => s.destroyed || s.readableEnded).length).toBeGreaterThan(0)
    // An honest member still gets through.
    const session = sessions(owner!.adapter, 1)
    await expect(member!.adapter.dial('127.0.0.1', owner!.port)).resolves.toBe(owner!.identity.deviceId)
    await session
  })

  it('one address holds at most 8 pending handshakes; the rest are refused as BUSY and others still connect', async () => {
    const [owner, member] = await makeDevices(2)
    track(owner!.adapter)
    track(member!.adapter)
    repoOn(owner!.adapter, owner!.identity.deviceId)
    repoOn(member!.adapter, member!.identity.deviceId)
    const busy: string[] = []
    owner!.adapter.on2('connection-error', ({ error }) => {
      if (error.code === 'BUSY') busy.push(error.message)
    })
    const flood = await Promise.all(Array.from({ length: 30 }, () => stalled(owner!.port, '127.0.0.77')))
    await vi.waitFor(() => expect(busy.length).toBe(30 - 8), { timeout: 10_000 })
    expect(busy[0]).toMatch(/127\.0\.0\.77/)
    await Promise.all(flood.slice(8).map((s) => closed(s)))
    await expect(member!.adapter.dial('127.0.0.1', owner!.port)).resolves.toBe(owner!.identity.deviceId)
  })
})

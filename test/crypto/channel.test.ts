import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import {
  FrameType,
  MAX_FRAME_BYTES,
  performHandshake,
  type HandshakeOptions,
  type PeerAuthorization,
  type SecureSession,
} from '../../src/core/crypto/channel.js'
import { createMemoryPipe, type MemoryPipeEnd } from '../../src/core/crypto/memory-pipe.js'
import { generateIdentity, type DeviceIdentity } from '../../src/core/crypto/identity.js'
import { nodeChaChaPoly } from '../../src/adapters/crypto-node/index.js'

const alice = generateIdentity()
const bob = generateIdentity()
const mallory = generateIdentity()

type Side = Partial<HandshakeOptions> & { identity: DeviceIdentity }

async function connect(init: Side, resp: Side): Promise<{ a: PromiseSettledResult<SecureSession>; b: PromiseSettledResult<SecureSession>; ends: [MemoryPipeEnd, MemoryPipeEnd] }> {
  const ends = createMemoryPipe()
  const [a, b] = await Promise.allSettled([
    performHandshake(ends[0], { role: 'initiator', authorize: () => 'member', timeoutMs: 5000, ...init }),
    performHandshake(ends[1], { role: 'responder', authorize: () => 'member', timeoutMs: 5000, ...resp }),
  ])
  return { a, b, ends }
}

function ok(r: PromiseSettledResult<SecureSession>): SecureSession {
  if (r.status === 'rejected') throw r.reason
  return r.value
}
function failure(r: PromiseSettledResult<SecureSession>): { name: string; code: string } {
  expect(r.status).toBe('rejected')
  return (r as PromiseRejectedResult).reason as { name: string; code: string }
}

function deliver(from: SecureSession, to: SecureSession, message: Uint8Array): Uint8Array | undefined {
  let out: Uint8Array | undefined
  for (const frame of from.encrypt(message)) {
    expect(frame.length).toBeLessThanOrEqual(MAX_FRAME_BYTES)
    out = to.decrypt(frame)
  }
  return out
}

describe('secure channel handshake', () => {
  it('authenticates both devices, exchanges names and version, agrees on the handshake hash', async () => {
    const { a, b } = await connect({ identity: alice, deviceName: 'Alice’s laptop' }, { identity: bob, deviceName: 'Bob phone' })
    const sa = ok(a)
    const sb = ok(b)
    expect(sa.remoteDeviceId).toBe(bob.deviceId)
    expect(sb.remoteDeviceId).toBe(alice.deviceId)
    expect(Buffer.from(sa.remotePublicKey).equals(Buffer.from(bob.publicKey))).toBe(true)
    expect(sa.remoteName).toBe('Bob phone')
    expect(sb.remoteName).toBe('Alice’s laptop')
    expect(sa.protocolVersion).toBe(1)
    expect(sb.protocolVersion).toBe(1)
    expect(sa.authorization).toBe('member')
    expect(Buffer.from(sa.handshakeHash).equals(Buffer.from(sb.handshakeHash))).toBe(true)
    expect(JSON.stringify(sa)).not.toContain('handshakeHash')
  })

  it('interoperates when one side injects a native AEAD', async () => {
    const { a, b } = await connect({ identity: alice, aead: nodeChaChaPoly }, { identity: bob })
    const big = new Uint8Array(200_000).map((_, i) => i)
    expect(Buffer.from(deliver(ok(a), ok(b), big)!).equals(Buffer.from(big))).toBe(true)
    expect(Buffer.from(deliver(ok(b), ok(a), big)!).equals(Buffer.from(big))).toBe(true)
  })

  it('passes authorize the authenticated peer and reports its decision', async () => {
    const seen: string[] = []
    const { a, b } = await connect(
      { identity: alice, authorize: (r) => (seen.push(`a:${r.deviceId}`), 'pairing') },
      { identity: bob, authorize: async (r): Promise<PeerAuthorization> => (seen.push(`b:${r.deviceId}`), 'pairing') },
    )
    expect(ok(a).authorization).toBe('pairing')
    expect(ok(b).authorization).toBe('pairing')
    expect(seen).toEqual([`a:${bob.deviceId}`, `b:${alice.deviceId}`])
  })

  it('carries messages both ways, split into frames of at most 65535 bytes, including empty and large ones', async () => {
    const { a, b } = await connect({ identity: alice }, { identity: bob })
    const sa = ok(a)
    const sb = ok(b)
    const big = new Uint8Array(300_000).map((_, i) => i * 7)
    const frames = sa.encrypt(big)
    expect(frames.length).toBe(5)
    let got: Uint8Array | undefined
    frames.forEach((f, i) => {
      got = sb.decrypt(f)
      if (i < frames.length - 1) expect(got).toBeUndefined()
    })
    expect(Buffer.from(got!).equals(Buffer.from(big))).toBe(true)
    expect(deliver(sb, sa, new Uint8Array(0))).toEqual(new Uint8Array(0))
    expect([...deliver(sb, sa, Uint8Array.of(1, 2, 3))!]).toEqual([1, 2, 3])
    expect([...deliver(sa, sb, Uint8Array.of(4))!]).toEqual([4])
  })

  it('a refused initiator learns only "refused"; the responder reports why it refused', async () => {
    const { a, b, ends } = await connect({ identity: mallory }, { identity: bob, authorize: () => 'refuse' })
    expect(failure(a)).toMatchObject({ name: 'HandshakeError', code: 'REFUSED' })
    expect(failure(b)).toMatchObject({ name: 'HandshakeError', code: 'PEER_NOT_AUTHORIZED' })
    // Responder sent its reply and then a bare refusal: no confirmation, no session data.
    expect(ends[1].sent.map((f) => f[0])).toEqual([FrameType.Reply, FrameType.Abort])
    expect(ends[1].sent[1]!.length).toBe(2)
  })

  it('an initiator that refuses the responder never reveals its own identity', async () => {
    const { a, b, ends } = await connect({ identity: alice, authorize: () => 'refuse' }, { identity: mallory })
    expect(failure(a)).toMatchObject({ name: 'HandshakeError', code: 'PEER_NOT_AUTHORIZED' })
    expect(failure(b)).toMatchObject({ name: 'HandshakeError', code: 'REFUSED' })
    expect(ends[0].sent.map((f) => f[0])).toEqual([FrameType.Hello, FrameType.Abort])
    for (const frame of ends[0].sent) expect(Buffer.from(frame).includes(Buffer.from(alice.publicKey))).toBe(false)
  })

  it('rejects a device other than expectedRemote (e.g. an mDNS answer pointing at an attacker)', async () => {
    const { a, b } = await connect({ identity: alice, expectedRemote: bob.deviceId }, { identity: mallory })
    expect(failure(a)).toMatchObject({ name: 'HandshakeError', code: 'UNEXPECTED_PEER' })
    expect(failure(b)).toMatchObject({ name: 'HandshakeError', code: 'REFUSED' })
    const good = await connect({ identity: alice, expectedRemote: bob.deviceId }, { identity: bob })
    expect(ok(good.a).remoteDeviceId).toBe(bob.deviceId)
  })

  it('authorize throwing refuses the peer with a typed error', async () => {
    const { a, b } = await connect({ identity: alice }, { identity: bob, authorize: () => { throw new Error('db down') } })
    expect(failure(a)).toMatchObject({ name: 'HandshakeError', code: 'REFUSED' })
    expect(failure(b)).toMatchObject({ name: 'HandshakeError', code: 'AUTHORIZE_FAILED' })
  })
})

describe('protocol version negotiation', () => {
  it('picks the highest common version', async () => {
    const { a, b } = await connect({ identity: alice, supportedVersions: [1, 2] }, { identity: bob, supportedVersions: [3, 2] })
    expect(ok(a).protocolVersion).toBe(2)
    expect(ok(b).protocolVersion).toBe(2)
  })

  it('a future-only initiator gets UNSUPPORTED_VERSION, and so does the responder', async () => {
    const { a, b } = await connect({ identity: alice, supportedVersions: [2, 3] }, { identity: bob })
    expect(failure(a)).toMatchObject({ name: 'HandshakeError', code: 'UNSUPPORTED_VERSION' })
    expect(failure(b)).toMatchObject({ name: 'HandshakeError', code: 'UNSUPPORTED_VERSION' })
  })

  it('a future-only responder gets UNSUPPORTED_VERSION, and so does the initiator', async () => {
    const { a, b } = await connect({ identity: alice }, { identity: bob, supportedVersions: [7] })
    expect(failure(a)).toMatchObject({ name: 'HandshakeError', code: 'UNSUPPORTED_VERSION' })
    expect(failure(b)).toMatchObject({ name: 'HandshakeError', code: 'UNSUPPORTED_VERSION' })
  })
})

describe('replay and tampering', () => {
  it('a handshake replayed from an earlier session fails (fresh ephemerals on the other side)', async () => {
    const first = await connect({ identity: alice }, { identity: bob })
    ok(first.a)
    const recordedInitiator = first.ends[0].sent // Hello, Finish
    const recordedResponder = first.ends[1].sent // Reply, Confirm

    // Replay the initiator's frames to a fresh responder.
    const [attacker, victim] = createMemoryPipe()
    const responder = performHandshake(victim, { role: 'responder', identity: bob, authorize: () => 'member', timeoutMs: 5000 })
    attacker.send(recordedInitiator[0]!)
    attacker.send(recordedInitiator[1]!)
    await expect(responder).rejects.toMatchObject({ name: 'HandshakeError', code: 'BAD_MESSAGE' })

    // Replay the responder's frames to a fresh initiator.
    const [victim2, attacker2] = createMemoryPipe()
    const initiator = performHandshake(victim2, { role: 'initiator', identity: alice, authorize: () => 'member', timeoutMs: 5000 })
    attacker2.send(recordedResponder[0]!)
    await expect(initiator).rejects.toMatchObject({ name: 'HandshakeError', code: 'BAD_MESSAGE' })
  })

  it('detects tampered, replayed, reordered and oversized transport frames; the session then stays dead', async () => {
    const fresh = async (): Promise<[SecureSession, SecureSession]> => {
      const { a, b } = await connect({ identity: alice }, { identity: bob })
      return [ok(a), ok(b)]
    }
    let [sa, sb] = await fresh()
    const [f1] = sa.encrypt(Uint8Array.of(1, 2, 3))
    const bad = f1!.slice()
    bad[5] = (bad[5] as number) ^ 0x10
    expect(() => sb.decrypt(bad)).toThrow(expect.objectContaining({ name: 'WireError', code: 'DECRYPT' }))
    expect(() => sb.decrypt(f1!)).toThrow(expect.objectContaining({ name: 'WireError', code: 'SESSION_FAILED' }))
    ;[sa, sb] = await fresh()
    const [g1] = sa.encrypt(Uint8Array.of(1))
    expect(sb.decrypt(g1!)).toEqual(Uint8Array.of(1))
    expect(() => sb.decrypt(g1!)).toThrow(expect.objectContaining({ name: 'WireError', code: 'DECRYPT' })) // replay
    ;[sa, sb] = await fresh()
    const [h1] = sa.encrypt(Uint8Array.of(1))
    const [h2] = sa.encrypt(Uint8Array.of(2))
    expect(() => sb.decrypt(h2!)).toThrow(expect.objectContaining({ name: 'WireError' })) // reordered
    void h1
    ;[sa, sb] = await fresh()
    expect(() => sb.decrypt(new Uint8Array(MAX_FRAME_BYTES + 1))).toThrow(expect.objectContaining({ name: 'WireError', code: 'FRAME_TOO_LARGE' }))
    ;[sa, sb] = await fresh()
    expect(() => sb.decrypt(new Uint8Array(3))).toThrow(expect.objectContaining({ name: 'WireError', code: 'BAD_FRAME' }))
  })

  it('refuses to reassemble a message above the limit', async () => {
    const { a, b } = await connect({ identity: alice }, { identity: bob, maxMessageBytes: 100_000 })
    const sa = ok(a)
    const sb = ok(b)
    expect(deliver(sa, sb, new Uint8Array(100_000))?.length).toBe(100_000)
    const frames = sa.encrypt(new Uint8Array(150_000))
    expect(sb.decrypt(frames[0]!)).toBeUndefined()
    expect(() => sb.decrypt(frames[1]!)).toThrow(expect.objectContaining({ name: 'WireError', code: 'MESSAGE_TOO_LARGE' }))
    expect(() => sa.encrypt(new Uint8Array(64 * 1024 * 1024 + 1))).toThrow(expect.objectContaining({ name: 'WireError', code: 'MESSAGE_TOO_LARGE' }))
  })
})

describe('timeouts and cancellation', () => {
  it('times out against a silent peer with AbortedError TIMEOUT', async () => {
    const [end] = createMemoryPipe()
    await expect(performHandshake(end, { role: 'initiator', identity: alice, authorize: () => 'member', timeoutMs: 30 })).rejects.toMatchObject({
      name: 'AbortedError',
      code: 'TIMEOUT',
    })
  })

  it('stops when the caller aborts, even if the pipe ignores the signal', async () => {
    const controller = new AbortController()
    const deaf = { send: () => undefined, receive: () => new Promise<Uint8Array>(() => undefined) }
    const run = performHandshake(deaf, { role: 'responder', identity: bob, authorize: () => 'member', signal: controller.signal })
    controller.abort()
    await expect(run).rejects.toMatchObject({ name: 'AbortedError', code: 'ABORTED' })
  })

  it('stops when authorize never answers', async () => {
    const { a, b } = await connect({ identity: alice, timeoutMs: 200 }, { identity: bob, timeoutMs: 50, authorize: () => new Promise<PeerAuthorization>(() => undefined) })
    expect(failure(b)).toMatchObject({ name: 'AbortedError', code: 'TIMEOUT' })
    expect(['HandshakeError', 'AbortedError']).toContain(failure(a).name)
  })

  it('a pipe closed mid-handshake is a HandshakeError IO', async () => {
    const [a, b] = createMemoryPipe()
    const run = performHandshake(a, { role: 'initiator', identity: alice, authorize: () => 'member' })
    b.close()
    await expect(run).rejects.toMatchObject({ name: 'HandshakeError', code: 'IO' })
  })
})

describe('fuzzing', () => {
  const allowed = ['HandshakeError', 'AbortedError']

  /** Feeds `frames` to a victim in `role`, then closes; the victim must fail with a typed error. */
  async function attack(role: 'initiator' | 'responder', frames: Uint8Array[]): Promise<string> {
    const [attacker, victim] = createMemoryPipe()
    const run = performHandshake(victim, { role, identity: role === 'initiator' ? alice : bob, authorize: () => 'member', timeoutMs: 2000 })
    for (const f of frames) attacker.send(f)
    attacker.close()
    try {
      await run
      return 'resolved'
    } catch (e) {
      return (e as Error).name
    }
  }

  it('random frames at either role: typed errors only, never a crash or hang', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<'initiator' | 'responder'>('initiator', 'responder'),
        fc.array(
          fc.oneof(
            fc.uint8Array({ maxLength: 200 }),
            fc.tuple(fc.constantFrom(1, 2, 3, 4, 15), fc.uint8Array({ maxLength: 300 })).map(([t, b]) => Uint8Array.of(t, ...b)),
            // Well-formed-looking hellos: a key, then a version list.
            fc.tuple(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 8 })).map(([e, v]) => Uint8Array.of(1, ...e, v.length > 0 ? v[0]! : 1, v.length, ...v)),
          ),
          { maxLength: 4 },
        ),
        async (role, frames) => {
          expect(allowed).toContain(await attack(role, frames))
        },
      ),
      { numRuns: 300 },
    )
  })

  it('truncated and bit-flipped genuine handshake frames are rejected with typed errors', async () => {
    const { ends } = await connect({ identity: alice }, { identity: bob })
    const [hello, finish] = ends[0].sent
    const [reply] = ends[1].sent
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(0, 1, 2), fc.nat(), fc.integer({ min: 0, max: 7 }), fc.boolean(), async (which, pos, bit, truncate) => {
        const original = [hello, reply, finish][which]!
        const i = pos % original.length
        const frame = truncate ? original.subarray(0, i) : original.slice()
        if (!truncate) frame[i] = (frame[i] as number) ^ (1 << bit)
        const role = which === 1 ? 'initiator' : 'responder'
        const frames = which === 2 ? [hello!, frame] : [frame]
        const result = await attack(role, frames)
        expect(allowed).toContain(result)
      }),
      { numRuns: 300 },
    )
  })

  it('random and truncated transport frames into decrypt: WireError only', async () => {
    const { a, b } = await connect({ identity: alice }, { identity: bob })
    const sa = ok(a)
    const genuine = sa.encrypt(new Uint8Array(1000).fill(7))[0]!
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 2000 }), fc.nat({ max: genuine.length - 1 }).map((n) => genuine.subarray(0, n))), (frame) => {
        // Each attempt on a fresh view of the same dead-or-alive session: after the first error it stays dead, still typed.
        try {
          ok(b).decrypt(frame)
        } catch (e) {
          expect((e as Error).name).toBe('WireError')
        }
      }),
      { numRuns: 500 },
    )
  })
})

import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { generateIdentity } from '../../src/core/crypto/identity.js'
import { performHandshake, type PeerAuthorization, type SecureSession } from '../../src/core/crypto/channel.js'
import { createMemoryPipe } from '../../src/core/crypto/memory-pipe.js'
import { newWorkspaceId } from '../../src/core/ids.js'
import {
  MemoryInviteStore,
  buildPairRequest,
  createAcceptance,
  createInvite,
  encodeInviteCode,
  encodePairMessage,
  handlePairRequest,
  parseAcceptance,
  parseInviteCode,
  parsePairMessage,
  readPairResponse,
  verifyAcceptance,
  joinWithInvite,
  answerPairing,
  assertInviteUsable,
  type Invite,
  type PairWorkspace,
} from '../../src/core/pairing/index.js'
import { toBase64Url, fromBase64Url } from '../../src/core/crypto/bytes.js'
import { sha256 } from '@noble/hashes/sha2.js'

const inviter = generateIdentity()
const joiner = generateIdentity()
const mallory = generateIdentity()
const workspaceId = newWorkspaceId()
const NOW = 1_800_000_000_000
const ROOT = 'automerge:2j9knpCseyhnK8izDmLpGP5WMdZQ'

function issue(ttlMs = 60_000) {
  const store = new MemoryInviteStore()
  const created = createInvite({ identity: inviter, workspaceId, deviceName: 'Inviter laptop', addresses: ['192.168.7.2:7420', '[fe80::1%eth0]:7420', 'orbit.local:7420'], ttlMs, now: NOW })
  store.put(created.pending)
  return { store, ...created }
}

async function sessions(joinerSide = joiner, expected = inviter.deviceId): Promise<[SecureSession, SecureSession]> {
  const [a, b] = createMemoryPipe()
  const pairing = (): PeerAuthorization => 'pairing'
  return Promise.all([
    performHandshake(a, { role: 'initiator', identity: joinerSide, authorize: pairing, expectedRemote: expected, deviceName: 'Joiner phone' }),
    performHandshake(b, { role: 'responder', identity: inviter, authorize: pairing, deviceName: 'Inviter laptop' }),
  ])
}

const admit = (_invite: unknown, j: { deviceId: string; publicKey: Uint8Array; name: string }): PairWorkspace => ({
  workspaceName: 'Acme CRM',
  rootUrl: ROOT,
  members: [
    { deviceId: inviter.deviceId, publicKey: inviter.publicKey, name: 'Inviter laptop' },
    { deviceId: j.deviceId as never, publicKey: j.publicKey, name: j.name },
  ],
})

describe('invite codes', () => {
  it('round-trip with a recognisable URL-safe prefix and every field', () => {
    const { code, invite, secret } = issue()
    expect(code).toMatch(/^orbit-invite:[A-Za-z0-9_-]+$/)
    expect(code.length).toBeLessThan(250)
    const parsed = parseInviteCode(`  ${code}\n`)
    expect(parsed.inviterDeviceId).toBe(inviter.deviceId)
    expect(Buffer.from(parsed.inviterPublicKey).equals(Buffer.from(inviter.publicKey))).toBe(true)
    expect(parsed.inviterName).toBe('Inviter laptop')
    expect(parsed.workspaceId).toBe(workspaceId)
    expect(parsed.addresses).toEqual(invite.addresses)
    expect(Buffer.from(parsed.secret).equals(Buffer.from(secret))).toBe(true)
    expect(parsed.expiresAt).toBe(NOW + 60_000)
    expect(parsed.version).toBe(1)
    expect(encodeInviteCode(parsed)).toBe(code)
  })

  it('rejects every single-character change (checksum) and truncation with PairingError', () => {
    const { code } = issue()
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    fc.assert(
      fc.property(fc.nat(), fc.nat(), (p, c) => {
        const i = 'orbit-invite:'.length + (p % (code.length - 'orbit-invite:'.length))
        const ch = alphabet[c % alphabet.length]!
        if (ch === code[i]) return
        const tampered = code.slice(0, i) + ch + code.slice(i + 1)
        expect(() => parseInviteCode(tampered)).toThrow(expect.objectContaining({ name: 'PairingError' }))
      }),
      { numRuns: 400 },
    )
    for (let n = 0; n < code.length - 1; n++) expect(() => parseInviteCode(code.slice(0, n))).toThrow(expect.objectContaining({ name: 'PairingError' }))
  })

  it('rejects random input and another version with typed errors', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.uint8Array({ maxLength: 300 }).map((b) => 'orbit-invite:' + toBase64Url(b))), (s) => {
        try {
          parseInviteCode(s)
        } catch (e) {
          expect(['PairingError', 'ValidationError']).toContain((e as Error).name)
        }
      }),
      { numRuns: 500 },
    )
    // Random bodies that pass the checksum exercise the field parser itself.
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (tail, asV1) => {
        const body = asV1 ? Uint8Array.of(1, ...tail) : tail
        const sum = sha256(new Uint8Array([...new TextEncoder().encode('orbit-invite:'), ...body])).subarray(0, 4)
        try {
          parseInviteCode('orbit-invite:' + toBase64Url(new Uint8Array([...body, ...sum])))
        } catch (e) {
          expect((e as Error).name).toBe('PairingError')
        }
      }),
      { numRuns: 1000 },
    )
    expect(() => parseInviteCode(42)).toThrow(expect.objectContaining({ name: 'PairingError', code: 'MALFORMED' }))
    const { invite } = issue()
    const future = encodeInviteCode({ ...invite, version: 2 })
    expect(() => parseInviteCode(future)).toThrow(expect.objectContaining({ name: 'PairingError', code: 'UNSUPPORTED_VERSION' }))
  })

  it('validates addresses when creating', () => {
    for (const bad of ['1.2.3.4', '1.2.3.400:80', 'host:0', 'host:70000', 'a b:1', '[zz]:1']) {
      expect(() => createInvite({ identity: inviter, workspaceId, deviceName: 'x', addresses: [bad], now: NOW })).toThrow(expect.objectContaining({ name: 'ValidationError' }))
    }
  })

  it('expiry is checked at use time', () => {
    const { invite } = issue(1000)
    expect(() => assertInviteUsable(invite, NOW + 999)).not.toThrow()
    expect(() => assertInviteUsable(invite, NOW + 1000)).toThrow(expect.objectContaining({ name: 'PairingError', code: 'EXPIRED' }))
  })
})

describe('invite store', () => {
  it('take is single use; purgeExpired drops old invites; list hides expired ones', () => {
    const { store, pending } = issue(1000)
    expect(store.list(NOW)).toHaveLength(1)
    expect(store.list(NOW + 1000)).toHaveLength(0)
    expect(store.take(pending.secretHash)?.secretHash).toBe(pending.secretHash)
    expect(store.take(pending.secretHash)).toBeUndefined()
    store.put(pending)
    expect(store.purgeExpired(NOW + 1000)).toBe(1)
    expect(store.size).toBe(0)
  })
})

describe('live pairing over the secure channel', () => {
  it('joiner proves the secret bound to the handshake; inviter consumes the invite and accepts', async () => {
    const { store, code } = issue()
    const invite = parseInviteCode(code)
    const [js, is] = await sessions()
    expect(js.authorization).toBe('pairing')
    const request = buildPairRequest(invite, js, 'Joiner phone', NOW + 1)
    // Over the wire, through the encrypted session.
    const wire = js.encrypt(encodePairMessage(request)).map((f) => is.decrypt(f)).at(-1)!
    const received = parsePairMessage(wire)
    expect(received.type).toBe('pair-request')
    const decision = await handlePairRequest(received as never, is, store, NOW + 2, admit)
    expect(decision.accepted).toBe(true)
    if (!decision.accepted) return
    expect(decision.joiner.deviceId).toBe(joiner.deviceId)
    expect(decision.joiner.name).toBe('Joiner phone')
    const answer = is.encrypt(encodePairMessage(decision.response)).map((f) => js.decrypt(f)).at(-1)!
    const accept = readPairResponse(answer, invite)
    expect(accept.workspaceId).toBe(workspaceId)
    expect(accept.rootUrl).toBe(ROOT)
    expect(accept.workspaceName).toBe('Acme CRM')
    expect(accept.members.map((m) => m.deviceId)).toEqual([inviter.deviceId, joiner.deviceId])
    expect(store.size).toBe(0)

    // Single use: the same invite again, on a new session, is refused.
    const [js2, is2] = await sessions()
    const again = await handlePairRequest(buildPairRequest(invite, js2, 'Joiner phone', NOW + 3), is2, store, NOW + 3, admit)
    expect(again.accepted).toBe(false)
    expect(() => readPairResponse(encodePairMessage(again.response), invite)).toThrow(expect.objectContaining({ name: 'PairingError', code: 'REFUSED' }))
  })

  it('wrong, expired and used secrets all get the identical refusal', async () => {
    const responses: string[] = []
    {
      const { store, invite } = issue()
      const [js, is] = await sessions()
      const wrong: Invite = { ...invite, secret: new Uint8Array(16).fill(9) }
      const d = await handlePairRequest(buildPairRequest(wrong, js, 'x', NOW), is, store, NOW, admit)
      responses.push(toBase64Url(encodePairMessage(d.response)))
      expect(store.size).toBe(1) // a wrong guess consumes nothing
    }
    {
      const { store, invite } = issue(1000)
      const [js, is] = await sessions()
      const d = await handlePairRequest(buildPairRequest(invite, js, 'x', NOW), is, store, NOW + 5000, admit)
      responses.push(toBase64Url(encodePairMessage(d.response)))
    }
    {
      const { store, invite, pending } = issue()
      store.take(pending.secretHash)
      const [js, is] = await sessions()
      const d = await handlePairRequest(buildPairRequest(invite, js, 'x', NOW), is, store, NOW, admit)
      responses.push(toBase64Url(encodePairMessage(d.response)))
    }
    expect(new Set(responses).size).toBe(1)
    expect(parsePairMessage(fromBase64Url(responses[0]!))).toEqual({ type: 'pair-refuse' })
  })

  it('a proof from one session does not work on another (relay / replay)', async () => {
    const { store, invite } = issue()
    const [js1] = await sessions()
    const [, is2] = await sessions()
    const stolen = buildPairRequest(invite, js1, 'x', NOW)
    const d = await handlePairRequest(stolen, is2, store, NOW, admit)
    expect(d.accepted).toBe(false)
    expect(store.size).toBe(1)
  })

  it('the joiner refuses a session whose peer is not the inviter (MITM)', async () => {
    const { invite } = issue()
    const [a, b] = createMemoryPipe()
    const [js] = await Promise.all([
      performHandshake(a, { role: 'initiator', identity: joiner, authorize: () => 'pairing' }),
      performHandshake(b, { role: 'responder', identity: mallory, authorize: () => 'pairing' }),
    ])
    expect(() => buildPairRequest(invite, js, 'x', NOW)).toThrow(expect.objectContaining({ name: 'PairingError', code: 'INVITER_MISMATCH' }))
    expect(() => buildPairRequest(invite, js, 'x', invite.expiresAt)).toThrow(expect.objectContaining({ name: 'PairingError', code: 'EXPIRED' }))
  })

  it('a member session (not pairing) is refused', async () => {
    const { store, invite } = issue()
    const [js, is] = await sessions()
    const d = await handlePairRequest(buildPairRequest(invite, js, 'x', NOW), { ...is, authorization: 'member' }, store, NOW, admit)
    expect(d.accepted).toBe(false)
  })

  it('parsePairMessage: random bytes give PairingError only; messages round-trip', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        try {
          parsePairMessage(bytes)
        } catch (e) {
          expect((e as Error).name).toBe('PairingError')
        }
      }),
      { numRuns: 1000 },
    )
    const accept = { type: 'pair-accept' as const, workspaceId, ...admit(undefined, { deviceId: joiner.deviceId, publicKey: joiner.publicKey, name: 'J' }) }
    expect(parsePairMessage(encodePairMessage(accept))).toEqual(accept)
    const bytes = encodePairMessage(accept)
    for (let n = 0; n < bytes.length; n++) expect(() => parsePairMessage(bytes.subarray(0, n))).toThrow(expect.objectContaining({ name: 'PairingError' }))
    expect(() => parsePairMessage(Uint8Array.of(2, 3))).toThrow(expect.objectContaining({ name: 'PairingError', code: 'UNSUPPORTED_VERSION' }))
  })
})

describe('QR-only pairing (acceptance code)', () => {
  it('the inviter verifies the acceptance, consumes the invite and learns the joiner key', async () => {
    const { store, code } = issue()
    const invite = parseInviteCode(code)
    const acceptance = createAcceptance(invite, joiner, 'Joiner phone', NOW)
    expect(acceptance).toMatch(/^orbit-accept:[A-Za-z0-9_-]+$/)
    const { joiner: j, invite: used } = await verifyAcceptance(acceptance, store, NOW + 1, inviter)
    expect(j.deviceId).toBe(joiner.deviceId)
    expect(j.name).toBe('Joiner phone')
    expect(used.workspaceId).toBe(workspaceId)
    await expect(verifyAcceptance(acceptance, store, NOW + 2, inviter)).rejects.toMatchObject({ name: 'PairingError', code: 'REFUSED' })
  })

  it('refuses a wrong secret, an expired invite, another inviter; detects tampering', async () => {
    const { store, invite } = issue(1000)
    const wrong = createAcceptance({ ...invite, secret: new Uint8Array(16) }, joiner, 'x')
    await expect(verifyAcceptance(wrong, store, NOW, inviter)).rejects.toMatchObject({ name: 'PairingError', code: 'REFUSED' })
    const good = createAcceptance(invite, joiner, 'x')
    await expect(verifyAcceptance(good, store, NOW, mallory)).rejects.toMatchObject({ name: 'PairingError', code: 'REFUSED' })
    await expect(verifyAcceptance(good, store, NOW + 1000, inviter)).rejects.toMatchObject({ name: 'PairingError', code: 'REFUSED' })
    expect(() => createAcceptance(invite, joiner, 'x', NOW + 1000)).toThrow(expect.objectContaining({ code: 'EXPIRED' }))

    // Tampering with the body (re-computing the checksum, as an attacker could) breaks the signature.
    const raw = fromBase64Url(good.slice('orbit-accept:'.length))
    const body = raw.subarray(0, raw.length - 4).slice()
    body[body.length - 65] = (body[body.length - 65] as number) ^ 1 // last proof byte
    const sum = sha256(new Uint8Array([...new TextEncoder().encode('orbit-accept:'), ...body])).subarray(0, 4)
    const forged = 'orbit-accept:' + toBase64Url(new Uint8Array([...body, ...sum]))
    expect(() => parseAcceptance(forged)).toThrow(expect.objectContaining({ name: 'PairingError', code: 'BAD_SIGNATURE' }))
    fc.assert(
      fc.property(fc.string(), (s) => {
        try {
          parseAcceptance('orbit-accept:' + s)
        } catch (e) {
          expect(['PairingError']).toContain((e as Error).name)
        }
      }),
    )
  })
})

describe('one-call pairing over a pipe', () => {
  it('joinWithInvite + answerPairing: the joiner gets the workspace, the invite is consumed', async () => {
    const { store, code } = issue()
    const invite = parseInviteCode(code)
    const [joinerEnd, inviterEnd] = createMemoryPipe()
    const inviterSide = (async () => {
      const session = await performHandshake(inviterEnd, { role: 'responder', identity: inviter, deviceName: 'Inviter laptop', authorize: () => 'pairing' })
      return answerPairing(inviterEnd, session, { store, now: () => NOW + 10, admit })
    })()
    const [joined, decision] = await Promise.all([joinWithInvite(joinerEnd, { invite, identity: joiner, deviceName: 'Joiner phone', now: NOW + 5 }), inviterSide])
    expect(joined.accept.workspaceId).toBe(workspaceId)
    expect(joined.session.remoteName).toBe('Inviter laptop')
    expect(decision.accepted).toBe(true)
    expect(store.size).toBe(0)
  })

  it('a joiner with a wrong secret is refused with PairingError REFUSED', async () => {
    const { store, invite } = issue()
    const [joinerEnd, inviterEnd] = createMemoryPipe()
    const inviterSide = (async () => {
      const session = await performHandshake(inviterEnd, { role: 'responder', identity: inviter, authorize: () => 'pairing' })
      return answerPairing(inviterEnd, session, { store, now: () => NOW, admit })
    })()
    const [joined, decision] = await Promise.allSettled([
      joinWithInvite(joinerEnd, { invite: { ...invite, secret: new Uint8Array(16).fill(1) }, identity: joiner, deviceName: 'x', now: NOW }),
      inviterSide,
    ])
    expect(joined.status === 'rejected' && joined.reason).toMatchObject({ name: 'PairingError', code: 'REFUSED' })
    expect(decision.status === 'fulfilled' && decision.value.accepted).toBe(false)
    expect(store.size).toBe(1)
  })

  it('a joiner that reaches another device refuses it before revealing itself', async () => {
    const { invite } = issue()
    const [joinerEnd, otherEnd] = createMemoryPipe()
    const [joined] = await Promise.allSettled([
      joinWithInvite(joinerEnd, { invite, identity: joiner, deviceName: 'x', now: NOW }),
      performHandshake(otherEnd, { role: 'responder', identity: mallory, authorize: () => 'pairing' }),
    ])
    expect(joined.status === 'rejected' && joined.reason).toMatchObject({ name: 'HandshakeError', code: 'UNEXPECTED_PEER' })
    expect(joinerEnd.sent.some((f) => Buffer.from(f).includes(Buffer.from(joiner.publicKey)))).toBe(false)
  })

  it('times out when the inviter never answers', async () => {
    const { invite } = issue()
    const [joinerEnd, inviterEnd] = createMemoryPipe()
    const [joined] = await Promise.allSettled([
      joinWithInvite(joinerEnd, { invite, identity: joiner, deviceName: 'x', now: NOW, timeoutMs: 100 }),
      performHandshake(inviterEnd, { role: 'responder', identity: inviter, authorize: () => 'pairing' }),
    ])
    expect(joined.status === 'rejected' && joined.reason).toMatchObject({ name: 'AbortedError', code: 'TIMEOUT' })
  })
})

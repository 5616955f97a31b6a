/**
 * End-to-end checks of relayed signalling messages (src/core/engine/mesh-signal.ts,
 * docs/protocol/mesh.md): what a relay or an outsider can do to a sealed offer — tamper, re-address,
 * extend, forge, replay — is refused with a typed error, and nothing is returned.
 */
import { describe, expect, it } from 'vitest'
import { generateIdentity } from '../../src/core/crypto/identity.js'
import type { DeviceId } from '../../src/core/ids.js'
import { SignalInbox, sealSignal, type RelaySignal } from '../../src/core/engine/mesh-signal.js'

const a = generateIdentity()
const b = generateIdentity()
const c = generateIdentity()
const outsider = generateIdentity()
const members = new Map([a, b, c].map((d) => [d.deviceId as string, d.publicKey]))
const resolveMember = (id: DeviceId): Uint8Array | undefined => members.get(id)
const T0 = 1_700_000_000_000

function inboxOf(me = c, now = (): number => T0, maxSeen?: number): SignalInbox {
  return new SignalInbox({ me, resolveMember, now, ...(maxSeen === undefined ? {} : { maxSeen }) })
}

const offer = (sender = a, to = c, now = T0): RelaySignal =>
  sealSignal({ sender, recipient: { deviceId: to.deviceId, publicKey: to.publicKey }, body: { type: 'offer', code: 'orbit-rtc1.offer' }, now, ttlMs: 10_000 })

const code = (fn: () => unknown): string | undefined => {
  try {
    fn()
    return undefined
  } catch (error) {
    expect((error as Error).name).toBe('WireError')
    return (error as { code: string }).code
  }
}

describe('mesh signalling messages', () => {
  it('opens a member’s sealed offer for this device, naming the sender', () => {
    const opened = inboxOf().open(a.deviceId, offer())
    expect(opened.from).toBe(a.deviceId)
    expect(opened.body).toEqual({ type: 'offer', code: 'orbit-rtc1.offer' })
    expect(opened.id).toMatch(/^[0-9a-f]{32}$/)
  })

  it('the relay cannot read it: the code is not in the sealed bytes', () => {
    const s = offer()
    expect(Buffer.from(s.body).toString('latin1')).not.toContain('orbit-rtc1')
    // Nor open it as if it were the recipient.
    expect(code(() => inboxOf(b).open(a.deviceId, { ...s, to: b.deviceId }))).toBe('MESH_BAD_SIGNATURE')
  })

  it('refuses a bad signature: a flipped byte, or a body the relay re-sealed as the sender', () => {
    const s = offer()
    const body = s.body.slice()
    body[body.length - 100]! ^= 1
    expect(code(() => inboxOf().open(a.deviceId, { ...s, body }))).toBe('MESH_BAD_SIGNATURE')
    // The relay B seals its own offer for C and claims it is A's.
    const forged = offer(b)
    expect(code(() => inboxOf().open(a.deviceId, forged))).toBe('MESH_SENDER_MISMATCH')
  })

  it('refuses a changed expiry, id or recipient (bound into the signature)', () => {
    const s = offer()
    expect(code(() => inboxOf().open(a.deviceId, { ...s, expiresAt: s.expiresAt + 1000 }))).toBe('MESH_BAD_SIGNATURE')
    expect(code(() => inboxOf().open(a.deviceId, { ...s, id: new Uint8Array(16) }))).toBe('MESH_BAD_SIGNATURE')
    expect(code(() => inboxOf().open(a.deviceId, { ...s, to: b.deviceId }))).toBe('MESH_NOT_FOR_ME')
  })

  it('refuses a non-member sender, even one that signs correctly', () => {
    expect(code(() => inboxOf().open(outsider.deviceId, offer(outsider)))).toBe('MESH_NOT_MEMBER')
  })

  it('refuses a replay within the expiry window, and an expired message', () => {
    let now = T0
    const inbox = inboxOf(c, () => now)
    const s = offer()
    inbox.open(a.deviceId, s)
    expect(code(() => inbox.open(a.deviceId, s))).toBe('MESH_REPLAYED')
    now = s.expiresAt
    expect(code(() => inbox.open(a.deviceId, s))).toBe('MESH_EXPIRED')
    // Expired ids are forgotten: the set stays bounded by the window.
    inbox.open(a.deviceId, offer(a, c, now))
    expect(inbox.seen).toBe(1)
  })

  it('refuses garbage as MESH_MALFORMED, and new messages once the seen set is full (MESH_BUSY)', () => {
    const s = offer()
    expect(code(() => inboxOf().open(a.deviceId, { ...s, body: Uint8Array.of(1, 2, 3) }))).toBe('MESH_MALFORMED')
    const inbox = inboxOf(c, () => T0, 2)
    inbox.open(a.deviceId, offer())
    inbox.open(a.deviceId, offer())
    expect(code(() => inbox.open(a.deviceId, offer()))).toBe('MESH_BUSY')
  })

  it('refuses a message that claims to live longer than the relay window', () => {
    const s = sealSignal({ sender: a, recipient: { deviceId: c.deviceId, publicKey: c.publicKey }, body: { type: 'offer', code: 'x' }, now: T0 + 10 * 60_000 })
    expect(code(() => inboxOf().open(a.deviceId, s))).toBe('MESH_EXPIRED')
  })
})

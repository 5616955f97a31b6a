import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { generateIdentity, type DeviceIdentity } from '../../src/core/crypto/identity.js'
import { openSealed, seal, sealedSender } from '../../src/core/crypto/seal.js'
import type { DeviceId } from '../../src/core/ids.js'

const alice = generateIdentity()
const bob = generateIdentity()
const carol = generateIdentity()
const eve = generateIdentity()
const members = new Map<DeviceId, Uint8Array>([alice, bob, carol].map((d) => [d.deviceId, d.publicKey]))
const resolveSender = (id: DeviceId): Uint8Array | undefined => members.get(id)
const asRecipient = (d: DeviceIdentity) => ({ deviceId: d.deviceId, publicKey: d.publicKey })
const text = (s: string): Uint8Array => new TextEncoder().encode(s)

describe('sealed envelopes', () => {
  it('every recipient opens it and learns the sender; the plaintext is not visible', () => {
    const plaintext = text('contacts bundle: the secret pipeline')
    const sealed = seal({ plaintext, sender: alice, recipients: [asRecipient(bob), asRecipient(carol)] })
    expect(Buffer.from(sealed).includes(Buffer.from(plaintext))).toBe(false)
    expect(sealedSender(sealed)).toBe(alice.deviceId)
    for (const me of [bob, carol]) {
      const opened = openSealed(sealed, { me, resolveSender })
      expect(new TextDecoder().decode(opened.plaintext)).toBe('contacts bundle: the secret pipeline')
      expect(opened.senderId).toBe(alice.deviceId)
    }
  })

  it('handles empty and large plaintexts, and binds the external aad', () => {
    const big = new Uint8Array(1 << 20).map((_, i) => i)
    const aad = text('workspace ws_x')
    const sealed = seal({ plaintext: big, sender: alice, recipients: [asRecipient(bob)], aad })
    expect(Buffer.from(openSealed(sealed, { me: bob, resolveSender, aad }).plaintext).equals(Buffer.from(big))).toBe(true)
    expect(() => openSealed(sealed, { me: bob, resolveSender })).toThrow(expect.objectContaining({ name: 'CryptoError', code: 'BAD_SIGNATURE' }))
    expect(() => openSealed(sealed, { me: bob, resolveSender, aad: text('workspace ws_y') })).toThrow(expect.objectContaining({ name: 'CryptoError' }))
    const empty = seal({ plaintext: new Uint8Array(0), sender: alice, recipients: [asRecipient(bob)] })
    expect(openSealed(empty, { me: bob, resolveSender }).plaintext.length).toBe(0)
  })

  it('refuses non-recipients, unknown senders and forged sender ids', () => {
    const sealed = seal({ plaintext: text('x'), sender: alice, recipients: [asRecipient(bob)] })
    expect(() => openSealed(sealed, { me: carol, resolveSender })).toThrow(expect.objectContaining({ name: 'CryptoError', code: 'NOT_RECIPIENT' }))
    expect(() => openSealed(sealed, { me: eve, resolveSender })).toThrow(expect.objectContaining({ name: 'CryptoError', code: 'NOT_RECIPIENT' }))
    const fromEve = seal({ plaintext: text('x'), sender: eve, recipients: [asRecipient(bob)] })
    expect(() => openSealed(fromEve, { me: bob, resolveSender })).toThrow(expect.objectContaining({ name: 'CryptoError', code: 'UNKNOWN_SENDER' }))
    // Eve rewrites the sender id to Alice's: the signature no longer verifies.
    const forged = fromEve.slice()
    const aliceEnvelope = seal({ plaintext: text('x'), sender: alice, recipients: [asRecipient(bob)] })
    forged.set(aliceEnvelope.subarray(1, 21), 1)
    expect(() => openSealed(forged, { me: bob, resolveSender })).toThrow(expect.objectContaining({ name: 'CryptoError', code: 'BAD_SIGNATURE' }))
    // A resolver that returns a key for another device is not trusted.
    expect(() => openSealed(sealed, { me: bob, resolveSender: () => carol.publicKey })).toThrow(expect.objectContaining({ name: 'CryptoError', code: 'UNKNOWN_SENDER' }))
  })

  it('detects tampering in every byte (version, sender, ephemeral, nonce, recipients, ciphertext, signature)', () => {
    const sealed = seal({ plaintext: text('hello bob and carol'), sender: alice, recipients: [asRecipient(bob), asRecipient(carol)] })
    for (let i = 0; i < sealed.length; i++) {
      for (const mask of [0x01, 0x80]) {
        const bad = sealed.slice()
        bad[i] = (bad[i] as number) ^ mask
        expect(() => openSealed(bad, { me: bob, resolveSender }), `byte ${i}`).toThrow(expect.objectContaining({ name: 'CryptoError' }))
      }
    }
  })

  it('detects truncation and extension at every length', () => {
    const sealed = seal({ plaintext: text('short'), sender: alice, recipients: [asRecipient(bob)] })
    for (let n = 0; n < sealed.length; n++) {
      expect(() => openSealed(sealed.subarray(0, n), { me: bob, resolveSender }), `length ${n}`).toThrow(expect.objectContaining({ name: 'CryptoError' }))
    }
    expect(() => openSealed(new Uint8Array([...sealed, 0]), { me: bob, resolveSender })).toThrow(expect.objectContaining({ name: 'CryptoError' }))
  })

  it('random bytes give CryptoError only', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), (bytes, v1) => {
        const input = v1 && bytes.length > 0 ? Uint8Array.of(1, ...bytes) : bytes
        try {
          openSealed(input, { me: bob, resolveSender })
        } catch (e) {
          expect((e as Error).name).toBe('CryptoError')
        }
      }),
      { numRuns: 1000 },
    )
  })

  it('validates recipients when sealing', () => {
    expect(() => seal({ plaintext: text('x'), sender: alice, recipients: [] })).toThrow(expect.objectContaining({ name: 'CryptoError', code: 'NO_RECIPIENTS' }))
    expect(() => seal({ plaintext: text('x'), sender: alice, recipients: [{ deviceId: bob.deviceId, publicKey: carol.publicKey }] })).toThrow(
      expect.objectContaining({ name: 'CryptoError', code: 'BAD_KEY' }),
    )
    // Duplicates collapse to one entry.
    const once = seal({ plaintext: text('x'), sender: alice, recipients: [asRecipient(bob)] })
    const twice = seal({ plaintext: text('x'), sender: alice, recipients: [asRecipient(bob), asRecipient(bob)] })
    expect(twice.length).toBe(once.length)
  })
})

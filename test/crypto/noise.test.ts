import { describe, expect, it } from 'vitest'
import vector from './fixtures/noise-xx-25519-chachapoly-sha256.json' with { type: 'json' }
import { XXHandshake, x25519StaticKey, CipherState, nobleChaChaPoly, type ChaChaPolyAead } from '../../src/core/crypto/noise.js'
import { nodeChaChaPoly } from '../../src/adapters/crypto-node/index.js'

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'))
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

describe.each([
  ['noble', nobleChaChaPoly],
  ['node native', nodeChaChaPoly],
] as Array<[string, ChaChaPolyAead]>)('Noise_XX_25519_ChaChaPoly_SHA256 (%s AEAD)', (_name, aead) => {
  it('reproduces the cacophony test vector byte for byte', () => {
    expect(vector.protocol_name).toBe('Noise_XX_25519_ChaChaPoly_SHA256')
    const init = new XXHandshake({
      initiator: true,
      prologue: hex(vector.init_prologue),
      staticKey: x25519StaticKey(hex(vector.init_static)),
      ephemeralSecret: hex(vector.init_ephemeral),
      aead,
    })
    const resp = new XXHandshake({
      initiator: false,
      prologue: hex(vector.resp_prologue),
      staticKey: x25519StaticKey(hex(vector.resp_static)),
      ephemeralSecret: hex(vector.resp_ephemeral),
      aead,
    })
    const [m0, m1, m2, ...transport] = vector.messages
    // Handshake messages: 0 and 2 from the initiator, 1 from the responder.
    const c0 = init.writeMessage(hex(m0!.payload))
    expect(toHex(c0)).toBe(m0!.ciphertext)
    expect(toHex(resp.readMessage(c0))).toBe(m0!.payload)
    const c1 = resp.writeMessage(hex(m1!.payload))
    expect(toHex(c1)).toBe(m1!.ciphertext)
    expect(toHex(init.readMessage(c1))).toBe(m1!.payload)
    // The cacophony generator records `handshake_hash` as h after the second message (a quirk of
    // the vector file: the spec's final h also mixes in message 3). Message 3's ciphertext below
    // is authenticated with exactly this h as associated data, so matching it proves h too.
    expect(toHex(init.handshakeHash)).toBe(vector.handshake_hash)
    expect(toHex(resp.handshakeHash)).toBe(vector.handshake_hash)
    const c2 = init.writeMessage(hex(m2!.payload))
    expect(toHex(c2)).toBe(m2!.ciphertext)
    expect(toHex(resp.readMessage(c2))).toBe(m2!.payload)

    const i = init.finish()
    const r = resp.finish()
    expect(toHex(i.handshakeHash)).toBe(toHex(r.handshakeHash))
    expect(toHex(i.remoteStatic)).toBe(toHex(x25519StaticKey(hex(vector.resp_static)).publicKey))
    expect(toHex(r.remoteStatic)).toBe(toHex(x25519StaticKey(hex(vector.init_static)).publicKey))

    // Transport messages alternate, starting with the responder (the initiator wrote the last handshake message).
    transport.forEach((m, index) => {
      const [sender, receiver] = index % 2 === 0 ? [r, i] : [i, r]
      const ct = sender.send.encryptWithAd(new Uint8Array(0), hex(m.payload))
      expect(toHex(ct)).toBe(m.ciphertext)
      expect(toHex(receiver.receive.decryptWithAd(new Uint8Array(0), ct))).toBe(m.payload)
    })
  })

  it('rejects a tampered handshake message with HandshakeError and a tampered transport message with WireError', () => {
    const a = new XXHandshake({ initiator: true, prologue: new Uint8Array(0), staticKey: x25519StaticKey(new Uint8Array(32).fill(1)) })
    const b = new XXHandshake({ initiator: false, prologue: new Uint8Array(0), staticKey: x25519StaticKey(new Uint8Array(32).fill(2)) })
    b.readMessage(a.writeMessage(new Uint8Array(0)))
    const m2 = b.writeMessage(new Uint8Array([1, 2, 3]))
    const bad = m2.slice()
    bad[40] = (bad[40] as number) ^ 0x80
    expect(() => a.readMessage(bad)).toThrow(expect.objectContaining({ name: 'HandshakeError' }))

    const c = new CipherState(new Uint8Array(32), aead)
    const d = new CipherState(new Uint8Array(32), aead)
    const ct = c.encryptWithAd(new Uint8Array(0), new Uint8Array([9]))
    const tampered = ct.slice()
    tampered[0] = (tampered[0] as number) ^ 1
    expect(() => d.decryptWithAd(new Uint8Array(0), tampered)).toThrow(expect.objectContaining({ name: 'WireError', code: 'DECRYPT' }))
    // Failed decryption does not advance the nonce: the genuine message still opens.
    expect([...d.decryptWithAd(new Uint8Array(0), ct)]).toEqual([9])
  })

  it('rejects truncated messages and out-of-turn calls with HandshakeError', () => {
    const a = new XXHandshake({ initiator: true, prologue: new Uint8Array(0), staticKey: x25519StaticKey(new Uint8Array(32).fill(1)) })
    const b = new XXHandshake({ initiator: false, prologue: new Uint8Array(0), staticKey: x25519StaticKey(new Uint8Array(32).fill(2)) })
    expect(() => a.readMessage(new Uint8Array(32))).toThrow(expect.objectContaining({ name: 'HandshakeError', code: 'STATE' }))
    expect(() => b.readMessage(new Uint8Array(5))).toThrow(expect.objectContaining({ name: 'HandshakeError', code: 'TRUNCATED' }))
  })
})

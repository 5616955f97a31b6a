/**
 * Node's native (OpenSSL) ChaCha20-Poly1305 as a `ChaChaPolyAead`. Core defaults to
 * @noble/ciphers so it runs anywhere; on Node the transports inject this one, which is about 15×
 * faster (≈ 580 vs 40 MB/s here), because the secure channel sits on the initial-sync hot path.
 * It reproduces the Noise test vectors (test/crypto/noise.test.ts).
 */
import { createCipheriv, createDecipheriv } from 'node:crypto'
import type { ChaChaPolyAead } from '../../core/crypto/noise.js'

/** The AEAD to pass as `aead` to `performHandshake` on Node. */
export const nodeChaChaPoly: ChaChaPolyAead = {
  seal(key, nonce, ad, plaintext) {
    const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
    // The secure channel's transport messages have no associated data: no AAD call at all, the same tag.
    if (ad.length > 0) cipher.setAAD(ad, { plaintextLength: plaintext.length })
    const head = cipher.update(plaintext)
    const tail = cipher.final()
    const tag = cipher.getAuthTag()
    // Every byte is written below: no zero-filling first (a 64 KiB frame's worth, per frame). Its
    // own ArrayBuffer (not a slice of Node's pool): the frame is all its `.buffer` holds.
    const raw = Buffer.allocUnsafeSlow(head.length + tail.length + 16)
    const out = new Uint8Array(raw.buffer, raw.byteOffset, raw.length)
    out.set(head, 0)
    out.set(tail, head.length)
    out.set(tag, head.length + tail.length)
    return out
  },
  open(key, nonce, ad, ciphertext) {
    if (ciphertext.length < 16) throw new Error('ciphertext shorter than its tag')
    const decipher = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
    if (ad.length > 0) decipher.setAAD(ad, { plaintextLength: ciphertext.length - 16 })
    decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16))
    const head = decipher.update(ciphertext.subarray(0, ciphertext.length - 16))
    const tail = decipher.final() // throws on a bad tag
    // A stream cipher leaves nothing for final(): the plaintext is `head`, not copied again.
    if (tail.length === 0) return new Uint8Array(head.buffer, head.byteOffset, head.byteLength)
    const out = new Uint8Array(head.length + tail.length)
    out.set(head, 0)
    out.set(tail, head.length)
    return out
  },
}

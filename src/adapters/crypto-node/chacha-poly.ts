/**
 * Node's native ChaCha20-Poly1305 as a ChaChaPolyAead — the reference for a platform adapter
 * (e.g. src/adapters/crypto-node/) that the TCP transport can inject for ~15× throughput.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto'
import type { ChaChaPolyAead } from '../../src/core/crypto/noise.js'

export const nodeChaChaPoly: ChaChaPolyAead = {
  seal(key, nonce, ad, plaintext) {
    const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
    cipher.setAAD(ad, { plaintextLength: plaintext.length })
    const head = cipher.update(plaintext)
    const tail = cipher.final()
    const tag = cipher.getAuthTag()
    const out = new Uint8Array(head.length + tail.length + 16)
    out.set(head, 0)
    out.set(tail, head.length)
    out.set(tag, head.length + tail.length)
    return out
  },
  open(key, nonce, ad, ciphertext) {
    if (ciphertext.length < 16) throw new Error('ciphertext shorter than its tag')
    const decipher = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
    decipher.setAAD(ad, { plaintextLength: ciphertext.length - 16 })
    decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16))
    const head = decipher.update(ciphertext.subarray(0, ciphertext.length - 16))
    const tail = decipher.final() // throws on a bad tag
    const out = new Uint8Array(head.length + tail.length)
    out.set(head, 0)
    out.set(tail, head.length)
    return out
  },
}

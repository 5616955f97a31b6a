import { mkdtempSync, rmSync, statSync, writeFileSync, chmodSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import {
  decodePublicKey,
  deviceIdFromPublicKey,
  encodePublicKey,
  exportIdentitySecret,
  generateIdentity,
  identityFromSecret,
  noiseKeyFromPublicKey,
  parseDeviceId,
  parseDeviceIdInput,
  formatDeviceId,
  verifySignature,
} from '../../src/core/crypto/identity.js'
import { toBase64Url } from '../../src/core/crypto/bytes.js'
import { loadIdentity, saveIdentity, identityPath } from '../../src/adapters/identity-fs/index.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { base32 } from '../../src/core/ids.js'

const dirs: string[] = []
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'orbit-identity-'))
  dirs.push(dir)
  return dir
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

describe('device identity', () => {
  it('derives a 32-char base32 device id from SHA-256 of the domain-separated public key', () => {
    const id = generateIdentity()
    expect(id.deviceId).toMatch(/^[a-z2-7]{32}$/)
    const expected = base32(sha256(new Uint8Array([...new TextEncoder().encode('orbit-device-id-v1'), ...id.publicKey])).subarray(0, 20))
    expect(id.deviceId).toBe(expected)
    expect(deviceIdFromPublicKey(id.publicKey)).toBe(id.deviceId)
    expect(generateIdentity().deviceId).not.toBe(id.deviceId)
  })

  it('is deterministic from its secret (RFC 8032 test 1 public key)', () => {
    const secret = Uint8Array.from(Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex'))
    const id = identityFromSecret(secret)
    expect(Buffer.from(id.publicKey).toString('hex')).toBe('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a')
    expect(identityFromSecret(secret).deviceId).toBe(id.deviceId)
    expect(Buffer.from(exportIdentitySecret(id)).equals(Buffer.from(secret))).toBe(true)
  })

  it('signs and verifies; rejects tampered messages, signatures and wrong keys', () => {
    const id = generateIdentity()
    const msg = new TextEncoder().encode('hello')
    const sig = id.sign(msg)
    expect(verifySignature(id.publicKey, msg, sig)).toBe(true)
    expect(verifySignature(id.publicKey, new TextEncoder().encode('hellp'), sig)).toBe(false)
    const bad = sig.slice()
    bad[10] = (bad[10] as number) ^ 1
    expect(verifySignature(id.publicKey, msg, bad)).toBe(false)
    expect(verifySignature(generateIdentity().publicKey, msg, sig)).toBe(false)
    expect(verifySignature(id.publicKey, msg, sig.subarray(0, 63))).toBe(false)
    expect(verifySignature(new Uint8Array(32), msg, sig)).toBe(false)
  })

  it('X25519 static key matches the Ed25519 key and agrees with the peer', () => {
    const a = generateIdentity()
    const b = generateIdentity()
    expect(Buffer.from(noiseKeyFromPublicKey(a.publicKey)).equals(Buffer.from(a.noisePublicKey))).toBe(true)
    expect(Buffer.from(a.dh(b.noisePublicKey)).equals(Buffer.from(b.dh(a.noisePublicKey)))).toBe(true)
    expect(() => a.dh(new Uint8Array(32))).toThrow(expect.objectContaining({ name: 'CryptoError' }))
  })

  it('never reveals the secret through JSON, inspect, keys or string conversion', () => {
    const id = generateIdentity()
    const secretText = toBase64Url(exportIdentitySecret(id))
    const secretHex = Buffer.from(exportIdentitySecret(id)).toString('hex')
    const views = [JSON.stringify(id), inspect(id, { showHidden: true, depth: 5 }), String(id), JSON.stringify(Object.entries(id)), Object.getOwnPropertyNames(id).join()]
    for (const view of views) {
      expect(view).not.toContain(secretText)
      expect(view).not.toContain(secretHex)
    }
    expect(JSON.parse(JSON.stringify(id))).toEqual({ deviceId: id.deviceId, publicKey: encodePublicKey(id.publicKey) })
  })

  it('parses device ids and public keys strictly', () => {
    const id = generateIdentity()
    expect(parseDeviceId(id.deviceId)).toBe(id.deviceId)
    for (const bad of [undefined, 42, '', id.deviceId.toUpperCase(), id.deviceId.slice(1), id.deviceId + 'a', id.deviceId.replace(/.$/, '1')]) {
      expect(() => parseDeviceId(bad, 'peer')).toThrow(expect.objectContaining({ name: 'ValidationError', field: 'peer' }))
    }
    expect(formatDeviceId(id.deviceId)).toMatch(/^([a-z2-7]{4}-){7}[a-z2-7]{4}$/)
    expect(parseDeviceIdInput(` ${formatDeviceId(id.deviceId).toUpperCase()} `)).toBe(id.deviceId)
    expect(() => parseDeviceIdInput('abcd-efgh')).toThrow(expect.objectContaining({ name: 'ValidationError' }))
    expect(Buffer.from(decodePublicKey(encodePublicKey(id.publicKey))).equals(Buffer.from(id.publicKey))).toBe(true)
    expect(() => decodePublicKey('x'.repeat(43))).toThrow(expect.objectContaining({ name: 'ValidationError' }))
    expect(() => decodePublicKey(42)).toThrow(expect.objectContaining({ name: 'ValidationError' }))
    fc.assert(
      fc.property(fc.string(), (s) => {
        try {
          decodePublicKey(s)
        } catch (e) {
          expect((e as Error).name).toBe('ValidationError')
        }
      }),
    )
  })
})

describe('identity-fs adapter', () => {
  it('saves with 0600 file in a 0700 dir and loads the same identity', () => {
    const dir = join(tempDir(), 'nested', 'data')
    expect(loadIdentity(dir)).toBeUndefined()
    const id = generateIdentity()
    saveIdentity(dir, id)
    expect(statSync(dir).mode & 0o777).toBe(0o700)
    expect(statSync(identityPath(dir)).mode & 0o777).toBe(0o600)
    const loaded = loadIdentity(dir)
    expect(loaded?.deviceId).toBe(id.deviceId)
    const msg = new Uint8Array([1, 2, 3])
    expect(verifySignature(id.publicKey, msg, loaded!.sign(msg))).toBe(true)
  })

  it('refuses to overwrite an existing identity and leaves it intact', () => {
    const dir = tempDir()
    const id = generateIdentity()
    saveIdentity(dir, id)
    const before = readFileSync(identityPath(dir), 'utf8')
    expect(() => saveIdentity(dir, generateIdentity())).toThrow(expect.objectContaining({ name: 'StoreError', code: 'IDENTITY_EXISTS' }))
    expect(readFileSync(identityPath(dir), 'utf8')).toBe(before)
    expect(loadIdentity(dir)?.deviceId).toBe(id.deviceId)
  })

  it('tightens an existing directory to 0700', () => {
    const dir = tempDir()
    chmodSync(dir, 0o755)
    saveIdentity(dir, generateIdentity())
    expect(statSync(dir).mode & 0o777).toBe(0o700)
  })

  it('throws StoreError on a corrupt, inconsistent or world-readable key file', () => {
    const write = (dir: string, text: string, mode = 0o600): void => {
      writeFileSync(identityPath(dir), text, { mode })
      chmodSync(identityPath(dir), mode)
    }
    const cases: Array<[string, number]> = [
      ['not json', 0o600],
      ['{}', 0o600],
      [JSON.stringify({ format: 'orbit-identity', version: 1, deviceId: 'x', publicKey: 'x', secret: 'x' }), 0o600],
    ]
    const a = generateIdentity()
    const b = generateIdentity()
    // Secret of one device with the public key of another.
    cases.push([JSON.stringify({ format: 'orbit-identity', version: 1, deviceId: b.deviceId, publicKey: toBase64Url(b.publicKey), secret: toBase64Url(exportIdentitySecret(a)) }), 0o600])
    for (const [text, mode] of cases) {
      const dir = tempDir()
      write(dir, text, mode)
      expect(() => loadIdentity(dir)).toThrow(expect.objectContaining({ name: 'StoreError', code: 'CORRUPT_IDENTITY' }))
    }
    const dir = tempDir()
    saveIdentity(dir, a)
    chmodSync(identityPath(dir), 0o644)
    expect(() => loadIdentity(dir)).toThrow(expect.objectContaining({ name: 'StoreError', code: 'INSECURE_IDENTITY' }))
  })
})

/**
 * Filesystem persistence of the device identity (issue 2 item 4): the private key is stored with
 * owner-only permissions and never printed.
 *
 * Layout: `<dir>/identity.key` (mode 0600) inside `<dir>` (mode 0700), JSON:
 * `{ "format": "orbit-identity", "version": 1, "deviceId": "...", "publicKey": "<b64url>", "secret": "<b64url>" }`.
 */
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, chmodSync, statSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'
import { StoreError } from '../../core/errors.js'
import { fromBase64Url, toBase64Url, equalBytes } from '../../core/crypto/bytes.js'
import { exportIdentitySecret, identityFromSecret, type DeviceIdentity } from '../../core/crypto/identity.js'
import { randomBytes } from '../../core/ids.js'

import { IDENTITY_FILE, identityPath } from './path.js'

export { IDENTITY_FILE, identityPath }

const KeyFile = z.object({
  format: z.literal('orbit-identity'),
  version: z.literal(1),
  deviceId: z.string(),
  publicKey: z.string(),
  secret: z.string(),
})

/**
 * Writes `identity` to `<dir>/identity.key` (0600) creating `<dir>` with mode 0700 (an existing
 * `<dir>` is tightened to 0700). Atomic: a temp file is written and fsynced, then hard-linked into
 * place, which fails if a key file already exists — an identity is never overwritten
 * (StoreError code `IDENTITY_EXISTS`).
 */
export function saveIdentity(dir: string, identity: DeviceIdentity): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  chmodSync(dir, 0o700)
  const target = identityPath(dir)
  const body = JSON.stringify({
    format: 'orbit-identity',
    version: 1,
    deviceId: identity.deviceId,
    publicKey: toBase64Url(identity.publicKey),
    secret: toBase64Url(exportIdentitySecret(identity)),
  })
  const temp = join(dir, `.${IDENTITY_FILE}.${toBase64Url(randomBytes(6))}.tmp`)
  const fd = openSync(temp, 'wx', 0o600)
  try {
    writeSync(fd, body + '\n')
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  try {
    linkSync(temp, target)
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code
    throw new StoreError(
      code === 'EEXIST' ? `an identity already exists at ${target}; refusing to overwrite it` : `cannot write ${target}`,
      { code: code === 'EEXIST' ? 'IDENTITY_EXISTS' : 'IO', cause },
    )
  } finally {
    unlinkSync(temp)
  }
  fsyncDir(dir)
}

/**
 * Reads the identity in `dir`. Returns `undefined` when there is none; throws StoreError for a
 * corrupt or inconsistent file (code `CORRUPT_IDENTITY`) or one readable by group/others
 * (code `INSECURE_IDENTITY`, POSIX only), as ssh does for private keys.
 */
export function loadIdentity(dir: string): DeviceIdentity | undefined {
  const path = identityPath(dir)
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new StoreError(`cannot read ${path}`, { code: 'IO', cause })
  }
  if (process.platform !== 'win32' && (statSync(path).mode & 0o077) !== 0) {
    throw new StoreError(`${path} is readable by other users; run chmod 600 on it`, { code: 'INSECURE_IDENTITY' })
  }
  try {
    const file = KeyFile.parse(JSON.parse(text))
    const identity = identityFromSecret(fromBase64Url(file.secret, 'secret'))
    if (!equalBytes(identity.publicKey, fromBase64Url(file.publicKey, 'publicKey')) || identity.deviceId !== file.deviceId) {
      throw new Error('public key or device id does not match the secret')
    }
    return identity
  } catch (cause) {
    throw new StoreError(`${path} is not a valid Orbit identity file`, { code: 'CORRUPT_IDENTITY', cause })
  }
}

function fsyncDir(dir: string): void {
  // Makes the new directory entry durable; some platforms cannot open directories, which is fine.
  try {
    const fd = openSync(dir, 'r')
    try {
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
  } catch {
    /* best effort */
  }
}

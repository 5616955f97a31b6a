/**
 * The web UI's per-device secret (docs/protocol/http.md, "Auth"): 32 random bytes, base64url, in
 * the data dir's config under `ui.secret`, made on the first `orbit serve`. Whoever holds it may
 * use the API as this device, so it is printed only in the greeting and by `orbit ui`.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import type { ConfigStore } from '../../../adapters/storage-sqlite/index.js'

/** Config key of the secret. */
export const UI_SECRET_KEY = 'ui.secret'

const SECRET_PATTERN = /^[A-Za-z0-9_-]{43}$/

/** The stored secret, created (and stored) when there is none or the stored one is malformed. */
export function ensureUiSecret(config: Pick<ConfigStore, 'get' | 'set'>): string {
  const stored = config.get(UI_SECRET_KEY)
  if (typeof stored === 'string' && SECRET_PATTERN.test(stored)) return stored
  const secret = randomBytes(32).toString('base64url')
  config.set(UI_SECRET_KEY, secret)
  return secret
}

/** Whether `given` is the secret, compared in constant time. */
export function secretMatches(secret: string, given: string | undefined): boolean {
  if (given === undefined) return false
  const a = Buffer.from(secret)
  const b = Buffer.from(given)
  return a.length === b.length && timingSafeEqual(a, b)
}

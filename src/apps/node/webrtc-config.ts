/**
 * WebRTC settings kept in the data dir's config store (light: no Automerge, no werift), and the
 * persisted nonce ledger that makes signalling codes single-use across runs.
 *
 * Config keys:
 * - `webrtc.iceServers`: string[] of specs as users type them (`stun:HOST:PORT`,
 *   `turn:USER:PASS@HOST:PORT`); none by default (host candidates only).
 * - `webrtc.hostAddresses`: string[]; when set, host candidates use only these local addresses.
 * - `webrtc.nonces`: { [base64url nonce]: expiresAt ms } — nonces of codes this device accepted,
 *   kept until the code expires (an expired code is refused on its expiry alone).
 */
import { z } from 'zod'
import { toBase64Url } from '../../core/crypto/bytes.js'
import { ValidationError } from '../../core/errors.js'
import { parseIceServer, type IceServer } from '../../core/webrtc/ice-server.js'
import type { NonceLedger } from '../../core/webrtc/signal.js'
import type { ConfigStore } from '../../adapters/storage-sqlite/index.js'

export const WEBRTC_CONFIG_KEYS = {
  iceServers: 'webrtc.iceServers',
  hostAddresses: 'webrtc.hostAddresses',
  nonces: 'webrtc.nonces',
} as const

const SpecList = z.array(z.string().max(512)).max(32)
const NonceMap = z.record(z.string().max(64), z.number())

/** The configured ICE server specs (validated; a bad stored value is ignored rather than fatal). */
export function readIceSpecs(config: Pick<ConfigStore, 'get'>): string[] {
  const parsed = SpecList.safeParse(config.get(WEBRTC_CONFIG_KEYS.iceServers))
  return parsed.success ? parsed.data : []
}

/** Adds one spec (validated with `parseIceServer`); returns the new list. Adding twice is a no-op. */
export function addIceSpec(config: Pick<ConfigStore, 'get' | 'set'>, spec: string): string[] {
  parseIceServer(spec)
  const list = readIceSpecs(config)
  if (!list.includes(spec)) list.push(spec)
  config.set(WEBRTC_CONFIG_KEYS.iceServers, list)
  return list
}

/** Removes every configured ICE server. */
export function clearIceSpecs(config: Pick<ConfigStore, 'set'>): void {
  config.set(WEBRTC_CONFIG_KEYS.iceServers, undefined)
}

/** Adds one host address (validated); returns the new list. */
export function addHostAddress(config: Pick<ConfigStore, 'get' | 'set'>, address: string): string[] {
  const value = parseHostAddress(address)
  const list = readHostAddresses(config) ?? []
  if (!list.includes(value)) list.push(value)
  config.set(WEBRTC_CONFIG_KEYS.hostAddresses, list)
  return list
}

/** Back to every interface. */
export function clearHostAddresses(config: Pick<ConfigStore, 'set'>): void {
  config.set(WEBRTC_CONFIG_KEYS.hostAddresses, undefined)
}

/** The configured host addresses, or undefined (every interface). */
export function readHostAddresses(config: Pick<ConfigStore, 'get'>): string[] | undefined {
  const parsed = SpecList.safeParse(config.get(WEBRTC_CONFIG_KEYS.hostAddresses))
  return parsed.success && parsed.data.length > 0 ? parsed.data : undefined
}

/**
 * ICE servers for one run: the `--ice` specs when given, else the configured ones.
 * @throws ValidationError (field `ice`) for a malformed spec.
 */
export function resolveIceServers(config: Pick<ConfigStore, 'get'>, flags: readonly string[] | undefined): IceServer[] {
  const specs = flags !== undefined && flags.length > 0 ? flags : readIceSpecs(config)
  return specs.map((s) => parseIceServer(s))
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/

/** Validates a `--host` address (IPv4 or IPv6 literal). */
export function parseHostAddress(value: string): string {
  const v = value.trim()
  const m = IPV4.exec(v)
  if (m !== null && m.slice(1).every((o) => Number(o) <= 255)) return v
  if (/^[0-9a-fA-F:]+$/.test(v) && v.includes(':')) return v
  throw new ValidationError(`host: expected an IP address, got ${JSON.stringify(value)}`, { field: 'host' })
}

/**
 * A {@link NonceLedger} persisted in the config store: a code accepted once is refused afterwards,
 * even by another process on the same data dir. Expired entries are dropped on each write.
 */
export function configNonceLedger(config: Pick<ConfigStore, 'get' | 'set'>, now: () => number = Date.now): NonceLedger {
  return {
    consume(nonce, expiresAt) {
      const parsed = NonceMap.safeParse(config.get(WEBRTC_CONFIG_KEYS.nonces))
      const seen = parsed.success ? parsed.data : {}
      const t = now()
      const key = toBase64Url(nonce)
      if (seen[key] !== undefined && seen[key] > t) return false
      const kept: Record<string, number> = {}
      for (const [k, until] of Object.entries(seen)) if (until > t) kept[k] = until
      kept[key] = expiresAt
      config.set(WEBRTC_CONFIG_KEYS.nonces, kept)
      return true
    },
  }
}

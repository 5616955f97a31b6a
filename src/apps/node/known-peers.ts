/**
 * Addresses where paired devices were reached, remembered in the device's config so the daemon
 * (and `orbit sync DEVICE`) can reach them again without discovery — where multicast is blocked.
 * Addresses are hints: every connection still proves the device's key.
 */
import { networkInterfaces } from 'node:os'
import { z } from 'zod'
import { ValidationError } from '../../core/errors.js'
import type { ConfigStore } from '../../adapters/storage-sqlite/index.js'
import { currentSelection, looksLikeIpv4, resolvePin } from '../../adapters/discovery-mdns/interfaces.js'

/** Config key: `{ [deviceId]: ["host:port", ...] }`, newest first. */
export const KNOWN_PEERS_KEY = 'daemon.knownPeers'
const MAX_PER_DEVICE = 8

const Known = z.record(z.string().max(128), z.array(z.string().max(300)).max(MAX_PER_DEVICE))

export type KnownPeers = Record<string, string[]>

export function readKnownPeers(config: ConfigStore): KnownPeers {
  const parsed = Known.safeParse(config.get(KNOWN_PEERS_KEY) ?? {})
  return parsed.success ? parsed.data : {}
}

/** Puts `address` first in `deviceId`'s list (bounded). */
export function rememberPeerAddress(config: ConfigStore, deviceId: string, address: string): void {
  const all = readKnownPeers(config)
  const list = [address, ...(all[deviceId] ?? []).filter((a) => a !== address)].slice(0, MAX_PER_DEVICE)
  config.set(KNOWN_PEERS_KEY, { ...all, [deviceId]: list })
}

/** `host:port` (IPv4, a name, or `[ipv6]:port`) → parts. @throws ValidationError naming `field`. */
export function parseHostPort(value: string, field = 'address'): { host: string; port: number } {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(value) ?? /^([A-Za-z0-9.-]{1,253}):(\d{1,5})$/.exec(value)
  const port = Number(m?.[2])
  if (m === null || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ValidationError(`${field}: expected HOST:PORT, e.g. 192.168.1.20:7878`, { field })
  }
  return { host: m[1]!, port }
}

export const formatHostPort = (host: string, port: number): string => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`)

/**
 * Addresses to put in an invite for a listener bound to `host:port`: the `--interface` one
 * (`preferred`, an IPv4 address or an interface name), the host itself, or for a wildcard bind
 * the addresses of the interfaces discovery uses (src/adapters/discovery-mdns/interfaces.ts)
 * first, then this machine's other non-internal IPv4 addresses (the loopback one when there is
 * nothing else).
 */
export function advertisedAddresses(host: string, port: number, preferred?: string): string[] {
  if (preferred !== undefined) {
    const address = looksLikeIpv4(preferred) ? preferred : resolvePin(preferred, networkInterfaces())?.address
    if (address !== undefined) return [formatHostPort(address, port)]
  }
  if (host !== '0.0.0.0' && host !== '::') return [formatHostPort(host, port)]
  const found = currentSelection().chosen.map((i) => i.address)
  for (const list of Object.values(networkInterfaces())) {
    for (const entry of list ?? []) if (entry.family === 'IPv4' && !entry.internal && !found.includes(entry.address)) found.push(entry.address)
  }
  return found.length > 0 ? found.slice(0, 8).map((a) => formatHostPort(a, port)) : [formatHostPort('127.0.0.1', port)]
}

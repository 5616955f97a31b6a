/**
 * Which network interfaces mDNS runs on by default (docs/protocol/lan.md, "Discovery").
 *
 * `os.networkInterfaces()` lists addresses but no flags, so on Linux the flags come from
 * `/sys/class/net/<name>/flags` (and `operstate` for the carrier); elsewhere every listed
 * interface is taken as up and multicast-capable (the address filter still applies). An
 * interface is used when all of these hold:
 *
 * - IPv4, not internal (no loopback), flags (when known) say UP and MULTICAST, not LOOPBACK or
 *   POINTOPOINT (VPN tunnels), and the carrier is not down;
 * - a private address: RFC 1918 (10/8, 172.16/12, 192.168/16) or IPv4 link-local 169.254/16
 *   (RFC 3927: two machines on a cable with no DHCP server — exactly where mDNS is meant to work);
 *   never a public, CGNAT (100.64/10) or documentation address;
 * - not a virtual bridge for containers or VMs (`docker*`, `br-*`, `virbr*`, `vboxnet*`,
 *   `vmnet*`): no user expects their laptop to advertise into its containers.
 *
 * `--interface IP|NAME` bypasses the filter and pins one ({@link resolvePin}).
 */
import { readFileSync } from 'node:fs'
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os'

/** Linux `IFF_*` flag bits (include/uapi/linux/if.h) read from sysfs. */
export const IFF = { UP: 0x1, LOOPBACK: 0x8, POINTOPOINT: 0x10, MULTICAST: 0x1000 } as const

/** What the OS says about one interface beyond its addresses; `undefined` fields are unknown. */
export interface InterfaceFlags {
  flags?: number | undefined
  /** `/sys/class/net/<name>/operstate`: `up`, `down`, `unknown`, `lowerlayerdown`, `dormant`… */
  operstate?: string | undefined
}

/** One IPv4 address of one interface that discovery may use. */
export interface ChosenInterface {
  name: string
  address: string
  netmask: string
}

export type RejectReason = 'internal' | 'ipv6' | 'down' | 'no-carrier' | 'no-multicast' | 'point-to-point' | 'not-private' | 'virtual-bridge'

/** The selection's result: what is used, and why each other address is not (for messages). */
export interface InterfaceSelection {
  chosen: ChosenInterface[]
  rejected: Array<{ name: string; address: string; reason: RejectReason }>
}

/** The shape of `os.networkInterfaces()`; fixtures in tests. */
export type InterfaceList = Record<string, readonly Pick<NetworkInterfaceInfo, 'address' | 'netmask' | 'family' | 'internal'>[] | undefined>

const VIRTUAL_BRIDGE = /^(docker|br-|virbr|vboxnet|vmnet)/

const octets = (ip: string): number[] | undefined => {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip)
  if (m === null) return undefined
  const parts = m.slice(1).map(Number)
  return parts.every((p) => p <= 255) ? parts : undefined
}

/** RFC 1918 private or RFC 3927 link-local IPv4. */
export function isPrivateIpv4(ip: string): boolean {
  const o = octets(ip)
  if (o === undefined) return false
  const [a, b] = o as [number, number]
  return a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254)
}

/** True for a string of digits and dots: `--interface` then means an address, never a name. */
export const looksLikeIpv4 = (value: string): boolean => /^[\d.]+$/.test(value)

/**
 * The interfaces discovery runs on by default, from a listing and each interface's flags.
 * Pure: `flagsOf` is `readInterfaceFlags` in production and fixture data in tests. Sorted by
 * name then address, so two polls of an unchanged machine compare equal.
 */
export function selectInterfaces(list: InterfaceList, flagsOf: (name: string) => InterfaceFlags = () => ({})): InterfaceSelection {
  const chosen: ChosenInterface[] = []
  const rejected: InterfaceSelection['rejected'] = []
  for (const name of Object.keys(list).sort()) {
    const { flags, operstate } = flagsOf(name)
    for (const entry of list[name] ?? []) {
      const reject = (reason: RejectReason): void => void rejected.push({ name, address: entry.address, reason })
      // Node ≥ 18.0–18.3 reported family as a number; both spellings are IPv4 here.
      const family = entry.family as string | number
      if (family !== 'IPv4' && family !== 4) reject('ipv6')
      else if (entry.internal || (flags !== undefined && (flags & IFF.LOOPBACK) !== 0)) reject('internal')
      else if (flags !== undefined && (flags & IFF.UP) === 0) reject('down')
      else if (operstate === 'down' || operstate === 'lowerlayerdown' || operstate === 'notpresent') reject('no-carrier')
      else if (flags !== undefined && (flags & IFF.MULTICAST) === 0) reject('no-multicast')
      else if (flags !== undefined && (flags & IFF.POINTOPOINT) !== 0) reject('point-to-point')
      else if (!isPrivateIpv4(entry.address)) reject('not-private')
      else if (VIRTUAL_BRIDGE.test(name)) reject('virtual-bridge')
      else chosen.push({ name, address: entry.address, netmask: entry.netmask })
    }
  }
  chosen.sort((x, y) => (x.name === y.name ? (x.address < y.address ? -1 : 1) : x.name < y.name ? -1 : 1))
  return { chosen, rejected }
}

/**
 * `--interface IP|NAME` → the one interface to use, found in `list` regardless of the default
 * filter (the user asked for it). An IP must be an IPv4 address of this machine; a name must be an
 * interface with an IPv4 address (its first). Returns undefined when it is not there (now): the
 * caller says so and keeps polling, since an interface may come up later.
 */
export function resolvePin(pin: string, list: InterfaceList): ChosenInterface | undefined {
  for (const name of Object.keys(list).sort()) {
    for (const entry of list[name] ?? []) {
      const family = entry.family as string | number
      if (family !== 'IPv4' && family !== 4) continue
      if (looksLikeIpv4(pin) ? entry.address === pin : name === pin) return { name, address: entry.address, netmask: entry.netmask }
    }
  }
  return undefined
}

const readSys = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8').trim()
  } catch {
    return undefined // not Linux, or the interface just went away
  }
}

/** Linux: flags and operstate from sysfs; elsewhere (no /sys) both unknown. */
export function readInterfaceFlags(name: string): InterfaceFlags {
  if (!/^[A-Za-z0-9_.:@-]{1,32}$/.test(name)) return {}
  const raw = readSys(`/sys/class/net/${name}/flags`)
  const flags = raw === undefined ? undefined : Number.parseInt(raw, 16)
  return { flags: flags === undefined || Number.isNaN(flags) ? undefined : flags, operstate: readSys(`/sys/class/net/${name}/operstate`) }
}

/** This machine's selection now. */
export function currentSelection(): InterfaceSelection {
  return selectInterfaces(networkInterfaces(), readInterfaceFlags)
}

/** The default interface selection over fixture listings (no sockets, no real interfaces). */
import { describe, expect, it } from 'vitest'
import { IFF, isPrivateIpv4, resolvePin, selectInterfaces, type InterfaceFlags, type InterfaceList } from '../../src/adapters/discovery-mdns/interfaces.js'

const v4 = (address: string, internal = false) => ({ address, netmask: '255.255.255.0', family: 'IPv4' as const, internal })
const v6 = (address: string) => ({ address, netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6' as const, internal: false })
const UP_MC = IFF.UP | IFF.MULTICAST

/** A laptop with Wi-Fi, Ethernet, docker, a VPN tunnel, a down interface and a public address. */
const laptop: InterfaceList = {
  lo: [v4('127.0.0.1', true), { ...v6('::1'), internal: true }],
  wlan0: [v4('192.168.1.20'), v6('fe80::1')],
  eth1: [v4('10.0.0.2')],
  docker0: [v4('172.17.0.1')],
  tun0: [v4('10.8.0.5')],
  eth2: [v4('172.20.3.4')],
  wan0: [v4('203.0.113.9')],
  usb0: [v4('169.254.10.20')],
  nomc0: [v4('192.168.50.1')],
  cgnat0: [v4('100.64.1.2')],
}
const flags: Record<string, InterfaceFlags> = {
  lo: { flags: IFF.UP | IFF.LOOPBACK, operstate: 'unknown' },
  wlan0: { flags: 0x1003, operstate: 'up' },
  eth1: { flags: UP_MC, operstate: 'up' },
  docker0: { flags: UP_MC, operstate: 'up' },
  tun0: { flags: IFF.UP | IFF.POINTOPOINT | IFF.MULTICAST, operstate: 'unknown' },
  eth2: { flags: IFF.MULTICAST, operstate: 'down' }, // administratively down
  wan0: { flags: UP_MC, operstate: 'up' },
  usb0: { flags: UP_MC, operstate: 'up' },
  nomc0: { flags: IFF.UP, operstate: 'up' },
  cgnat0: { flags: UP_MC, operstate: 'up' },
}

describe('selectInterfaces', () => {
  it('keeps the up, multicast-capable, private IPv4 interfaces a user expects, and says why each other is left out', () => {
    const { chosen, rejected } = selectInterfaces(laptop, (name) => flags[name] ?? {})
    expect(chosen.map((c) => [c.name, c.address])).toEqual([
      ['eth1', '10.0.0.2'],
      ['usb0', '169.254.10.20'],
      ['wlan0', '192.168.1.20'],
    ])
    const why = Object.fromEntries(rejected.filter((r) => r.reason !== 'ipv6').map((r) => [r.name, r.reason]))
    expect(why).toEqual({
      lo: 'internal',
      docker0: 'virtual-bridge',
      tun0: 'point-to-point',
      eth2: 'down',
      wan0: 'not-private',
      nomc0: 'no-multicast',
      cgnat0: 'not-private',
    })
  })

  it('an interface whose carrier is down is left out even when its flags say UP', () => {
    const { chosen, rejected } = selectInterfaces({ wlan0: [v4('192.168.1.20')] }, () => ({ flags: UP_MC, operstate: 'lowerlayerdown' }))
    expect(chosen).toEqual([])
    expect(rejected).toEqual([{ name: 'wlan0', address: '192.168.1.20', reason: 'no-carrier' }])
  })

  it('without flags (no /sys: macOS, Windows) it degrades to the address filter', () => {
    const { chosen } = selectInterfaces({ en0: [v4('192.168.1.7')], en5: [v4('8.8.4.4')], lo0: [v4('127.0.0.1', true)] })
    expect(chosen.map((c) => c.name)).toEqual(['en0'])
  })

  it('a machine with only a public or documentation address has nothing to use (as the CI host with 192.0.2.x)', () => {
    expect(selectInterfaces({ eth0: [v4('192.0.2.2'), v6('fd00::2')], lo: [v4('127.0.0.1', true)] }, () => ({ flags: UP_MC })).chosen).toEqual([])
  })

  it('two addresses on one interface are two entries, in a stable order', () => {
    const a = selectInterfaces({ eth0: [v4('10.1.0.9'), v4('10.0.0.3')] }).chosen
    const b = selectInterfaces({ eth0: [v4('10.0.0.3'), v4('10.1.0.9')] }).chosen
    expect(a).toEqual(b)
    expect(a.map((c) => c.address)).toEqual(['10.0.0.3', '10.1.0.9'])
  })
})

describe('isPrivateIpv4', () => {
  it('RFC 1918 and link-local are private; the edges of 172.16/12 and everything else are not', () => {
    for (const ip of ['10.0.0.1', '172.16.0.1', '172.31.255.254', '192.168.0.1', '169.254.1.1']) expect(isPrivateIpv4(ip)).toBe(true)
    for (const ip of ['172.15.0.1', '172.32.0.1', '100.64.0.1', '192.0.2.1', '8.8.8.8', '127.0.0.1', '::1', '999.1.1.1', 'wlan0']) expect(isPrivateIpv4(ip)).toBe(false)
  })
})

describe('resolvePin', () => {
  it('finds an interface by address or by name, whatever the default filter says, and nothing that is not there', () => {
    expect(resolvePin('203.0.113.9', laptop)).toMatchObject({ name: 'wan0', address: '203.0.113.9' })
    expect(resolvePin('docker0', laptop)).toMatchObject({ name: 'docker0', address: '172.17.0.1' })
    expect(resolvePin('lo', laptop)).toMatchObject({ address: '127.0.0.1' })
    expect(resolvePin('192.0.2.77', laptop)).toBeUndefined()
    expect(resolvePin('wlan9', laptop)).toBeUndefined()
  })
})

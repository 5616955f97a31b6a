/** Where the daemon runs discovery, from its options and listen address, and how serve says so. */
import { describe, expect, it } from 'vitest'
import { discoveryPin } from '../../src/apps/daemon/discovery.js'
import { discoveryLine } from '../../src/apps/cli/commands/serve.js'

describe('discoveryPin', () => {
  const any = { host: '0.0.0.0', port: 7878 }
  it('a wildcard listen host means every usable interface; --interface pins; --no-mdns is off', () => {
    expect(discoveryPin({}, any)).toEqual({})
    expect(discoveryPin({ interface: 'wlan0' }, any)).toEqual({ pin: 'wlan0' })
    expect(discoveryPin({ interfaceAddress: '10.0.0.2' }, any)).toEqual({ pin: '10.0.0.2' })
    expect(discoveryPin({ mdns: false, interface: 'wlan0' }, any)).toEqual({ off: '--no-mdns' })
    expect(discoveryPin({}, undefined)).toEqual({ off: 'not listening' })
  })

  it('a specific listen host means its interface; a loopback one means off, so tests on 127.0.0.1 never multicast', () => {
    expect(discoveryPin({}, { host: '10.0.0.2', port: 0 })).toEqual({ pin: '10.0.0.2' })
    expect(discoveryPin({}, { host: '127.0.0.1', port: 7879 })).toEqual({ off: 'listening on loopback 127.0.0.1 only; --listen 0.0.0.0:7879 to be found on the LAN' })
    expect(discoveryPin({}, { host: '::1', port: 0 })).toMatchObject({ off: expect.stringMatching(/loopback/) })
    // An explicit --interface still wins (as before: the user asked for it).
    expect(discoveryPin({ interface: '127.0.0.1' }, { host: '127.0.0.1', port: 0 })).toEqual({ pin: '127.0.0.1' })
  })
})

describe("serve's discovery line", () => {
  it('names the interfaces, or says why it is off or what it waits for', () => {
    expect(discoveryLine({ interfaces: [{ name: 'eth1', address: '10.0.0.2' }, { name: 'wlan0', address: '192.168.1.20' }] })).toBe('mDNS on eth1 (10.0.0.2), wlan0 (192.168.1.20)')
    expect(discoveryLine({ off: '--no-mdns' })).toBe('off (--no-mdns; reach devices with `orbit sync HOST:PORT`)')
    expect(discoveryLine({ off: 'listening on loopback 127.0.0.1 only; --listen 0.0.0.0:7879 to be found on the LAN' })).toBe('off (listening on loopback 127.0.0.1 only; --listen 0.0.0.0:7879 to be found on the LAN)')
    expect(discoveryLine({ interfaces: [], reason: 'no usable interface (eth0 192.0.2.2: not-private); pin one with --interface NAME' })).toBe(
      'mDNS waiting: no usable interface (eth0 192.0.2.2: not-private); pin one with --interface NAME; it starts when one comes up',
    )
  })
})

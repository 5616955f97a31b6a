/**
 * Multi-interface discovery over fake per-interface instances and a fixture interface list: which
 * instances run, how one device seen on two interfaces is one peer, and how interface and address
 * changes start and stop instances (no sockets: the real-packet tests run in namespaces).
 */
import { describe, expect, it } from 'vitest'
import { Listeners, type DiscoveryEvents } from '../../src/core/discovery/index.js'
import type { DeviceId } from '../../src/core/ids.js'
import { WireError } from '../../src/core/errors.js'
import { createMultiMdnsDiscovery, IFF, type ChosenInterface, type InterfaceList, type MdnsPeer, type NetworkChange } from '../../src/adapters/discovery-mdns/index.js'

const v4 = (address: string) => ({ address, netmask: '255.255.255.0', family: 'IPv4' as const, internal: false })
const X = 'x'.repeat(32) as DeviceId

class FakeInstance {
  readonly listeners = new Listeners<DiscoveryEvents>()
  readonly known = new Map<DeviceId, MdnsPeer>()
  started = false
  stopped = false
  goodbye: boolean | undefined
  constructor(
    readonly iface: ChosenInterface,
    readonly fail: boolean,
  ) {}
  on<E extends keyof DiscoveryEvents>(event: E, listener: DiscoveryEvents[E]): () => void {
    return this.listeners.on(event, listener)
  }
  peers = (): MdnsPeer[] => [...this.known.values()]
  refresh = (): void => undefined
  start = async (): Promise<void> => {
    if (this.fail) throw new WireError('no socket', { code: 'MDNS_SOCKET' })
    this.started = true
  }
  stop = async (o?: { goodbye?: boolean }): Promise<void> => {
    this.stopped = true
    this.goodbye = o?.goodbye
    this.known.clear()
  }
  see(address: string, port = 7878): void {
    const peer: MdnsPeer = { deviceId: X, deviceName: 'x', protocolVersion: 1, addresses: [address], endpoints: [{ address, port }], port, instance: `${X}._crmorbit._tcp.local`, lastSeen: 1 }
    this.known.set(X, peer)
    this.listeners.emit('peer', [peer])
  }
  lose(): void {
    this.known.delete(X)
    this.listeners.emit('peer-lost', [X])
  }
}

function rig(initial: InterfaceList, o: { pin?: string; failing?: Set<string> } = {}) {
  let list = initial
  const made: FakeInstance[] = []
  const ticks: Array<() => void> = []
  const discovery = createMultiMdnsDiscovery({
    ...(o.pin === undefined ? {} : { pin: o.pin }),
    listInterfaces: () => list,
    flagsOf: () => ({ flags: IFF.UP | IFF.MULTICAST, operstate: 'up' }),
    createInstance: (iface) => {
      const f = new FakeInstance(iface, o.failing?.has(iface.name) === true)
      made.push(f)
      return f
    },
    timers: { setInterval: (fn) => ticks.push(fn), clearInterval: () => undefined },
  })
  const events: Array<{ event: string; addresses?: string[]; deviceId?: string }> = []
  discovery.on('peer', (p) => events.push({ event: 'peer', addresses: p.addresses }))
  discovery.on('peer-lost', (id) => events.push({ event: 'peer-lost', deviceId: id }))
  const changes: NetworkChange[] = []
  discovery.onNetworkChange((c) => changes.push(c))
  const live = (): FakeInstance[] => made.filter((m) => m.started && !m.stopped)
  return { discovery, made, live, events, changes, ticks, setList: (l: InterfaceList) => (list = l) }
}

describe('multi-interface mDNS discovery', () => {
  it('runs one instance per usable interface and reports where', async () => {
    const r = rig({ eth1: [v4('10.0.0.2')], wlan0: [v4('192.168.1.20')], wan0: [v4('203.0.113.9')] })
    await r.discovery.start()
    expect(r.live().map((m) => m.iface.name)).toEqual(['eth1', 'wlan0'])
    expect(r.discovery.where()).toEqual({ interfaces: [{ name: 'eth1', address: '10.0.0.2' }, { name: 'wlan0', address: '192.168.1.20' }] })
    expect(r.ticks).toHaveLength(1) // the poll interval is armed
    await r.discovery.stop()
    expect(r.made.every((m) => m.stopped && m.goodbye === true)).toBe(true)
  })

  it('a device seen on two interfaces is one peer with both endpoints; it is lost only when no interface sees it', async () => {
    const r = rig({ eth1: [v4('10.0.0.2')], wlan0: [v4('192.168.1.20')] })
    await r.discovery.start()
    const [eth, wlan] = r.live()
    eth!.see('10.0.0.9')
    wlan!.see('192.168.1.9', 7879)
    expect(r.discovery.peers()).toEqual([expect.objectContaining({ addresses: ['10.0.0.9', '192.168.1.9'], endpoints: [{ address: '10.0.0.9', port: 7878 }, { address: '192.168.1.9', port: 7879 }] })])
    eth!.lose()
    wlan!.lose()
    expect(r.events).toEqual([
      { event: 'peer', addresses: ['10.0.0.9'] },
      { event: 'peer', addresses: ['10.0.0.9', '192.168.1.9'] },
      { event: 'peer', addresses: ['192.168.1.9'] },
      { event: 'peer-lost', deviceId: X },
    ])
  })

  it('follows the machine: a new address starts an instance, a vanished one stops its instance and loses its peers', async () => {
    const r = rig({ wlan0: [v4('192.168.1.20')] })
    await r.discovery.start()
    r.live()[0]!.see('192.168.1.9')
    // The laptop moves to another network: wlan0 gets another address, and Ethernet comes up.
    r.setList({ wlan0: [v4('10.9.0.4')], eth0: [v4('172.16.0.8')] })
    await r.discovery.poll()
    expect(r.live().map((m) => `${m.iface.name} ${m.iface.address}`)).toEqual(['eth0 172.16.0.8', 'wlan0 10.9.0.4'])
    expect(r.made[0]!).toMatchObject({ stopped: true, goodbye: false }) // its address is gone: no goodbye to send from it
    expect(r.events.at(-1)).toEqual({ event: 'peer-lost', deviceId: X })
    expect(r.changes).toEqual([
      expect.objectContaining({ why: 'eth0 172.16.0.8 up; wlan0 10.9.0.4 up; wlan0 192.168.1.20 gone', removed: [expect.objectContaining({ address: '192.168.1.20' })] }),
    ])
    // An unchanged poll (the interval's) changes nothing and reports nothing.
    r.ticks[0]!()
    await r.discovery.poll()
    expect(r.changes).toHaveLength(1)
    await r.discovery.stop()
  })

  it('with no usable interface it says why, and starts when one comes up', async () => {
    const r = rig({ eth0: [v4('192.0.2.2')] })
    await r.discovery.start()
    expect(r.discovery.where()).toEqual({ interfaces: [], reason: 'no usable interface (eth0 192.0.2.2: not-private); pin one with --interface NAME' })
    r.setList({ eth0: [v4('192.0.2.2')], wlan0: [v4('192.168.7.7')] })
    await r.discovery.poll()
    expect(r.discovery.where()).toEqual({ interfaces: [{ name: 'wlan0', address: '192.168.7.7' }] })
    expect(r.changes.map((c) => c.why)).toEqual(['wlan0 192.168.7.7 up'])
    await r.discovery.stop()
  })

  it('a pinned name follows that interface only, whatever the filter says, across address changes', async () => {
    const r = rig({ wan0: [v4('203.0.113.9')], wlan0: [v4('192.168.1.20')] }, { pin: 'wan0' })
    await r.discovery.start()
    expect(r.discovery.where().interfaces).toEqual([{ name: 'wan0', address: '203.0.113.9' }])
    r.setList({ wan0: [v4('203.0.113.10')], wlan0: [v4('192.168.1.20')] })
    await r.discovery.poll()
    expect(r.discovery.where().interfaces).toEqual([{ name: 'wan0', address: '203.0.113.10' }])
    r.setList({ wlan0: [v4('192.168.1.20')] })
    await r.discovery.poll()
    expect(r.discovery.where()).toEqual({ interfaces: [], reason: '--interface wan0: no such IPv4 interface (now)' })
    await r.discovery.stop()
  })

  it('an interface whose instance fails to start is reported once, retried every poll, and the others run', async () => {
    const failing = new Set(['eth1'])
    const r = rig({ eth1: [v4('10.0.0.2')], wlan0: [v4('192.168.1.20')] }, { failing })
    const errors: string[] = []
    r.discovery.on('error', (e) => errors.push(`${e.name} ${e.code} ${e.message}`))
    await r.discovery.start()
    await r.discovery.poll()
    expect(r.live().map((m) => m.iface.name)).toEqual(['wlan0'])
    expect(errors).toEqual(['WireError MDNS_SOCKET no socket'])
    expect(r.made.filter((m) => m.iface.name === 'eth1')).toHaveLength(2)
    failing.clear()
    await r.discovery.poll()
    expect(r.live().map((m) => m.iface.name).sort()).toEqual(['eth1', 'wlan0'])
    await r.discovery.stop()
  })
})

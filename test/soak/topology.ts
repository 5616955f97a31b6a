/**
 * The soak's network (docs/soak.md): two bridged LANs in one bridge namespace, `br0` (LAN 0,
 * `10.77.N.0/24`) and `br1` (LAN 1, `10.78.N.0/24`), no route between them, and one namespace per
 * device with a veth `lan0` plugged into one of the two bridges. Every device starts on LAN 0.
 *
 * Faults, each undone by its pair: `cut`/`restore` (iptables DROP of everything on `lan0`),
 * `drop`/`undrop` (iptables `-m statistic --mode random` DROP of a share of packets, both
 * directions), `move` (the device's bridge port moves to the other bridge and `lan0` gets an
 * address on that LAN, as a laptop joining another Wi-Fi does). `heal()` undoes them all.
 *
 * Built on the pieces of test/helpers/netns.ts: nothing touches the root namespace's interfaces,
 * processes inside are child processes killed by pid, and `destroy()` deletes every namespace.
 */
import type { ChildProcess, SpawnOptions } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { addVethPair, execIn, NetnsResources, run, sweepStaleNamespaces, uniqueTag } from '../helpers/netns.js'

/** One device of the soak network. */
export interface SoakNetDevice {
  readonly index: number
  readonly ns: string
  /** Which LAN it is on now (0 or 1). */
  lan: 0 | 1
  /** Its current IPv4 address (changes when it moves). */
  ip: string
  /** The packet drop probability in force, or 0. */
  drop: number
  cut: boolean
  /** False for a device outside the two LANs (a home behind a NAT, {@link SoakNetwork.addExternal}). */
  readonly movable: boolean
}

/** Two LANs of namespaces, with faults that can be injected and healed. */
export class SoakNetwork {
  readonly #res: NetnsResources
  readonly #bridgeNs: string
  readonly #subnets: readonly [string, string]
  readonly devices: SoakNetDevice[]
  #destroyed = false

  private constructor(res: NetnsResources, bridgeNs: string, subnets: [string, string], devices: SoakNetDevice[]) {
    this.#res = res
    this.#bridgeNs = bridgeNs
    this.#subnets = subnets
    this.devices = devices
  }

  /** Builds the two LANs with `devices` devices, all on LAN 0. On failure removes what it made and throws. */
  static async create(devices: number): Promise<SoakNetwork> {
    await sweepStaleNamespaces()
    const tag = uniqueTag()
    const third = 1 + (randomBytes(1)[0]! % 254)
    const subnets: [string, string] = [`10.77.${third}`, `10.78.${third}`]
    const res = new NetnsResources()
    const list: SoakNetDevice[] = []
    try {
      const bridgeNs = await res.addNamespace(`${tag}-br`)
      for (const br of ['br0', 'br1']) {
        await run('ip', ['-n', bridgeNs, 'link', 'add', br, 'type', 'bridge'])
        // Multicast flooded to every port (no snooping), as a home Wi-Fi AP does: mDNS reaches everyone.
        await run('ip', ['-n', bridgeNs, 'link', 'set', br, 'type', 'bridge', 'mcast_snooping', '0'])
        await run('ip', ['-n', bridgeNs, 'link', 'set', br, 'up'])
      }
      for (let i = 0; i < devices; i++) {
        const ns = await res.addNamespace(`${tag}-d${i}`)
        await addVethPair(`${tag}${i}`, { ns, name: 'lan0' }, { ns: bridgeNs, name: `p${i}` })
        await run('ip', ['-n', bridgeNs, 'link', 'set', `p${i}`, 'master', 'br0'])
        const ip = `${subnets[0]}.${i + 10}`
        await run('ip', ['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'lan0'])
        await run('ip', ['-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', 'lan0'])
        list.push({ index: i, ns, lan: 0, ip, drop: 0, cut: false, movable: true })
      }
      return new SoakNetwork(res, bridgeNs, subnets, list)
    } catch (error) {
      await res.cleanup()
      throw error
    }
  }

  #device(index: number): SoakNetDevice {
    const d = this.devices[index]
    if (d === undefined) throw new Error(`no device ${index} in the soak network`)
    return d
  }

  /**
   * Adds a device that lives in namespace `ns` made by another topology (a NAT home of
   * test/helpers/nat.ts), whose interface is also `lan0`: it can be cut and lose packets, not move.
   * Its namespace is not deleted here; its processes are killed at `destroy()`.
   */
  addExternal(ns: string, ip: string): SoakNetDevice {
    const d: SoakNetDevice = { index: this.devices.length, ns, lan: 0, ip, drop: 0, cut: false, movable: false }
    this.devices.push(d)
    return d
  }

  /**
   * Gives LAN device `index` a second interface `wan0` (`addr`/24) into namespace `peerNs`, whose
   * end `peerIface` gets `gateway`; routes `via` (a CIDR) through it. The NAT topology's public
   * network reaches the device this way (a LAN device with a public address, the mesh relay).
   */
  async addUplink(index: number, peerNs: string, peerIface: string, addr: string, gateway: string, via: string): Promise<void> {
    const d = this.#device(index)
    await addVethPair(`${uniqueTag()}u`, { ns: d.ns, name: 'wan0' }, { ns: peerNs, name: peerIface })
    await run('ip', ['-n', peerNs, 'addr', 'add', `${gateway}/24`, 'dev', peerIface])
    await run('ip', ['-n', d.ns, 'addr', 'add', `${addr}/24`, 'dev', 'wan0'])
    await run('ip', ['-n', d.ns, 'route', 'add', via, 'via', gateway])
  }

  /** Spawns `cmd args` inside device `index`'s namespace (killed by pid at `destroy()`). */
  spawnIn(index: number, cmd: string, args: string[], options: SpawnOptions = {}): ChildProcess {
    return this.#res.spawnIn(this.#device(index).ns, cmd, args, options)
  }

  /** Drops every packet in and out of the device's `lan0`. Idempotent. */
  async cut(index: number): Promise<void> {
    const d = this.#device(index)
    if (d.cut) return
    await execIn(d.ns, 'iptables', ['-I', 'INPUT', '-i', 'lan0', '-j', 'DROP'])
    await execIn(d.ns, 'iptables', ['-I', 'OUTPUT', '-o', 'lan0', '-j', 'DROP'])
    d.cut = true
  }

  /** Undoes {@link cut}. Idempotent. */
  async restore(index: number): Promise<void> {
    const d = this.#device(index)
    if (!d.cut) return
    await execIn(d.ns, 'iptables', ['-D', 'INPUT', '-i', 'lan0', '-j', 'DROP'])
    await execIn(d.ns, 'iptables', ['-D', 'OUTPUT', '-o', 'lan0', '-j', 'DROP'])
    d.cut = false
  }

  /** Drops a random share `probability` of the packets in and out of the device's `lan0` (replaces a previous share). */
  async setDrop(index: number, probability: number): Promise<void> {
    await this.clearDrop(index)
    const d = this.#device(index)
    const p = probability.toFixed(3)
    await execIn(d.ns, 'iptables', ['-A', 'INPUT', '-i', 'lan0', '-m', 'statistic', '--mode', 'random', '--probability', p, '-j', 'DROP'])
    await execIn(d.ns, 'iptables', ['-A', 'OUTPUT', '-o', 'lan0', '-m', 'statistic', '--mode', 'random', '--probability', p, '-j', 'DROP'])
    d.drop = probability
  }

  /** Undoes {@link setDrop}. Idempotent. */
  async clearDrop(index: number): Promise<void> {
    const d = this.#device(index)
    if (d.drop === 0) return
    const p = d.drop.toFixed(3)
    await execIn(d.ns, 'iptables', ['-D', 'INPUT', '-i', 'lan0', '-m', 'statistic', '--mode', 'random', '--probability', p, '-j', 'DROP'])
    await execIn(d.ns, 'iptables', ['-D', 'OUTPUT', '-o', 'lan0', '-m', 'statistic', '--mode', 'random', '--probability', p, '-j', 'DROP'])
    d.drop = 0
  }

  /** Moves the device to LAN `lan`: its bridge port changes bridge and `lan0` gets an address there. */
  async move(index: number, lan: 0 | 1): Promise<void> {
    const d = this.#device(index)
    if (!d.movable) throw new Error(`device ${index} is not on the soak LANs: it cannot move`)
    if (d.lan === lan) return
    const ip = `${this.#subnets[lan]}.${index + 10}`
    // Link down first, as a Wi-Fi roam is: the old address goes before the new one comes.
    await run('ip', ['-n', d.ns, 'link', 'set', 'lan0', 'down'])
    await run('ip', ['-n', this.#bridgeNs, 'link', 'set', `p${index}`, 'master', `br${lan}`])
    await run('ip', ['-n', d.ns, 'addr', 'flush', 'dev', 'lan0'])
    await run('ip', ['-n', d.ns, 'addr', 'add', `${ip}/24`, 'dev', 'lan0'])
    await run('ip', ['-n', d.ns, 'link', 'set', 'lan0', 'up'])
    await run('ip', ['-n', d.ns, 'route', 'replace', '224.0.0.0/4', 'dev', 'lan0'])
    d.lan = lan
    d.ip = ip
  }

  /** Every device back on LAN 0, no cut, no drop. */
  async heal(): Promise<void> {
    for (const d of this.devices) {
      await this.restore(d.index)
      await this.clearDrop(d.index)
      if (d.movable) await this.move(d.index, 0)
    }
  }

  /** Kills spawned processes and deletes every namespace. Idempotent; never throws. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return
    this.#destroyed = true
    await this.#res.cleanup()
  }
}

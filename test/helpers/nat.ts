/**
 * Two homes behind two NATs, joined by a "public" network running coturn (README.md, "Development": network tests):
 *
 * ```
 *  home A 192.168.71.2 ─ natA 192.168.71.1 | 172.31.71.2 ─┐
 *                                                         public 172.31.71.1 / 172.31.72.1  (turnserver)
 *  home B 192.168.72.2 ─ natB 192.168.72.1 | 172.31.72.2 ─┘
 * ```
 *
 * Each NAT namespace forwards and MASQUERADEs its home's traffic out of `wan0` (Linux conntrack:
 * endpoint-independent mapping, address-and-port-dependent filtering — a typical home router).
 * The public namespace routes between the NATs and runs `turnserver -n` (STUN + TURN, a static
 * long-term-credential user, no CLI, no config file) bound only to 172.31.71.1. Every address
 * lives inside namespaces this helper creates, so nothing reaches `eth0`.
 *
 * `blockDirect()` drops forwarded traffic between the two NATs in the public namespace, so only the
 * TURN relay (which originates and terminates in the public namespace itself) can carry data.
 */
import { execFileSync, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { addVethPair, execIn, NetnsResources, netnsUnavailableReason, run, uniqueTag } from './netns.js'

/** The TURN user every test peer uses. */
export const TURN_USER = 'orbit'
export const TURN_PASSWORD = 'orbit-test-secret'

export interface NatHome {
  /** Namespace of the device. */
  readonly ns: string
  /** Its private address. */
  readonly ip: string
  /** The NAT's public (outside) address. */
  readonly publicIp: string
}

export interface NatTopology {
  readonly a: NatHome
  readonly b: NatHome
  /** The public namespace (router + coturn). */
  readonly publicNs: string
  /** coturn's address. */
  readonly serverIp: string
  readonly stunSpec: string
  readonly turnSpec: string
  /** Spawns `cmd args` inside `ns`; the child is killed by pid in `destroy()`. */
  spawnIn(ns: string, cmd: string, args?: string[], options?: SpawnOptions): ChildProcess
  exec(ns: string, cmd: string, args?: string[]): Promise<string>
  /** Drops forwarded traffic between the two NATs (direct and STUN-punched paths). */
  blockDirect(): Promise<void>
  /** Kills every process and deletes every namespace. Idempotent; never throws. */
  destroy(): Promise<void>
}

/** Why the NAT tests cannot run here, or undefined. */
export function natUnavailableReason(): string | undefined {
  const base = netnsUnavailableReason()
  if (base !== undefined) return base
  try {
    execFileSync('turnserver', ['--version'], { stdio: 'ignore' })
  } catch {
    return "coturn's turnserver is not installed (apt-get install -y coturn)"
  }
  return undefined
}

const A_LAN = '192.168.71'
const B_LAN = '192.168.72'
const A_WAN = '172.31.71'
const B_WAN = '172.31.72'

/** Builds the topology and starts coturn. On failure removes what it created and throws. */
export async function createNatTopology(): Promise<NatTopology> {
  const tag = uniqueTag()
  const res = new NetnsResources()
  const scratch = mkdtempSync(join(tmpdir(), 'orbit-nat-'))
  // If the runner dies before destroy(), coturn and the peers die too (see NetnsResources.spawnIn).
  const spawnIn = (ns: string, cmd: string, args: string[] = [], options: SpawnOptions = {}): ChildProcess => res.spawnIn(ns, cmd, args, options)
  try {
    const pub = await res.addNamespace(`${tag}-pub`)
    const natA = await res.addNamespace(`${tag}-na`)
    const natB = await res.addNamespace(`${tag}-nb`)
    const homeA = await res.addNamespace(`${tag}-ha`)
    const homeB = await res.addNamespace(`${tag}-hb`)

    await addVethPair(`${tag}1`, { ns: pub, name: 'wa' }, { ns: natA, name: 'wan0' })
    await addVethPair(`${tag}2`, { ns: pub, name: 'wb' }, { ns: natB, name: 'wan0' })
    await addVethPair(`${tag}3`, { ns: natA, name: 'lan0' }, { ns: homeA, name: 'lan0' })
    await addVethPair(`${tag}4`, { ns: natB, name: 'lan0' }, { ns: homeB, name: 'lan0' })

    const ip = (ns: string, ...args: string[]) => run('ip', ['-n', ns, ...args])
    await ip(pub, 'addr', 'add', `${A_WAN}.1/24`, 'dev', 'wa')
    await ip(pub, 'addr', 'add', `${B_WAN}.1/24`, 'dev', 'wb')
    await execIn(pub, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1'])
    // "The rest of the internet": a default route into a sink namespace (forwarding off) swallows
    // packets to unroutable (private) addresses silently, as the real internet does. Without it
    // coturn's relay gets ENETUNREACH for a peer's host candidate and tears the allocation down.
    const sink = await res.addNamespace(`${tag}-sk`)
    await addVethPair(`${tag}5`, { ns: pub, name: 'inet0' }, { ns: sink, name: 'inet0' })
    await ip(pub, 'addr', 'add', '172.31.254.1/30', 'dev', 'inet0')
    await ip(sink, 'addr', 'add', '172.31.254.2/30', 'dev', 'inet0')
    await ip(pub, 'route', 'add', 'default', 'via', '172.31.254.2')

    for (const [nat, home, lan, wan] of [
      [natA, homeA, A_LAN, A_WAN],
      [natB, homeB, B_LAN, B_WAN],
    ] as const) {
      await ip(nat, 'addr', 'add', `${wan}.2/24`, 'dev', 'wan0')
      await ip(nat, 'addr', 'add', `${lan}.1/24`, 'dev', 'lan0')
      await ip(nat, 'route', 'add', 'default', 'via', `${wan}.1`)
      await execIn(nat, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1'])
      await execIn(nat, 'iptables', ['-t', 'nat', '-A', 'POSTROUTING', '-o', 'wan0', '-j', 'MASQUERADE'])
      // A home router lets nothing in that the inside did not start.
      await execIn(nat, 'iptables', ['-A', 'FORWARD', '-i', 'wan0', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT'])
      await execIn(nat, 'iptables', ['-A', 'FORWARD', '-i', 'wan0', '-j', 'DROP'])
      // Unsolicited packets to the router itself are dropped too, not answered with ICMP. This also
      // matters for hole punching: a refused early check would leave a conntrack entry that forces
      // MASQUERADE onto another port for the outgoing check (port-dependent mapping).
      await execIn(nat, 'iptables', ['-A', 'INPUT', '-i', 'wan0', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT'])
      await execIn(nat, 'iptables', ['-A', 'INPUT', '-i', 'wan0', '-j', 'DROP'])
      await ip(home, 'addr', 'add', `${lan}.2/24`, 'dev', 'lan0')
      await ip(home, 'route', 'add', 'default', 'via', `${lan}.1`)
    }

    const serverIp = `${A_WAN}.1`
    const turn = spawnIn(pub, 'turnserver', [
      '-n',
      '--no-cli',
      '--listening-ip', serverIp,
      '--relay-ip', serverIp,
      '--listening-port', '3478',
      '--min-port', '49152',
      '--max-port', '49999',
      '--lt-cred-mech',
      '--user', `${TURN_USER}:${TURN_PASSWORD}`,
      '--realm', 'orbit.test',
      '--no-tls',
      '--no-dtls',
      '--no-stdout-log',
      '--log-file', join(scratch, 'turn.log'),
      '--simple-log',
      '--verbose',
      // Keep coturn's SQLite user database in the scratch dir instead of /var/lib/turn.
      '--userdb', join(scratch, 'turndb'),
      '--pidfile', join(scratch, 'turn.pid'),
      '--allowed-peer-ip', `${A_WAN}.0-${B_WAN}.255`,
    ], { stdio: 'ignore' })
    await waitForUdpListener(pub, serverIp, 3478, turn)

    const destroy = async (): Promise<void> => {
      await res.cleanup()
      if (process.env.ORBIT_KEEP_TURN_LOG) console.warn(`turn log kept in ${scratch}`)
      else rmSync(scratch, { recursive: true, force: true })
    }
    return {
      a: { ns: homeA, ip: `${A_LAN}.2`, publicIp: `${A_WAN}.2` },
      b: { ns: homeB, ip: `${B_LAN}.2`, publicIp: `${B_WAN}.2` },
      publicNs: pub,
      serverIp,
      stunSpec: `stun:${serverIp}:3478`,
      turnSpec: `turn:${TURN_USER}:${TURN_PASSWORD}@${serverIp}:3478`,
      spawnIn,
      exec: (ns, cmd, args = []) => execIn(ns, cmd, args),
      async blockDirect() {
        await execIn(pub, 'iptables', ['-I', 'FORWARD', '-s', `${A_WAN}.0/24`, '-d', `${B_WAN}.0/24`, '-j', 'DROP'])
        await execIn(pub, 'iptables', ['-I', 'FORWARD', '-s', `${B_WAN}.0/24`, '-d', `${A_WAN}.0/24`, '-j', 'DROP'])
      },
      destroy,
    }
  } catch (error) {
    await res.cleanup()
    rmSync(scratch, { recursive: true, force: true })
    throw error
  }
}

async function waitForUdpListener(ns: string, ip: string, port: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`turnserver exited with code ${child.exitCode}`)
    const out = await execIn(ns, 'ss', ['-uln']).catch(() => '')
    if (out.includes(`${ip}:${port}`)) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error('turnserver did not start listening')
}

/** True when `dist/` holds a build of the WebRTC transport (the child peers import it). */
export function distBuilt(root: string): boolean {
  return existsSync(join(root, 'dist/src/adapters/transport-webrtc/index.js'))
}

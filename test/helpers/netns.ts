/**
 * A LAN of Linux network namespaces for multi-device tests (README.md, "Development": network tests).
 *
 * `createLan({ devices: 3 })` builds one namespace holding a bridge `br0` and one namespace per
 * device, each with a veth `lan0` plugged into the bridge, an address in `10.77.<random>.0/24`,
 * `lo` up and a multicast route on `lan0`. Nothing touches the root namespace's interfaces, so no
 * packet ever reaches `eth0`. Names carry the pid and a random tag so parallel runs never collide.
 *
 * Processes inside a namespace must be child processes (`spawnIn`): Node cannot switch the
 * namespace of a running thread. `destroy()` kills those by pid and deletes every namespace it
 * created; call it from `afterEach`/`finally`. A process `exit` hook is a last resort.
 *
 * The low-level pieces (`addNamespace`, `addVethPair`, `execIn`) are exported so that other
 * topologies (NAT namespaces for WebRTC) can be built next to this one.
 *
 * @example
 * const lan = await createLan({ devices: 2 })
 * try {
 *   const child = lan.spawnIn(lan.devices[0]!.ns, 'node', ['peer.mjs'])
 *   await lan.cutLink(1)
 * } finally {
 *   await lan.destroy()
 * }
 */
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'

const execFileAsync = promisify(execFile)

/** Why namespace tests can't run here, or `undefined` when they can (root and `ip` present). */
export function netnsUnavailableReason(): string | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'network namespace tests need root'
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' })
  } catch {
    return '`ip netns` is not available'
  }
  try {
    execFileSync('iptables', ['--version'], { stdio: 'ignore' })
  } catch {
    return 'iptables is not installed (apt-get install -y iptables)'
  }
  return undefined
}

/** Runs a command in the root namespace (for `ip` itself) and returns its stdout. */
export async function run(cmd: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync(cmd, args, { maxBuffer: 16 * 1024 * 1024 })
    return stdout
  } catch (error) {
    const e = error as { stderr?: string; message: string }
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`, { cause: error })
  }
}

/** Runs `cmd args` inside namespace `ns` and returns its stdout. */
export function execIn(ns: string, cmd: string, args: string[] = []): Promise<string> {
  return run('ip', ['netns', 'exec', ns, cmd, ...args])
}

let pdeathsig: boolean | undefined
function hasPdeathsig(): boolean {
  if (pdeathsig === undefined) {
    try {
      pdeathsig = execFileSync('setpriv', ['--help'], { encoding: 'utf8' }).includes('--pdeathsig')
    } catch {
      pdeathsig = false
    }
  }
  return pdeathsig
}

/**
 * A fresh, unique name prefix: `o<pid base36>-<4 hex>` (short: interface names are ≤ 15 chars).
 * The pid lets {@link sweepStaleNamespaces} recognise leftovers of runs that were killed.
 */
export function uniqueTag(): string {
  return `o${process.pid.toString(36)}-${randomBytes(2).toString('hex')}`
}

const TAGGED = /^o([0-9a-z]+)-[0-9a-f]{4}-/

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Deletes namespaces named by {@link uniqueTag} whose creating process is gone and that hold no
 * process: what a SIGKILLed test run (no `finally`, no exit hook) leaves behind. Never touches a
 * namespace with a live creator or with anything running inside it.
 */
export async function sweepStaleNamespaces(): Promise<string[]> {
  const swept: string[] = []
  const list = await run('ip', ['netns', 'list']).catch(() => '')
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0] ?? ''
    const match = TAGGED.exec(name)
    if (!match) continue
    const pid = parseInt(match[1]!, 36)
    if (pid === process.pid || alive(pid)) continue
    const pids = await run('ip', ['netns', 'pids', name]).catch(() => 'unknown')
    if (pids.trim() !== '') continue
    await run('ip', ['netns', 'delete', name]).then(
      () => swept.push(name),
      () => undefined,
    )
  }
  return swept
}

/** Resources one topology created; `cleanup()` removes them (processes first, then namespaces). */
export class NetnsResources {
  readonly namespaces: string[] = []
  readonly children = new Set<ChildProcess>()
  #exitHook = (): void => this.cleanupSync()

  constructor() {
    process.once('exit', this.#exitHook)
  }

  async addNamespace(name: string): Promise<string> {
    await run('ip', ['netns', 'add', name])
    this.namespaces.push(name)
    await run('ip', ['-n', name, 'link', 'set', 'lo', 'up'])
    return name
  }

  /**
   * Spawns `cmd args` inside `ns` (as `ip netns exec ns cmd ...`, which execs, so the child's pid
   * is the command's), tracked so that `cleanup()` kills it by pid. Wrapped in
   * `setpriv --pdeathsig KILL` (util-linux, in Debian base) where available: if the test runner is
   * killed before `cleanup()`, nothing it started lingers in a namespace.
   */
  spawnIn(ns: string, cmd: string, args: readonly string[] = [], options: SpawnOptions = {}): ChildProcess {
    const wrapped = hasPdeathsig() ? ['setpriv', '--pdeathsig', 'KILL', '--', cmd, ...args] : [cmd, ...args]
    const child = spawn('ip', ['netns', 'exec', ns, ...wrapped], { stdio: 'pipe', ...options })
    this.children.add(child)
    child.once('exit', () => this.children.delete(child))
    return child
  }

  /** Kills children by pid and deletes namespaces; never throws. */
  async cleanup(): Promise<void> {
    process.removeListener('exit', this.#exitHook)
    await Promise.all([...this.children].map((child) => killAndWait(child)))
    this.children.clear()
    for (const ns of this.namespaces.splice(0).reverse()) {
      await run('ip', ['netns', 'delete', ns]).catch(() => undefined)
    }
  }

  cleanupSync(): void {
    for (const child of this.children) {
      if (child.pid !== undefined && child.exitCode === null) {
        try {
          process.kill(child.pid, 'SIGKILL')
        } catch {
          // already gone
        }
      }
    }
    this.children.clear()
    for (const ns of this.namespaces.splice(0)) {
      try {
        execFileSync('ip', ['netns', 'delete', ns], { stdio: 'ignore' })
      } catch {
        // already gone
      }
    }
  }
}

function killAndWait(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      try {
        process.kill(child.pid!, 'SIGKILL')
      } catch {
        // already gone
      }
    }, 2000)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    try {
      process.kill(child.pid!, 'SIGTERM')
    } catch {
      clearTimeout(timer)
      resolve()
    }
  })
}

/**
 * Creates a veth pair with one end in each namespace (never in the root namespace), renames
 * them and brings them up.
 */
export async function addVethPair(
  tag: string,
  a: { ns: string; name: string },
  b: { ns: string; name: string },
): Promise<void> {
  // Temporary unique names: two pairs may not share a name while both ends are being created.
  const ta = `${tag}a`.slice(0, 15)
  const tb = `${tag}b`.slice(0, 15)
  await run('ip', ['link', 'add', 'name', ta, 'netns', a.ns, 'type', 'veth', 'peer', 'name', tb, 'netns', b.ns])
  if (ta !== a.name) await run('ip', ['-n', a.ns, 'link', 'set', ta, 'name', a.name])
  if (tb !== b.name) await run('ip', ['-n', b.ns, 'link', 'set', tb, 'name', b.name])
  await run('ip', ['-n', a.ns, 'link', 'set', a.name, 'up'])
  await run('ip', ['-n', b.ns, 'link', 'set', b.name, 'up'])
}

/** One device of a namespace LAN. */
export interface LanDevice {
  index: number
  /** Its network namespace. */
  ns: string
  /** The interface inside `ns` (always `lan0`). */
  iface: string
  /** Its IPv4 address on the LAN. */
  ip: string
}

export interface Lan {
  /** The namespace holding the bridge. */
  readonly bridgeNs: string
  readonly devices: LanDevice[]
  /** `10.77.N` — the /24 prefix of this LAN. */
  readonly subnet: string
  /** Runs a command in namespace `ns`, resolving its stdout. */
  exec(ns: string, cmd: string, args?: string[]): Promise<string>
  /**
   * Spawns `cmd args` inside `ns` (as `ip netns exec ns cmd ...`, which execs, so the child's
   * pid is the command's). The child is killed by pid at `destroy()`.
   */
  spawnIn(ns: string, cmd: string, args?: string[], options?: SpawnOptions): ChildProcess
  /** Drops every packet in and out of device `index`'s `lan0` (iptables, in its namespace). */
  cutLink(index: number): Promise<void>
  /** Undoes `cutLink`. */
  restoreLink(index: number): Promise<void>
  /** Kills spawned processes and deletes all namespaces. Idempotent; never throws. */
  destroy(): Promise<void>
}

/** Builds a bridged LAN of `devices` namespaces. On failure, removes what it created and throws. */
export async function createLan(options: { devices: number }): Promise<Lan> {
  await sweepStaleNamespaces()
  const tag = uniqueTag()
  const third = 1 + (randomBytes(1)[0]! % 254)
  const subnet = `10.77.${third}`
  const res = new NetnsResources()
  const devices: LanDevice[] = []
  try {
    const bridgeNs = await res.addNamespace(`${tag}-br`)
    await run('ip', ['-n', bridgeNs, 'link', 'add', 'br0', 'type', 'bridge'])
    // Without snooping the bridge floods multicast to every port, as a home Wi-Fi AP does.
    await run('ip', ['-n', bridgeNs, 'link', 'set', 'br0', 'type', 'bridge', 'mcast_snooping', '0'])
    await run('ip', ['-n', bridgeNs, 'link', 'set', 'br0', 'up'])
    for (let i = 0; i < options.devices; i++) {
      const ns = await res.addNamespace(`${tag}-d${i}`)
      await addVethPair(`${tag}${i}`, { ns, name: 'lan0' }, { ns: bridgeNs, name: `p${i}` })
      await run('ip', ['-n', bridgeNs, 'link', 'set', `p${i}`, 'master', 'br0'])
      const ip = `${subnet}.${i + 10}`
      await run('ip', ['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'lan0'])
      await run('ip', ['-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', 'lan0'])
      devices.push({ index: i, ns, iface: 'lan0', ip })
    }
  } catch (error) {
    await res.cleanup()
    throw error
  }

  const device = (index: number): LanDevice => {
    const d = devices[index]
    if (d === undefined) throw new Error(`no device ${index} on this LAN`)
    return d
  }
  const setCut = async (index: number, cut: boolean): Promise<void> => {
    const d = device(index)
    const op = cut ? '-I' : '-D'
    await execIn(d.ns, 'iptables', [op, 'INPUT', '-i', d.iface, '-j', 'DROP'])
    await execIn(d.ns, 'iptables', [op, 'OUTPUT', '-o', d.iface, '-j', 'DROP'])
  }
  let destroyed = false

  return {
    bridgeNs: `${tag}-br`,
    devices,
    subnet,
    exec: (ns, cmd, args = []) => execIn(ns, cmd, args),
    spawnIn: (ns, cmd, args, spawnOptions) => res.spawnIn(ns, cmd, args, spawnOptions),

    cutLink: (index) => setCut(index, true),
    restoreLink: (index) => setCut(index, false),
    async destroy() {
      if (destroyed) return
      destroyed = true
      await res.cleanup()
    },
  }
}

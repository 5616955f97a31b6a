/**
 * The smallest namespace LAN the discovery bench needs: two network namespaces joined by one veth
 * pair (`lan0` in each), addresses in 10.78.N.0/24, `lo` up and a multicast route on `lan0`.
 * Nothing is added to the root namespace, so no packet can leave through eth0.
 *
 * (test/helpers/netns.ts builds bridged LANs for the tests, but bench/ runs from dist/ and test/
 * is not compiled, hence this copy of the few commands needed.)
 *
 * `destroy()` kills the children spawned with `spawnIn` (by pid) and deletes both namespaces; it
 * never throws. A process `exit` hook is the last resort.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'

const execFileAsync = promisify(execFile)

/** Why namespaces can't be used here, or undefined when they can (root and `ip` present). */
export function netnsUnavailableReason(): string | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'namespace benches need root'
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' })
  } catch {
    return '`ip netns` is not available'
  }
  return undefined
}

async function ip(args: string[]): Promise<void> {
  try {
    await execFileAsync('ip', args)
  } catch (error) {
    const e = error as { stderr?: string; message: string }
    throw new Error(`ip ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`, { cause: error })
  }
}

export interface PairLan {
  devices: Array<{ ns: string; ip: string }>
  /** Spawns `cmd args` in namespace `ns` (`ip netns exec` execs, so the pid is the command's). */
  spawnIn(ns: string, cmd: string, args: string[]): ChildProcess
  destroy(): Promise<void>
}

/** Two namespaces on one veth link. On failure, removes what it created and throws. */
export async function createPairLan(): Promise<PairLan> {
  const tag = `b${process.pid.toString(36)}${randomBytes(2).toString('hex')}`
  const subnet = `10.78.${1 + (randomBytes(1)[0]! % 254)}`
  const namespaces: string[] = []
  const children = new Set<ChildProcess>()
  const killAll = (): void => {
    for (const child of children) {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(child.pid, 'SIGKILL')
        } catch {
          // already gone
        }
      }
    }
  }
  const exitHook = (): void => {
    killAll()
    for (const ns of namespaces) {
      try {
        execFileSync('ip', ['netns', 'delete', ns], { stdio: 'ignore' })
      } catch {
        // already gone
      }
    }
  }
  process.once('exit', exitHook)
  let destroyed = false
  const destroy = async (): Promise<void> => {
    if (destroyed) return
    destroyed = true
    process.removeListener('exit', exitHook)
    await Promise.all(
      [...children].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return resolve()
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
              process.kill(child.pid, 'SIGTERM')
            } catch {
              clearTimeout(timer)
              resolve()
            }
          }),
      ),
    )
    children.clear()
    for (const ns of namespaces.splice(0).reverse()) await ip(['netns', 'delete', ns]).catch(() => undefined)
  }
  const devices: PairLan['devices'] = []
  try {
    for (const side of ['a', 'b']) {
      const ns = `${tag}-${side}`
      await ip(['netns', 'add', ns])
      namespaces.push(ns)
      await ip(['-n', ns, 'link', 'set', 'lo', 'up'])
      devices.push({ ns, ip: `${subnet}.${side === 'a' ? 1 : 2}` })
    }
    const [a, b] = devices as [PairLan['devices'][0], PairLan['devices'][0]]
    await ip(['link', 'add', 'name', `${tag}a`.slice(0, 15), 'netns', a.ns, 'type', 'veth', 'peer', 'name', `${tag}b`.slice(0, 15), 'netns', b.ns])
    for (const [d, tmpName] of [[a, `${tag}a`.slice(0, 15)], [b, `${tag}b`.slice(0, 15)]] as const) {
      await ip(['-n', d.ns, 'link', 'set', tmpName, 'name', 'lan0'])
      await ip(['-n', d.ns, 'addr', 'add', `${d.ip}/24`, 'dev', 'lan0'])
      await ip(['-n', d.ns, 'link', 'set', 'lan0', 'up'])
      await ip(['-n', d.ns, 'route', 'add', '224.0.0.0/4', 'dev', 'lan0'])
    }
  } catch (error) {
    await destroy()
    throw error
  }
  return {
    devices,
    spawnIn(ns, cmd, args) {
      const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
      children.add(child)
      child.once('exit', () => children.delete(child))
      return child
    },
    destroy,
  }
}

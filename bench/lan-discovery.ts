/**
 * Discovery on a namespace LAN (issue 3's bar: a peer appears ≤ 1 s median after both devices
 * start). Two namespaces (bench/lan-netns.ts), one child process each (bench/peers/discover.mjs)
 * running mDNS discovery on its `lan0`; both are told to start at the same wall-clock instant, and
 * each reports how long after it the other device appeared. Fresh processes every run.
 * Needs root; otherwise the values say why it was skipped.
 */
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateIdentity } from '../src/core/crypto/identity.js'
import { watchLines } from './child-lines.js'
import { createPairLan, netnsUnavailableReason } from './lan-netns.js'

const HERE = dirname(fileURLToPath(import.meta.url))
// dist/bench/ at run time: the child script stays in the source tree and imports from dist/.
const PEER_SCRIPT = join(resolve(HERE, '../..'), 'bench/peers/discover.mjs')

interface Line {
  event: string
  ms?: number
  name?: string
  code?: string
  message?: string
}

/** Median-of-runs discovery latency; values keyed `discovery.*`. */
export async function runDiscoveryBench(opts: { signal?: AbortSignal; log?: (line: string) => void } = {}): Promise<Record<string, number | string>> {
  const log = opts.log ?? (() => undefined)
  const skip = netnsUnavailableReason()
  if (skip !== undefined) {
    log(`discovery: skipped (${skip})`)
    return { 'discovery.skipped': skip }
  }
  const runs = Math.max(5, Number(process.env.ORBIT_BENCH_LAN_DISCOVERY_RUNS ?? 7))
  const lan = await createPairLan()
  const seen: number[] = []
  const worst: number[] = []
  try {
    for (let run = 0; run < runs; run++) {
      opts.signal?.throwIfAborted()
      const ids = [generateIdentity().deviceId, generateIdentity().deviceId]
      const peers = lan.devices.map((d, i) => {
        const child = lan.spawnIn(d.ns, process.execPath, [
          PEER_SCRIPT,
          JSON.stringify({ interfaceAddress: d.ip, deviceId: ids[i], watchFor: ids[1 - i], name: `bench ${i}`, port: 7420 + i }),
        ])
        return { child, out: watchLines<Line>(child) }
      })
      try {
        await Promise.all(peers.map((p) => p.out.next((l) => l.event === 'ready', 20_000, 'ready')))
        // A little ahead, so both children get the line before the instant.
        const goAt = Date.now() + 100
        for (const p of peers) p.child.stdin!.write(`go ${goAt}\n`)
        const found = await Promise.all(peers.map((p, i) => p.out.next((l) => l.event === 'seen' || l.event === 'error', 10_000, `device ${1 - i} seen by ${i}`)))
        const failed = found.find((l) => l.event === 'error')
        if (failed !== undefined) throw new Error(`discovery failed in a child: ${JSON.stringify(failed)}`)
        const ms = found.map((l) => l.ms!)
        seen.push(...ms)
        worst.push(Math.max(...ms))
        log(`  discovery run ${run + 1}/${runs}: seen after ${ms.join(' / ')} ms`)
      } finally {
        await Promise.all(
          peers.map(
            (p) =>
              new Promise<void>((done) => {
                if (p.child.exitCode !== null || p.child.signalCode !== null) return done()
                const timer = setTimeout(() => {
                  if (p.child.pid !== undefined) process.kill(p.child.pid, 'SIGKILL')
                }, 2000)
                p.child.once('exit', () => {
                  clearTimeout(timer)
                  done()
                })
                p.child.stdin!.end('stop\n')
              }),
          ),
        )
      }
    }
  } finally {
    await lan.destroy()
  }
  const median = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b)
    const m = s.length >> 1
    return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
  }
  return {
    'discovery.runs': runs,
    'discovery.medianMs': median(seen),
    'discovery.medianSlowerSideMs': median(worst),
    'discovery.maxMs': Math.max(...seen),
  }
}

/**
 * The initial LAN sync on the real device path (issue 13, "Benchmarks that time what a user
 * waits for"): a new device joins a workspace of N contacts and lists them. Timed from spawn to
 * exit, as a user waits for them:
 *
 * 1. `orbit pair join CODE` on a fresh data dir against `orbit serve` holding the workspace (both
 *    real child processes on 127.0.0.1, the product's cipher, its SQLite store): pairing, then the
 *    first sync until both sides hold the same heads, flushed to disk;
 * 2. the first `orbit contact list` after it, which projects the listing from what arrived.
 *
 * Baseline, measured in the same run on the same documents (saved from the sender's store):
 * Automerge's own in-memory sync loop (`generateSyncMessage`/`receiveSyncMessage` ping-pong until
 * quiet), bench/lan.ts's `baselineSync`. Peak RSS of both sides is reported: the joiner's from
 * its own VmHWM, the daemon's from /proc while it runs.
 *
 *   ORBIT_BENCH_LAN_DEVICE_SIZES=10000 node dist/bench/main.js lan-device
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as Automerge from '@automerge/automerge'
import { openDevice } from '../src/apps/node/device.js'
import { r1, r3 } from './crm-sync.js'
import { baselineSync } from './lan.js'
import { cachedDataDir, procMemory, startServe } from './serve-scale.js'
import { timedChild } from './timed-child.js'
import type { BarCheck, BenchModule, BenchOutcome } from './types.js'

const HERE = dirname(fileURLToPath(import.meta.url))
const ORBIT_BIN = join(resolve(HERE, '../..'), 'bin/orbit.js')

/** Every document of the workspace (root and shards), saved whole: what the baseline syncs. */
async function savedDocuments(dataDir: string): Promise<Uint8Array[]> {
  const device = await openDevice(dataDir)
  try {
    const handles = await device.workspace.allHandles()
    return handles.map((h) => Automerge.save(h.doc() as Automerge.Doc<unknown>))
  } finally {
    await device.close()
  }
}

export const lanDeviceBench: BenchModule = {
  name: 'lan-device (issue 13): initial LAN sync through pair join, to disk and listed',
  async run(progress): Promise<BenchOutcome> {
    const sizes = (process.env.ORBIT_BENCH_LAN_DEVICE_SIZES ?? '10000,100000').split(',').map(Number).filter((n) => n > 0)
    const values: Record<string, number | string> = {}
    const bars: BarCheck[] = []
    for (const n of sizes) {
      const base = await cachedDataDir(n, progress)
      const tmp = mkdtempSync(join(tmpdir(), `orbit-lan-device-${n}-`))
      let serve: Awaited<ReturnType<typeof startServe>> | undefined
      try {
        const sender = join(tmp, 'sender')
        cpSync(base, sender, { recursive: true })
        progress(`  ${n}: baseline (Automerge's in-memory sync loop) ...`)
        const saved = await savedDocuments(sender)
        const baseline = baselineSync(saved)
        progress(`  ${n}: baseline ${r1(baseline.ms)} ms; orbit serve + pair join ...`)
        serve = await startServe(sender)
        const receiver = join(tmp, 'receiver')
        await timedChild(tmp, [ORBIT_BIN, '--data', receiver, 'init', '--name', 'Joiner', '--json'])
        const invite = JSON.parse((await timedChild(tmp, [ORBIT_BIN, '--data', sender, 'pair', 'invite', '--json'])).stdout) as { code: string }
        const joined = await timedChild(tmp, [ORBIT_BIN, '--data', receiver, 'pair', 'join', invite.code, '--timeout', '30m', '--json'])
        const listed = await timedChild(tmp, [ORBIT_BIN, '--data', receiver, 'contact', 'list', '--limit', '50', '--json'])
        const page = JSON.parse(listed.stdout) as { total: number; contacts: unknown[] }
        if (page.total !== n || page.contacts.length !== 50) throw new Error(`the joiner lists ${page.total} contacts (page of ${page.contacts.length}), not ${n}`)
        const senderMemory = procMemory(serve.pid)
        const totalMs = joined.ms + listed.ms
        const k = `lanDevice.${n}`
        values[`${k}.documents`] = saved.length
        values[`${k}.baselineAutomergeSyncMs`] = r1(baseline.ms)
        values[`${k}.pairJoinMs`] = r1(joined.ms)
        values[`${k}.firstListMs`] = r1(listed.ms)
        values[`${k}.totalMs`] = r1(totalMs)
        values[`${k}.vsAutomergeSyncLoop`] = r3(totalMs / baseline.ms)
        values[`${k}.joinerPeakRssMB`] = r1(Math.max(joined.rssMB, listed.rssMB))
        values[`${k}.senderPeakRssMB`] = senderMemory.peakMB
        progress(`  ${n}: join ${r1(joined.ms)} ms + first list ${r1(listed.ms)} ms vs ${r1(baseline.ms)} ms`)
        bars.push({
          metric: `initial LAN sync ${n}, device path (pair join + first list) vs Automerge sync loop`,
          value: r3(totalMs / baseline.ms),
          unit: '×',
          bar: '≤ 1.3',
          pass: totalMs <= 1.3 * baseline.ms,
        })
      } finally {
        await serve?.stop()
        rmSync(tmp, { recursive: true, force: true })
      }
    }
    return { values, bars }
  },
}

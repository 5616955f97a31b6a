/**
 * WebRTC tier bench (issue 5's bars), every ratio against a baseline measured in the same run:
 * 1. connection set-up with host candidates on loopback: offer → answer → accept → secure channel
 *    up on both sides (median of N);
 * 2. throughput of blob-sized payloads (256 KiB messages) over the secure data channel vs a raw
 *    TCP loopback copy of the same bytes;
 * 3. initial sync of the 10,000-contact CRM workspace (root + shards, bench/crm-sync.ts, the same
 *    store the LAN bench builds) into an empty receiver with its own SQLite store, over WebRTC vs
 *    over the LAN tier (TCP with the Noise secure channel, as bench/lan.ts runs it), alternating
 *    the two in each run. Each is timed from the start of connecting (WebRTC: offer, answer,
 *    accept, secure channel; TCP: dial and handshake) until the receiver holds every document at
 *    the sender's heads; the set-up part is also reported on its own.
 *
 *   node --expose-gc dist/bench/webrtc.js
 *   ORBIT_BENCH_WEBRTC_RUNS=3 ORBIT_BENCH_WEBRTC_CONTACTS=2000 ORBIT_BENCH_WEBRTC_SYNC_RUNS=2 node --expose-gc dist/bench/webrtc.js   # quicker
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, connect as tcpConnect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import type { WebRtcConnection } from '../src/adapters/transport-webrtc/connection.js'
import { WebRtcNetworkAdapter } from '../src/adapters/transport-webrtc/network-adapter.js'
import { answerOffer, createOffer } from '../src/adapters/transport-webrtc/signalling.js'
import { generateIdentity, type DeviceIdentity } from '../src/core/crypto/identity.js'
import type { DeviceId } from '../src/core/ids.js'
import {
  buildSender,
  closeRepo,
  gc,
  median,
  openEnd,
  r1,
  r3,
  syncIntoEmptyReceiver,
  tcpLink,
  type CrmEnd,
  type CrmLink,
  type CrmSyncRun,
  type Sender,
} from './crm-sync.js'
import type { BarCheck, BenchOutcome } from './types.js'

const r2 = (x: number): number => Math.round(x * 100) / 100
const MiB = 1024 * 1024

/** Offer by `a`, answer by `b`, host candidates on 127.0.0.1 only; resolves with both secured ends. */
async function connectLoopback(a: DeviceIdentity, b: DeviceIdentity): Promise<[WebRtcConnection, WebRtcConnection]> {
  const members = new Map([a, b].map((d) => [d.deviceId as string, d.publicKey]))
  const base = { resolveMember: (id: DeviceId) => members.get(id), hostAddresses: ['127.0.0.1'] }
  const offer = await createOffer({ ...base, identity: a })
  const answer = await answerOffer(offer.code, { ...base, identity: b })
  const [x, y] = await Promise.all([offer.accept(answer.code), answer.connection])
  return [x, y]
}

async function setupTimes(runs: number): Promise<number[]> {
  const a = generateIdentity()
  const b = generateIdentity()
  const times: number[] = []
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now()
    const [x, y] = await connectLoopback(a, b)
    times.push(performance.now() - t0)
    await Promise.all([x.close(), y.close()])
  }
  return times
}

async function webrtcThroughput(totalBytes: number, messageBytes: number): Promise<number> {
  const [x, y] = await connectLoopback(generateIdentity(), generateIdentity())
  const payload = new Uint8Array(messageBytes).map((_, i) => i & 0xff)
  let received = 0
  const done = new Promise<void>((resolve) => {
    y.onMessage((m) => {
      received += m.length
      if (received >= totalBytes) resolve()
    })
  })
  const t0 = performance.now()
  for (let sent = 0; sent < totalBytes; sent += messageBytes) await x.send(payload)
  await done
  const ms = performance.now() - t0
  await Promise.all([x.close(), y.close()])
  return totalBytes / MiB / (ms / 1000)
}

async function tcpThroughput(totalBytes: number, messageBytes: number): Promise<number> {
  let received = 0
  let resolveDone: () => void = () => undefined
  const done = new Promise<void>((resolve) => (resolveDone = resolve))
  const server = createServer((socket) => {
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length
      if (received >= totalBytes) resolveDone()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  const client = tcpConnect(port, '127.0.0.1')
  await new Promise<void>((resolve) => client.once('connect', () => resolve()))
  const payload = Buffer.alloc(messageBytes, 7)
  const t0 = performance.now()
  for (let sent = 0; sent < totalBytes; sent += messageBytes) {
    if (!client.write(payload)) await new Promise<void>((resolve) => client.once('drain', () => resolve()))
  }
  await done
  const ms = performance.now() - t0
  client.destroy()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return totalBytes / MiB / (ms / 1000)
}

/** The WebRTC tier's end: the Repo gets its adapter once the connection is up, as the app's WebRTC session does. */
interface RtcEnd extends CrmEnd {
  attach(connection: WebRtcConnection): void
}

function rtcEnd(side: 'A' | 'B', identity: DeviceIdentity, file: string, create: boolean): RtcEnd {
  const { repo, db, traffic, count } = openEnd(side, identity, file, create, [])
  let connection: WebRtcConnection | undefined
  return {
    repo,
    db,
    identity,
    traffic,
    attach(c) {
      connection = c
      repo.networkSubsystem.addNetworkAdapter(count(new WebRtcNetworkAdapter(c)))
    },
    async close() {
      await closeRepo(repo, db)
      await connection?.close()
    },
  }
}

/** The WebRTC tier: the sender offers, the receiver answers, loopback host candidates, secure channel in the data channel. */
function webrtcLink(sender: Sender, receiverIdentity: DeviceIdentity): CrmLink<RtcEnd, RtcEnd> {
  return {
    openSender: async () => rtcEnd('A', sender.identity, sender.file, false),
    openReceiver: async (file) => rtcEnd('B', receiverIdentity, file, true),
    async connect(a, b) {
      const [x, y] = await connectLoopback(sender.identity, receiverIdentity)
      a.attach(x)
      b.attach(y)
      // As the TCP tier's dial resolves once the remote joined: until then the receiver cannot ask.
      await b.repo.networkSubsystem.whenReady()
    },
  }
}

type Tier = 'webrtc' | 'lan'

/** A run and what its Repos sent (message count, and repo-message bytes as CountingNetworkAdapter measures them). */
type TierRun = CrmSyncRun & { messages: number; bytes: number }

/** One sync of `tier` into a fresh receiver store; closes both ends and deletes the receiver's files. */
async function syncOnce(tier: Tier, tmp: string, sender: Sender, profile: string | undefined): Promise<TierRun> {
  const file = join(tmp, `receiver-${tier}.sqlite`)
  const receiver = generateIdentity()
  gc()
  const { run, a, b } =
    tier === 'webrtc'
      ? await syncIntoEmptyReceiver(webrtcLink(sender, receiver), sender, file, profile ? { profile } : {})
      : await syncIntoEmptyReceiver(tcpLink(sender, receiver), sender, file)
  const sent = [...a.traffic, ...b.traffic].filter((e) => e.direction === 'sent')
  await b.close()
  await a.close()
  for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true })
  return { ...run, messages: sent.length, bytes: sent.reduce((n, e) => n + e.bytes, 0) }
}

/**
 * Initial sync of the CRM over both tiers, alternating which goes first so load drifts hit both.
 * ORBIT_BENCH_WEBRTC_CONTACTS (default 10000), ORBIT_BENCH_WEBRTC_SYNC_RUNS (default 5, the first
 * a warm-up), ORBIT_BENCH_WEBRTC_PROFILE=FILE (V8 CPU profile of the first counted WebRTC sync),
 * ORBIT_BENCH_LAN_RECEIVER_FINDS=0 (in both tiers the receiver asks for nothing and takes what the
 * sender announces).
 */
async function crmSync(progress: (message: string) => void): Promise<{ values: Record<string, number | string>; ratio: number; contacts: number }> {
  const contacts = Number(process.env.ORBIT_BENCH_WEBRTC_CONTACTS ?? 10_000)
  const runs = Math.max(1, Number(process.env.ORBIT_BENCH_WEBRTC_SYNC_RUNS ?? 5))
  const tmp = mkdtempSync(join(tmpdir(), 'orbit-bench-webrtc-'))
  try {
    progress(`webrtc: building a ${contacts}-contact CRM store`)
    const sender = await buildSender(tmp, contacts, progress)
    const results: Record<Tier, TierRun[]> = { webrtc: [], lan: [] }
    for (let run = 0; run < runs; run++) {
      const order: Tier[] = run % 2 === 0 ? ['lan', 'webrtc'] : ['webrtc', 'lan']
      for (const tier of order) {
        const profile = tier === 'webrtc' && run === Math.min(1, runs - 1) ? process.env.ORBIT_BENCH_WEBRTC_PROFILE : undefined
        results[tier].push(await syncOnce(tier, tmp, sender, profile))
      }
      const [w, l] = [results.webrtc.at(-1)!, results.lan.at(-1)!]
      progress(`  sync run ${run + 1}/${runs}: webrtc ${r1(w.ms)} ms (set-up ${r1(w.connectMs)}, CPU ${r1(w.cpuMs)}), lan ${r1(l.ms)} ms (set-up ${r1(l.connectMs)}, CPU ${r1(l.cpuMs)})`)
    }
    // The first run is a warm-up for both (the store was just written, the JIT is cold).
    if (runs > 1) for (const tier of ['webrtc', 'lan'] as const) results[tier].shift()
    const m = (tier: Tier, key: keyof TierRun): number => median(results[tier].map((r) => r[key]))
    const ratio = m('webrtc', 'ms') / m('lan', 'ms')
    const values = {
      'sync contacts': contacts,
      'sync documents': sender.docUrls.length,
      'sync document bytes': sender.saved.reduce((s, b) => s + b.length, 0),
      'sync runs counted': results.webrtc.length,
      'sync webrtc median ms': r1(m('webrtc', 'ms')),
      'sync lan tcp median ms': r1(m('lan', 'ms')),
      'sync webrtc / lan': r3(ratio),
      'sync webrtc cpu median ms': r1(m('webrtc', 'cpuMs')),
      'sync lan tcp cpu median ms': r1(m('lan', 'cpuMs')),
      'sync cpu webrtc / lan': r3(m('webrtc', 'cpuMs') / m('lan', 'cpuMs')),
      'sync webrtc set-up part median ms': r1(m('webrtc', 'connectMs')),
      'sync lan tcp set-up part median ms': r1(m('lan', 'connectMs')),
      'sync webrtc / lan after set-up': r3((m('webrtc', 'ms') - m('webrtc', 'connectMs')) / (m('lan', 'ms') - m('lan', 'connectMs'))),
      'sync webrtc to disk median ms': r1(m('webrtc', 'msToDisk')),
      'sync lan tcp to disk median ms': r1(m('lan', 'msToDisk')),
      'sync webrtc repo messages sent': m('webrtc', 'messages'),
      'sync lan tcp repo messages sent': m('lan', 'messages'),
      // More than the documents' size when the sender's announcements and the receiver's requests
      // cross: automerge-repo then answers both with the whole document.
      'sync webrtc repo bytes sent': m('webrtc', 'bytes'),
      'sync lan tcp repo bytes sent': m('lan', 'bytes'),
    }
    return { values, ratio, contacts }
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
}

/** Runs the WebRTC bench and returns its values and bar checks. ORBIT_BENCH_WEBRTC_RUNS: connection set-ups (default 7). */
export async function runWebRtcBench(progress: (message: string) => void = () => undefined): Promise<BenchOutcome> {
  const runs = Number(process.env.ORBIT_BENCH_WEBRTC_RUNS ?? 7)
  progress(`webrtc: ${runs} connection set-ups on loopback`)
  const setups = await setupTimes(runs)
  const setupMedian = median(setups)

  progress('webrtc: throughput, 16 MiB in 256 KiB messages vs raw TCP')
  const total = 16 * MiB
  const rtc = median([await webrtcThroughput(total, 256 * 1024), await webrtcThroughput(total, 256 * 1024), await webrtcThroughput(total, 256 * 1024)])
  const tcp = median([await tcpThroughput(total, 256 * 1024), await tcpThroughput(total, 256 * 1024), await tcpThroughput(total, 256 * 1024)])

  const sync = await crmSync(progress)

  const bars: BarCheck[] = [
    { metric: 'webrtc connection set-up, host candidates, median', value: r1(setupMedian), unit: 'ms', bar: '≤ 1000', pass: setupMedian <= 1000 },
    {
      metric: `webrtc initial sync ${sync.contacts}-contact CRM / LAN TCP tier`,
      value: r2(sync.ratio),
      unit: '×',
      bar: '≤ 2',
      pass: sync.ratio <= 2,
    },
  ]
  return {
    values: {
      'setup runs': runs,
      'setup median ms': r1(setupMedian),
      'setup min / max ms': `${r1(Math.min(...setups))} / ${r1(Math.max(...setups))}`,
      'blob throughput webrtc MiB/s': r2(rtc),
      'blob throughput raw tcp MiB/s': r2(tcp),
      'blob throughput webrtc / tcp': Math.round((rtc / tcp) * 1000) / 1000,
      ...sync.values,
    },
    bars,
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const outcome = await runWebRtcBench((m) => process.stderr.write(`${m}\n`))
  console.log(JSON.stringify(outcome, null, 2))
  process.exit(0)
}

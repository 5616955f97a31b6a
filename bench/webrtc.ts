/**
 * WebRTC tier bench (issue 5's bars), every ratio against a baseline measured in the same run:
 * 1. connection set-up with host candidates on loopback: offer → answer → accept → secure channel
 *    up on both sides (median of N);
 * 2. throughput of blob-sized payloads (256 KiB messages) over the secure data channel vs a raw
 *    TCP loopback copy of the same bytes;
 * 3. initial sync of one Automerge document built from 10,000 changes (one contact each), Repo to
 *    Repo, over WebRTC vs over a plain TCP loopback carrying the same adapter (no encryption on
 *    the TCP side: the baseline is the raw transport).
 *
 *   node dist/bench/webrtc.js
 *   ORBIT_BENCH_WEBRTC_RUNS=3 ORBIT_BENCH_WEBRTC_CHANGES=2000 node dist/bench/webrtc.js   # quicker
 */
import { createServer, connect as tcpConnect, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import * as Automerge from '@automerge/automerge'
import { Repo, type PeerId } from '@automerge/automerge-repo'
import type { WebRtcConnection } from '../src/adapters/transport-webrtc/connection.js'
import { WebRtcNetworkAdapter } from '../src/adapters/transport-webrtc/network-adapter.js'
import { answerOffer, createOffer } from '../src/adapters/transport-webrtc/signalling.js'
import { generateIdentity, type DeviceIdentity } from '../src/core/crypto/identity.js'
import type { DeviceId } from '../src/core/ids.js'
import type { BarCheck, BenchOutcome } from './types.js'
import { fakeContact } from './fake-contacts.js'

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}
const r1 = (x: number): number => Math.round(x * 10) / 10
const r2 = (x: number): number => Math.round(x * 100) / 100
const MiB = 1024 * 1024

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

/** A plaintext, length-prefixed TCP socket shaped like a WebRtcConnection, so the same repo adapter runs over it. */
function tcpConnection(socket: Socket, remote: string): WebRtcConnection {
  const handlers = new Set<(m: Uint8Array) => void>()
  const closeHandlers = new Set<(e: Error | undefined) => void>()
  const early: Uint8Array[] = []
  let buffer: Buffer = Buffer.alloc(0)
  let closed = false
  socket.setNoDelay(true)
  socket.on('data', (chunk: Buffer) => {
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk])
    while (buffer.length >= 4) {
      const length = buffer.readUInt32BE(0)
      if (buffer.length < 4 + length) break
      const message = new Uint8Array(buffer.subarray(4, 4 + length))
      buffer = buffer.subarray(4 + length)
      if (handlers.size === 0) early.push(message)
      else for (const h of handlers) h(message)
    }
  })
  socket.on('close', () => {
    closed = true
    for (const h of closeHandlers) h(undefined)
  })
  return {
    remoteDeviceId: remote as DeviceId,
    remoteName: remote,
    authorization: 'member',
    get closed() {
      return closed
    },
    stats: { bytesSent: 0, bytesReceived: 0 },
    async send(message) {
      const header = Buffer.alloc(4)
      header.writeUInt32BE(message.length)
      socket.write(header)
      if (!socket.write(message)) await new Promise<void>((resolve) => socket.once('drain', () => resolve()))
    },
    onMessage(handler) {
      handlers.add(handler)
      if (handlers.size === 1) for (const m of early.splice(0)) handler(m)
      return () => handlers.delete(handler)
    },
    onClose(handler) {
      if (closed) handler(undefined)
      else closeHandlers.add(handler)
    },
    selectedPair: () => undefined,
    async close() {
      socket.destroy()
    },
  }
}

async function tcpPair(): Promise<[WebRtcConnection, WebRtcConnection, () => Promise<void>]> {
  let accepted: (s: Socket) => void = () => undefined
  const incoming = new Promise<Socket>((resolve) => (accepted = resolve))
  const server = createServer((s) => accepted(s))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const client = tcpConnect((server.address() as { port: number }).port, '127.0.0.1')
  await new Promise<void>((resolve) => client.once('connect', () => resolve()))
  const serverSide = await incoming
  return [tcpConnection(client, 'b'), tcpConnection(serverSide, 'a'), () => new Promise<void>((resolve) => server.close(() => resolve()))]
}

/** A document with `changes` changes, one contact each (built once, loaded into each run's sender). */
function buildDoc(changes: number): Uint8Array {
  let doc = Automerge.from<{ contacts: Record<string, unknown> }>({ contacts: {} })
  for (let i = 0; i < changes; i++) {
    doc = Automerge.change(doc, (d) => {
      d.contacts[`ct_${i}`] = fakeContact(i)
    })
  }
  return Automerge.save(doc)
}

async function syncOnce(saved: Uint8Array, link: () => Promise<[WebRtcConnection, WebRtcConnection, () => Promise<void>]>): Promise<number> {
  const [x, y, dispose] = await link()
  const anyPeer = { acceptPeerId: () => true }
  const sender = new Repo({ network: [new WebRtcNetworkAdapter(x, anyPeer)], peerId: 'sender' as PeerId })
  const handle = sender.import<{ contacts: Record<string, unknown> }>(saved)
  const heads = handle.heads()
  const receiver = new Repo({ network: [new WebRtcNetworkAdapter(y, anyPeer)], peerId: 'receiver' as PeerId })
  await Promise.all([sender.networkSubsystem.whenReady(), receiver.networkSubsystem.whenReady()])
  const t0 = performance.now()
  const got = await receiver.find<{ contacts: Record<string, unknown> }>(handle.url)
  while (got.heads().join() !== heads.join()) await new Promise((resolve) => setTimeout(resolve, 5))
  const ms = performance.now() - t0
  await Promise.all([sender.shutdown(), receiver.shutdown()])
  await Promise.all([x.close(), y.close()])
  await dispose()
  return ms
}

/** Runs the WebRTC bench and returns its values and bar checks. */
export async function runWebRtcBench(progress: (message: string) => void = () => undefined): Promise<BenchOutcome> {
  const runs = Number(process.env.ORBIT_BENCH_WEBRTC_RUNS ?? 7)
  const changes = Number(process.env.ORBIT_BENCH_WEBRTC_CHANGES ?? 10_000)
  progress(`webrtc: ${runs} connection set-ups on loopback`)
  const setups = await setupTimes(runs)
  const setupMedian = median(setups)

  progress('webrtc: throughput, 16 MiB in 256 KiB messages vs raw TCP')
  const total = 16 * MiB
  const rtc = median([await webrtcThroughput(total, 256 * 1024), await webrtcThroughput(total, 256 * 1024), await webrtcThroughput(total, 256 * 1024)])
  const tcp = median([await tcpThroughput(total, 256 * 1024), await tcpThroughput(total, 256 * 1024), await tcpThroughput(total, 256 * 1024)])

  progress(`webrtc: building a document of ${changes} changes`)
  const saved = buildDoc(changes)
  const rtcLink = async (): Promise<[WebRtcConnection, WebRtcConnection, () => Promise<void>]> => {
    const [x, y] = await connectLoopback(generateIdentity(), generateIdentity())
    return [x, y, async () => undefined]
  }
  const syncRuns = Math.max(1, Math.min(3, runs))
  const rtcSync: number[] = []
  const tcpSync: number[] = []
  for (let i = 0; i < syncRuns; i++) {
    progress(`webrtc: initial sync run ${i + 1}/${syncRuns}`)
    tcpSync.push(await syncOnce(saved, tcpPair))
    rtcSync.push(await syncOnce(saved, rtcLink))
  }
  const syncRatio = median(rtcSync) / median(tcpSync)

  const bars: BarCheck[] = [
    { metric: 'webrtc connection set-up, host candidates, median', value: r1(setupMedian), unit: 'ms', bar: '≤ 1000', pass: setupMedian <= 1000 },
    {
      metric: `webrtc initial sync (${changes} changes) / plain TCP`,
      value: r2(syncRatio),
      unit: '×',
      bar: '≤ 2 (vs LAN TCP; here vs plain TCP)',
      pass: syncRatio <= 2,
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
      'sync document bytes': saved.length,
      'sync webrtc median ms': r1(median(rtcSync)),
      'sync plain tcp median ms': r1(median(tcpSync)),
      'sync webrtc / tcp': r2(syncRatio),
    },
    bars,
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const outcome = await runWebRtcBench((m) => process.stderr.write(`${m}\n`))
  console.log(JSON.stringify(outcome, null, 2))
  process.exit(0)
}

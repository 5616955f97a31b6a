/**
 * Images peer to peer (issue 11), every ratio against a baseline measured in the same run:
 *
 * 1. LAN (median of alternating trials), through the real node path, each device in its own
 *    process as two devices are (bench/children/blob-node.ts: createOrbitNode — SQLite, the
 *    file-system blob store with its fsync + rename, TCP + the secure channel, the blob
 *    exchange): one 20 MB image, and 200 logos of 50 KB, timed in the receiver's process from
 *    `fetchBlobs()` until every blob is durable there; against a raw TCP copy of the same bytes
 *    over loopback from another process (bench/children/raw-send.ts → a `net` socket → file +
 *    fsync, one file per blob, as the store keeps them).
 * 2. WebRTC: the same 20 MB through a blob exchange over two secured WebRTC links on loopback
 *    (WebRtcNetworkAdapter, the blob kind) against werift's data channel carrying the same bytes as
 *    raw messages through the same secure channel (no blob protocol), absolute MiB/s of both.
 * 3. A cut at a random point of the 20 MB transfer (the LAN link dropped, then redialled): chunks
 *    the provider sent again (bar ≤ 1).
 * 4. 200 logos: request round trips the receiver made (query + want messages; bar ≤ 2).
 * 5. Peak RSS of each node's process (its own VmHWM, bench/peak-rss.ts) after 20 MB and after
 *    200 MB (the limit raised); for 200 MB the provider's process is started again after the put,
 *    which holds the whole image in memory.
 *
 * The receiver's limit is held at 1 KB while the documents sync (so nothing is fetched early),
 * then raised, and the fetch is timed.
 *
 *   node --expose-gc dist/bench/main.js blobs
 *   ORBIT_BENCH_BLOBS_BIG_MB=50 node --expose-gc dist/bench/main.js blobs   # a smaller "200 MB" run
 *   ORBIT_BENCH_BLOBS_ONLY=lan,logos node --expose-gc dist/bench/main.js blobs   # some parts only (lan, cut, logos, webrtc, big)
 *   ORBIT_BENCH_BLOBS_TRIALS=1 …   # LAN 20 MB and 200 logos: trials, node and raw alternating (default 5; the ratio of the medians)
 */
import { spawn } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { createServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import { Repo, type PeerId } from '@automerge/automerge-repo'
import { toBase64Url } from '../src/core/crypto/bytes.js'
import { generateIdentity, type DeviceIdentity } from '../src/core/crypto/identity.js'
import type { BlobHash, DeviceId } from '../src/core/ids.js'
import { CHUNK_SIZE, PIECE_SIZE } from '../src/core/blobs/port.js'
import { BlobExchange } from '../src/core/blobs/exchange.js'
import { FsBlobStore, blobHashOf } from '../src/adapters/blobstore-fs/index.js'
import { saveIdentity } from '../src/adapters/identity-fs/index.js'
import { ConfigStore, openOrbitDatabase } from '../src/adapters/storage-sqlite/index.js'
import { WebRtcNetworkAdapter } from '../src/adapters/transport-webrtc/network-adapter.js'
import { answerOffer, createOffer } from '../src/adapters/transport-webrtc/signalling.js'
import type { WebRtcConnection } from '../src/adapters/transport-webrtc/connection.js'
import { CONFIG_KEYS, storePath } from '../src/apps/node/data-dir.js'
import { initDevice, openDevice } from '../src/apps/node/device.js'
import { watchLines } from './child-lines.js'
import { gc, median, r1 } from './crm-sync.js'
import { syntheticPng } from './synthetic-png.js'
import type { BarCheck, BenchModule, BenchOutcome } from './types.js'

const MiB = 1024 * 1024
const r2 = (x: number): number => Math.round(x * 100) / 100
const HERE = dirname(fileURLToPath(import.meta.url))

/** Two member data dirs of one workspace (A founded it, B was added before the copy, as pairing leaves them). */
async function twoMembers(root: string): Promise<{ a: string; b: string; bId: DeviceId }> {
  const a = join(root, 'a')
  const b = join(root, 'b')
  await initDevice(a, { name: 'Alpha' })
  const other = generateIdentity()
  const device = await openDevice(a)
  try {
    await device.workspace.addDevice({ id: other.deviceId, publicKey: toBase64Url(other.publicKey), name: 'Beta', addedAt: Date.now(), addedBy: device.identity.deviceId })
    await device.flush()
  } finally {
    await device.close()
  }
  cpSync(a, b, { recursive: true })
  unlinkSync(join(b, 'identity.key'))
  saveIdentity(b, other)
  const db = openOrbitDatabase(storePath(b), { create: false })
  try {
    const config = new ConfigStore(db)
    config.set(CONFIG_KEYS.deviceId, other.deviceId)
    config.set(CONFIG_KEYS.deviceName, 'Beta')
  } finally {
    db.close()
  }
  return { a, b, bId: other.deviceId }
}

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 120_000): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** One device of the bench in its own process (bench/children/blob-node.ts), driven by JSON lines. */
interface NodeChild {
  port: number
  deviceId: DeviceId
  call<T>(op: string, args?: Record<string, unknown>): Promise<T>
  kill(): void
}

async function spawnNode(dataDir: string): Promise<NodeChild> {
  const child = spawn(process.execPath, [join(HERE, 'children', 'blob-node.js'), dataDir], { stdio: ['pipe', 'pipe', 'pipe'] })
  const lines = watchLines<{ ready?: boolean; port?: number; deviceId?: DeviceId; id?: number; result?: unknown; error?: string }>(child)
  const ready = await lines.next((l) => l.ready === true, 60_000, 'the bench node to start')
  let next = 1
  return {
    port: ready.port!,
    deviceId: ready.deviceId!,
    async call<T>(op: string, args: Record<string, unknown> = {}): Promise<T> {
      const id = next++
      child.stdin.write(JSON.stringify({ id, op, ...args }) + '\n')
      const reply = await lines.next((l) => l.id === id, 600_000, `the bench node's ${op}`)
      if (reply.error !== undefined) throw new Error(`${op}: ${reply.error}`)
      return reply.result as T
    },
    kill: () => void child.kill('SIGKILL'),
  }
}

interface Pair {
  a: NodeChild
  b: NodeChild
  /** A's process stopped and started again on its data dir, B linked to it again (a provider whose memory holds nothing of a put). */
  restartA(): Promise<void>
  close(): Promise<void>
}

/** Two nodes on loopback, each in its own process, B linked to A, B's limit at 1 KB (nothing is fetched until a run raises it). */
async function nodePair(root: string): Promise<Pair> {
  const m = await twoMembers(root)
  const [a, b] = await Promise.all([spawnNode(m.a), spawnNode(m.b)])
  const pair: Pair = {
    a,
    b,
    async restartA() {
      await pair.a.call('stop').catch(() => undefined)
      pair.a.kill()
      await pair.b.call('drop', { deviceId: pair.a.deviceId })
      pair.a = await spawnNode(m.a)
      await pair.b.call('dial', { port: pair.a.port })
    },
    async close() {
      await Promise.allSettled([pair.a.call('stop'), pair.b.call('stop')])
      pair.a.kill()
      pair.b.kill()
    },
  }
  try {
    await a.call('limit', { bytes: 1024 * MiB })
    await b.call('limit', { bytes: 1024 })
    await b.call('dial', { port: a.port })
  } catch (error) {
    await pair.close()
    throw error
  }
  return pair
}

/** Adds contacts with these logos on A (written to files it reads), waits until B lists them all, and returns their hashes. */
async function addLogos(p: Pair, logos: Uint8Array[], dir: string): Promise<BlobHash[]> {
  const files = writeBlobFiles(logos, dir)
  const hashes = await p.a.call<BlobHash[]>('put', { files })
  for (const f of files) rmSync(f, { force: true })
  await p.b.call('known', { hashes })
  return hashes
}

function writeBlobFiles(blobs: Uint8Array[], dir: string): string[] {
  mkdirSync(dir, { recursive: true })
  return blobs.map((bytes, i) => {
    const file = join(dir, `blob-${i}`)
    writeFileSync(file, bytes)
    return file
  })
}

/** Raises B's limit and times one fetch of everything missing, in B's process; ms and B's request counts. */
function timedFetch(p: Pair, hashes: BlobHash[], limit: number): Promise<{ ms: number; queries: number; wants: number }> {
  return p.b.call('fetch', { hashes, limit })
}

/**
 * The baseline: the same blobs from another process over one loopback TCP socket
 * (bench/children/raw-send.ts), each written to its own file here and fsynced. Timed from the
 * "go" byte to the last fsync.
 */
async function rawTcpCopy(blobs: Uint8Array[], dir: string): Promise<number> {
  const sources = writeBlobFiles(blobs, join(dir, 'raw-src'))
  const sizes = blobs.map((b) => b.length)
  let resolveDone: () => void = () => undefined
  const done = new Promise<void>((resolve) => (resolveDone = resolve))
  let t0 = 0
  const server = createServer((socket: Socket) => {
    let index = 0
    let offset = 0
    let file: Awaited<ReturnType<typeof open>> | undefined
    let chain = Promise.resolve()
    socket.on('data', (chunk: Buffer) => {
      socket.pause()
      chain = chain.then(async () => {
        let at = 0
        while (at < chunk.length) {
          file ??= await open(join(dir, `raw-${index}`), 'w')
          const take = Math.min(chunk.length - at, sizes[index]! - offset)
          await file.write(chunk.subarray(at, at + take))
          at += take
          offset += take
          if (offset === sizes[index]) {
            await file.sync()
            await file.close()
            file = undefined
            index++
            offset = 0
            if (index === sizes.length) resolveDone()
          }
        }
        socket.resume()
      })
    })
    t0 = performance.now()
    socket.write('g')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const child = spawn(process.execPath, [join(HERE, 'children', 'raw-send.js'), String((server.address() as { port: number }).port), ...sources], { stdio: ['ignore', 'ignore', 'inherit'] })
  await done
  const ms = performance.now() - t0
  child.kill()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  for (let i = 0; i < blobs.length; i++) rmSync(join(dir, `raw-${i}`), { force: true })
  rmSync(join(dir, 'raw-src'), { recursive: true, force: true })
  return ms
}

/** Offer by `a`, answer by `b`, host candidates on 127.0.0.1; both secured ends. */
async function connectLoopback(a: DeviceIdentity, b: DeviceIdentity): Promise<[WebRtcConnection, WebRtcConnection]> {
  const members = new Map([a, b].map((d) => [d.deviceId as string, d.publicKey]))
  const base = { resolveMember: (id: DeviceId) => members.get(id), hostAddresses: ['127.0.0.1'] }
  const offer = await createOffer({ ...base, identity: a })
  const answer = await answerOffer(offer.code, { ...base, identity: b })
  return Promise.all([offer.accept(answer.code), answer.connection])
}

/** The same bytes as raw messages over the secured data channel (PIECE_SIZE each, as the blob pieces). */
async function rawChannel(bytes: Uint8Array): Promise<number> {
  const [x, y] = await connectLoopback(generateIdentity(), generateIdentity())
  let received = 0
  const done = new Promise<void>((resolve) => {
    y.onMessage((m) => {
      received += m.length
      if (received >= bytes.length) resolve()
    })
  })
  const t0 = performance.now()
  for (let at = 0; at < bytes.length; at += PIECE_SIZE) await x.send(bytes.subarray(at, at + PIECE_SIZE))
  await done
  const ms = performance.now() - t0
  await Promise.all([x.close(), y.close()])
  return ms
}

/** The blob exchange over two WebRTC link hosts (each on its own Repo, as a session's adapter is); the receiver to disk. */
async function webrtcExchange(bytes: Uint8Array, dir: string): Promise<number> {
  const ia = generateIdentity()
  const ib = generateIdentity()
  const [x, y] = await connectLoopback(ia, ib)
  const sa = new FsBlobStore(join(dir, 'rtc-a'))
  const sb = new FsBlobStore(join(dir, 'rtc-b'))
  const hash = await sa.put(bytes)
  const members = new Set<string>([ia.deviceId, ib.deviceId])
  const adapters = [new WebRtcNetworkAdapter(x, { authorize: (id) => members.has(id) }), new WebRtcNetworkAdapter(y, { authorize: (id) => members.has(id) })]
  const repos = adapters.map((ad, i) => new Repo({ network: [ad], peerId: (i === 0 ? ia.deviceId : ib.deviceId) as string as PeerId }))
  const common = { isMember: (id: DeviceId) => members.has(id), isReferenced: (h: BlobHash) => h === hash, maxBlobBytes: () => 1024 * MiB }
  const ea = new BlobExchange({ ...common, store: sa })
  const eb = new BlobExchange({ ...common, store: sb })
  ea.addPort(adapters[0]!.blobPort())
  eb.addPort(adapters[1]!.blobPort())
  await until(() => adapters[1]!.blobPeers().length > 0 && adapters[0]!.blobPeers().length > 0, 'the WebRTC blob peers')
  const t0 = performance.now()
  const result = await eb.fetch([hash])
  const ms = performance.now() - t0
  if (result.fetched.length !== 1) throw new Error(`the WebRTC fetch failed: ${JSON.stringify(result.failed)}`)
  await Promise.all([ea.close(), eb.close()])
  for (const r of repos) await r.shutdown().catch(() => undefined)
  await Promise.all([x.close(), y.close()])
  return ms
}

/**
 * `n` trials, each timing Orbit's path and then the raw baseline on fresh bytes (the page cache,
 * the disk's write-back and the CPU's other load change between seconds: alternating puts both
 * sides in the same conditions); the median of each side and every trial.
 */
async function alternating(n: number, trial: (k: number) => Promise<{ node: number; raw: number }>): Promise<{ node: { ms: number; all: number[] }; raw: { ms: number; all: number[] } }> {
  const node: number[] = []
  const raw: number[] = []
  for (let k = 0; k < n; k++) {
    const t = await trial(k)
    node.push(t.node)
    raw.push(t.raw)
  }
  return { node: { ms: median(node), all: node }, raw: { ms: median(raw), all: raw } }
}

/** Drops B's LAN link to A once B holds `fraction` of the blob, redials, and counts what A sent twice. */
async function cutAndResume(p: Pair, hash: BlobHash, size: number, fraction: number): Promise<{ chunksResent: number; bytesResent: number; cutAt: number }> {
  const before = await p.a.call<{ bytesResent: number }>('counts')
  await p.b.call('startFetch', { limit: 1024 * MiB })
  let cutAt = 0
  await until(async () => {
    const received = await p.b.call<number>('received', { hash })
    if (received >= size * fraction) cutAt = received
    return cutAt > 0
  }, 'the transfer to pass the cut point', 60_000)
  await p.b.call('drop', { deviceId: p.a.deviceId })
  await p.b.call('dial', { port: p.a.port })
  await p.b.call('startFetch', { limit: 1024 * MiB })
  await p.b.call('present', { hashes: [hash] })
  const bytesResent = (await p.a.call<{ bytesResent: number }>('counts')).bytesResent - before.bytesResent
  return { chunksResent: r2(bytesResent / CHUNK_SIZE), bytesResent, cutAt }
}

export const blobsBench: BenchModule = {
  name: 'blobs (issue 11): images over the LAN and WebRTC vs raw copies, cut and resume, round trips, RSS',
  async run(progress): Promise<BenchOutcome> {
    const bigMb = Number(process.env.ORBIT_BENCH_BLOBS_BIG_MB ?? 200)
    const trials = Math.max(1, Number(process.env.ORBIT_BENCH_BLOBS_TRIALS ?? 5))
    const only = process.env.ORBIT_BENCH_BLOBS_ONLY?.split(',')
    const part = (name: string): boolean => only === undefined || only.includes(name)
    const values: Record<string, number | string> = {}
    const bars: BarCheck[] = []
    const tmp = mkdtempSync(join(tmpdir(), 'orbit-bench-blobs-'))
    let p: Pair
    try {
      // ---- 1. LAN 20 MB --------------------------------------------------------------------------
      if (part('lan')) {
        progress('blobs: LAN 20 MB through two nodes vs raw TCP → file + fsync')
        const image = syntheticPng(20 * MiB, 1)
        p = await nodePair(join(tmp, 'p1'))
        try {
          const { node, raw } = await alternating(trials, async (k) => {
            const trialImage = k === 0 ? image : syntheticPng(20 * MiB, 1000 + k)
            await p.b.call('limit', { bytes: 1024 })
            const [h] = await addLogos(p, [trialImage], join(tmp, 'src'))
            return { node: (await timedFetch(p, [h!], 1024 * MiB)).ms, raw: await rawTcpCopy([trialImage], tmp) }
          })
          values['LAN 20 MB trials (node ms / raw ms)'] = node.all.map((n, i) => `${r1(n)}/${r1(raw.all[i]!)}`).join(' ')
          values['LAN 20 MB node ms'] = r1(node.ms)
          values['LAN 20 MB node MiB/s'] = r1(20 / (node.ms / 1000))
          values['LAN 20 MB raw tcp+fsync ms'] = r1(raw.ms)
          values['LAN 20 MB raw tcp+fsync MiB/s'] = r1(20 / (raw.ms / 1000))
          const ratio = r2(raw.ms / node.ms)
          values['LAN 20 MB node / raw throughput'] = ratio
          bars.push({ metric: 'LAN 20 MB throughput vs raw TCP copy', value: ratio, unit: 'x', bar: '≥ 0.8', pass: ratio >= 0.8 })
          values['peak RSS after 20 MB, receiver (MiB)'] = r1((await p.b.call<number>('rss')) / MiB)
          values['peak RSS after 20 MB, provider (MiB)'] = r1((await p.a.call<number>('rss')) / MiB)
        } finally {
          await p.close()
        }
      }

      // ---- 3. cut at a random point ---------------------------------------------------------------
      if (part('cut')) {
        progress('blobs: LAN 20 MB cut at a random point, redialled')
        p = await nodePair(join(tmp, 'p2'))
        try {
          const cutImage = syntheticPng(20 * MiB, 2)
          const [h] = await addLogos(p, [cutImage], join(tmp, 'src'))
          const fraction = 0.2 + Math.random() * 0.6
          const cut = await cutAndResume(p, h!, cutImage.length, fraction)
          values['cut at (bytes)'] = cut.cutAt
          values['cut: bytes resent'] = cut.bytesResent
          values['cut: chunks resent'] = cut.chunksResent
          bars.push({ metric: 'a cut 20 MB transfer: chunks resent', value: cut.chunksResent, unit: 'chunks', bar: '≤ 1', pass: cut.chunksResent <= 1 })
        } finally {
          await p.close()
        }
      }

      // ---- 1b + 4. 200 logos ----------------------------------------------------------------------
      if (part('logos')) {
        progress('blobs: 200 × 50 KB logos through two nodes vs raw TCP (one file each, fsynced)')
        const logos = Array.from({ length: 200 }, (_, i) => syntheticPng(50 * 1024, 100 + i))
        p = await nodePair(join(tmp, 'p3'))
        try {
          let first: { queries: number; wants: number } | undefined
          const { node, raw } = await alternating(trials, async (k) => {
            const trialLogos = k === 0 ? logos : Array.from({ length: 200 }, (_, i) => syntheticPng(50 * 1024, 1000 * (k + 1) + i))
            await p.b.call('limit', { bytes: 1024 })
            const hashes = await addLogos(p, trialLogos, join(tmp, 'src'))
            const fetched = await timedFetch(p, hashes, 1024 * MiB)
            first ??= fetched
            return { node: fetched.ms, raw: await rawTcpCopy(trialLogos, tmp) }
          })
          values['200 logos trials (node ms / raw ms)'] = node.all.map((n, i) => `${r1(n)}/${r1(raw.all[i]!)}`).join(' ')
          values['200 logos node ms'] = r1(node.ms)
          values['200 logos raw tcp+fsync ms'] = r1(raw.ms)
          const ratio = r2(raw.ms / node.ms)
          values['200 logos node / raw throughput'] = ratio
          bars.push({ metric: '200 × 50 KB logos throughput vs raw TCP copy', value: ratio, unit: 'x', bar: '≥ 0.8', pass: ratio >= 0.8 })
          const trips = first!.queries + first!.wants
          values['200 logos: query messages'] = first!.queries
          values['200 logos: want messages'] = first!.wants
          bars.push({ metric: '200 logos: request round trips', value: trips, unit: 'round trips', bar: '≤ 2', pass: trips <= 2 })
        } finally {
          await p.close()
        }
      }

      // ---- 2. WebRTC ------------------------------------------------------------------------------
      if (part('webrtc')) {
        progress('blobs: WebRTC 20 MB blob exchange vs raw data-channel messages')
        const image = syntheticPng(20 * MiB, 1)
        const rtc = await webrtcExchange(image, tmp)
        const rawRtc = await rawChannel(image)
        values['WebRTC 20 MB exchange MiB/s'] = r1(20 / (rtc / 1000))
        values['WebRTC 20 MB raw channel MiB/s'] = r1(20 / (rawRtc / 1000))
        const rtcRatio = r2(rawRtc / rtc)
        values['WebRTC exchange / raw channel throughput'] = rtcRatio
        bars.push({ metric: 'WebRTC 20 MB throughput vs raw data channel', value: rtcRatio, unit: 'x', bar: '≥ 0.7', pass: rtcRatio >= 0.7 })
      }

      // ---- 5. big blob RSS -----------------------------------------------------------------------
      if (part('big')) {
        progress(`blobs: ${bigMb} MB through two nodes (limit raised), peak RSS`)
        gc()
        p = await nodePair(join(tmp, 'p4'))
        try {
          const big = syntheticPng(bigMb * MiB, 5)
          const hash = blobHashOf(big)
          const [h] = await addLogos(p, [big], join(tmp, 'src'))
          if (h !== hash) throw new Error('hash mismatch')
          // The put read the whole image into A's memory (as `--logo` reads its file): a fresh
          // process serves it, so A's peak is the transfer's, not the put's.
          await p.restartA()
          const node = await timedFetch(p, [h], 1024 * MiB)
          values[`LAN ${bigMb} MB node MiB/s`] = r1(bigMb / (node.ms / 1000))
          values[`peak RSS after ${bigMb} MB, receiver (MiB)`] = r1((await p.b.call<number>('rss')) / MiB)
          values[`peak RSS after ${bigMb} MB, provider restarted after the put (MiB)`] = r1((await p.a.call<number>('rss')) / MiB)
        } finally {
          await p.close()
        }
      }

      return { values, bars }
    } finally {
      rmSync(tmp, { recursive: true, force: true })
    }
  },
}

/**
 * Images peer to peer (issue 11), every ratio against a baseline measured in the same run:
 *
 * 1. LAN, through the real node path (createOrbitNode on both sides: SQLite, the file-system blob
 *    store with its fsync + rename, TCP + the secure channel, the blob exchange): one 20 MB image,
 *    and 200 logos of 50 KB, timed from `fetchBlobs()` until every blob is durable on the receiver;
 *    against a raw TCP copy of the same bytes over loopback (node `net` socket → file + fsync, one
 *    file per blob, as the store keeps them).
 * 2. WebRTC: the same 20 MB through a blob exchange over two secured WebRTC links on loopback
 *    (WebRtcNetworkAdapter, the blob kind) against werift's data channel carrying the same bytes as
 *    raw messages through the same secure channel (no blob protocol), absolute MiB/s of both.
 * 3. A cut at a random point of the 20 MB transfer (the LAN link dropped, then redialled): chunks
 *    the provider sent again (bar ≤ 1).
 * 4. 200 logos: request round trips the receiver made (query + want messages; bar ≤ 2).
 * 5. Peak RSS of this process (both nodes live in it) after 20 MB and after 200 MB (the limit raised).
 *
 * The receiver's limit is held at 1 KB while the documents sync (so nothing is fetched early),
 * then raised, and the fetch is timed.
 *
 *   node --expose-gc dist/bench/main.js blobs
 *   ORBIT_BENCH_BLOBS_BIG_MB=50 node --expose-gc dist/bench/main.js blobs   # a smaller "200 MB" run
 */
import { cpSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { createServer, connect as tcpConnect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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
import { createOrbitNode, type OrbitNode } from '../src/apps/node/orbit-node.js'
import { gc, r1 } from './crm-sync.js'
import { syntheticPng } from './synthetic-png.js'
import type { BarCheck, BenchModule, BenchOutcome } from './types.js'

const MiB = 1024 * 1024
const r2 = (x: number): number => Math.round(x * 100) / 100
const rssMiB = (): number => r1(process.resourceUsage().maxRSS / 1024)

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

interface Pair {
  a: OrbitNode
  b: OrbitNode
  aId: DeviceId
  bId: DeviceId
  close(): Promise<void>
}

/** Two nodes on loopback, B linked to A, B's limit at 1 KB (nothing is fetched until a run raises it). */
async function nodePair(root: string): Promise<Pair> {
  const m = await twoMembers(root)
  const a = await createOrbitNode({ dataDir: m.a, listen: { host: '127.0.0.1', port: 0 }, background: false })
  const b = await createOrbitNode({ dataDir: m.b, listen: { host: '127.0.0.1', port: 0 }, background: false })
  await a.api.blobLimit(1024 * 1024 * 1024)
  await b.api.blobLimit(1024)
  await b.lan.dial('127.0.0.1', a.listenAddress!.port)
  return { a, b, aId: a.device.identity.deviceId, bId: m.bId, close: async () => void (await Promise.allSettled([a.stop(), b.stop()])) }
}

/** Adds contacts with these logos on A, waits until B lists them all, and returns their hashes. */
async function addLogos(p: Pair, logos: Uint8Array[]): Promise<BlobHash[]> {
  const hashes: BlobHash[] = []
  for (const [i, bytes] of logos.entries()) {
    const hash = await p.a.api.putBlob(bytes)
    await p.a.api.workspace.addContact({ name: `Logo ${i} ${hash.slice(0, 6)}`, logo: hash })
    hashes.push(hash)
  }
  await p.a.device.flush()
  const want = new Set(hashes)
  await until(async () => {
    const s = await p.b.api.blobs()
    return s.items.filter((i) => want.has(i.hash)).length === want.size
  }, 'the contacts on B')
  return hashes
}

/** Raises B's limit and times one fetch of everything missing; resolves with ms and B's request counts. */
async function timedFetch(p: Pair, hashes: BlobHash[], limit: number): Promise<{ ms: number; queries: number; wants: number }> {
  const ex = p.b.blobs.exchange!
  const before = { queries: ex.counts.queries, wants: ex.counts.wants }
  await p.b.api.blobLimit(limit)
  const t0 = performance.now()
  await p.b.api.fetchBlobs()
  await until(async () => (await Promise.all(hashes.map((h) => p.b.device.blobs.has(h)))).every(Boolean), 'every blob on B')
  const ms = performance.now() - t0
  return { ms, queries: ex.counts.queries - before.queries, wants: ex.counts.wants - before.wants }
}

/** The baseline: the same blobs over one loopback TCP socket, each written to its own file and fsynced. */
async function rawTcpCopy(blobs: Uint8Array[], dir: string): Promise<number> {
  const sizes = blobs.map((b) => b.length)
  let resolveDone: () => void = () => undefined
  const done = new Promise<void>((resolve) => (resolveDone = resolve))
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
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const client = tcpConnect((server.address() as { port: number }).port, '127.0.0.1')
  await new Promise<void>((resolve) => client.once('connect', () => resolve()))
  const t0 = performance.now()
  for (const b of blobs) if (!client.write(b)) await new Promise<void>((resolve) => client.once('drain', () => resolve()))
  await done
  const ms = performance.now() - t0
  client.destroy()
  await new Promise<void>((resolve) => server.close(() => resolve()))
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

/** Drops B's LAN link to A once B holds `fraction` of the blob, redials, and counts what A sent twice. */
async function cutAndResume(p: Pair, hash: BlobHash, size: number, fraction: number): Promise<{ chunksResent: number; bytesResent: number; cutAt: number }> {
  const provider = p.a.blobs.exchange!
  const before = { pieces: provider.counts.piecesResent, bytes: provider.counts.bytesResent }
  await p.b.api.blobLimit(1024 * MiB)
  const fetching = p.b.api.fetchBlobs()
  let cutAt = 0
  await until(() => {
    const t = p.b.blobs.exchange!.progress().transfers.find((x) => x.hash === hash)
    if (t !== undefined && t.received >= size * fraction) cutAt = t.received
    return cutAt > 0
  }, 'the transfer to pass the cut point', 60_000)
  p.b.lan.drop(p.aId)
  await until(() => !p.b.lan.isConnected(p.aId), 'the cut')
  await p.b.lan.dial('127.0.0.1', p.a.listenAddress!.port)
  await fetching.catch(() => undefined)
  await until(() => p.b.device.blobs.has(hash), 'the resumed blob on B')
  const bytesResent = provider.counts.bytesResent - before.bytes
  return { chunksResent: r2(bytesResent / CHUNK_SIZE), bytesResent, cutAt }
}

export const blobsBench: BenchModule = {
  name: 'blobs (issue 11): images over the LAN and WebRTC vs raw copies, cut and resume, round trips, RSS',
  async run(progress): Promise<BenchOutcome> {
    const bigMb = Number(process.env.ORBIT_BENCH_BLOBS_BIG_MB ?? 200)
    const values: Record<string, number | string> = {}
    const bars: BarCheck[] = []
    const tmp = mkdtempSync(join(tmpdir(), 'orbit-bench-blobs-'))
    try {
      // ---- 1. LAN 20 MB --------------------------------------------------------------------------
      progress('blobs: LAN 20 MB through two nodes vs raw TCP → file + fsync')
      const image = syntheticPng(20 * MiB, 1)
      let p = await nodePair(join(tmp, 'p1'))
      try {
        const [h] = await addLogos(p, [image])
        const node = await timedFetch(p, [h!], 1024 * MiB)
        const raw = await rawTcpCopy([image], tmp)
        values['LAN 20 MB node ms'] = r1(node.ms)
        values['LAN 20 MB node MiB/s'] = r1(20 / (node.ms / 1000))
        values['LAN 20 MB raw tcp+fsync ms'] = r1(raw)
        values['LAN 20 MB raw tcp+fsync MiB/s'] = r1(20 / (raw / 1000))
        const ratio = r2(raw / node.ms)
        values['LAN 20 MB node / raw throughput'] = ratio
        bars.push({ metric: 'LAN 20 MB throughput vs raw TCP copy', value: ratio, unit: 'x', bar: '≥ 0.8', pass: ratio >= 0.8 })
        values['peak RSS after 20 MB (MiB)'] = rssMiB()
      } finally {
        await p.close()
      }

      // ---- 3. cut at a random point ---------------------------------------------------------------
      progress('blobs: LAN 20 MB cut at a random point, redialled')
      p = await nodePair(join(tmp, 'p2'))
      try {
        const cutImage = syntheticPng(20 * MiB, 2)
        const [h] = await addLogos(p, [cutImage])
        const fraction = 0.2 + Math.random() * 0.6
        const cut = await cutAndResume(p, h!, cutImage.length, fraction)
        values['cut at (bytes)'] = cut.cutAt
        values['cut: bytes resent'] = cut.bytesResent
        values['cut: chunks resent'] = cut.chunksResent
        bars.push({ metric: 'a cut 20 MB transfer: chunks resent', value: cut.chunksResent, unit: 'chunks', bar: '≤ 1', pass: cut.chunksResent <= 1 })
      } finally {
        await p.close()
      }

      // ---- 1b + 4. 200 logos ----------------------------------------------------------------------
      progress('blobs: 200 × 50 KB logos through two nodes vs raw TCP (one file each, fsynced)')
      const logos = Array.from({ length: 200 }, (_, i) => syntheticPng(50 * 1024, 100 + i))
      p = await nodePair(join(tmp, 'p3'))
      try {
        const hashes = await addLogos(p, logos)
        const node = await timedFetch(p, hashes, 1024 * MiB)
        const raw = await rawTcpCopy(logos, tmp)
        values['200 logos node ms'] = r1(node.ms)
        values['200 logos raw tcp+fsync ms'] = r1(raw)
        const ratio = r2(raw / node.ms)
        values['200 logos node / raw throughput'] = ratio
        bars.push({ metric: '200 × 50 KB logos throughput vs raw TCP copy', value: ratio, unit: 'x', bar: '≥ 0.8', pass: ratio >= 0.8 })
        const trips = node.queries + node.wants
        values['200 logos: query messages'] = node.queries
        values['200 logos: want messages'] = node.wants
        bars.push({ metric: '200 logos: request round trips', value: trips, unit: 'round trips', bar: '≤ 2', pass: trips <= 2 })
      } finally {
        await p.close()
      }

      // ---- 2. WebRTC ------------------------------------------------------------------------------
      progress('blobs: WebRTC 20 MB blob exchange vs raw data-channel messages')
      const rtc = await webrtcExchange(image, tmp)
      const rawRtc = await rawChannel(image)
      values['WebRTC 20 MB exchange MiB/s'] = r1(20 / (rtc / 1000))
      values['WebRTC 20 MB raw channel MiB/s'] = r1(20 / (rawRtc / 1000))
      const rtcRatio = r2(rawRtc / rtc)
      values['WebRTC exchange / raw channel throughput'] = rtcRatio
      bars.push({ metric: 'WebRTC 20 MB throughput vs raw data channel', value: rtcRatio, unit: 'x', bar: '≥ 0.7', pass: rtcRatio >= 0.7 })

      // ---- 5. big blob RSS -----------------------------------------------------------------------
      progress(`blobs: ${bigMb} MB through two nodes (limit raised), peak RSS`)
      gc()
      p = await nodePair(join(tmp, 'p4'))
      try {
        const big = syntheticPng(bigMb * MiB, 5)
        const hash = blobHashOf(big)
        const [h] = await addLogos(p, [big])
        if (h !== hash) throw new Error('hash mismatch')
        const node = await timedFetch(p, [h], 1024 * MiB)
        values[`LAN ${bigMb} MB node MiB/s`] = r1(bigMb / (node.ms / 1000))
        values[`peak RSS after ${bigMb} MB (MiB)`] = rssMiB()
      } finally {
        await p.close()
      }
      return { values, bars }
    } finally {
      rmSync(tmp, { recursive: true, force: true })
    }
  },
}

/**
 * What the LAN and WebRTC benches share: the 10,000-contact CRM sender store, and one initial sync
 * of it into an empty receiver, parameterised by how the two Repos get connected ({@link CrmLink}).
 * Both tiers run the same code from "start connecting" to "the receiver holds every document at
 * the sender's heads", so their times compare.
 *
 * ```ts
 * const sender = await buildSender(tmp, 10_000, log)
 * const { run, a, b } = await syncIntoEmptyReceiver(tcpLink(sender, generateIdentity()), sender, join(tmp, 'receiver.sqlite'))
 * await b.close(); await a.close()
 * ```
 */
import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import * as Automerge from '@automerge/automerge'
import { Repo, type AutomergeUrl, type DocHandle, type NetworkAdapterInterface, type PeerId } from '@automerge/automerge-repo'
import { nodeChaChaPoly } from '../src/adapters/crypto-node/index.js'
import { SqliteStorageAdapter, openOrbitDatabase, type OrbitDatabase } from '../src/adapters/storage-sqlite/index.js'
import { TcpNetworkAdapter } from '../src/adapters/transport-tcp/index.js'
import { performHandshake } from '../src/core/crypto/channel.js'
import { nobleChaChaPoly } from '../src/core/crypto/noise.js'
import { encodePublicKey, generateIdentity, type DeviceIdentity } from '../src/core/crypto/identity.js'
import { CrmWorkspace } from '../src/core/model/workspace.js'
import { CountingNetworkAdapter, type TrafficEvent } from '../src/core/sync/counting.js'
import { fakeContact } from './fake-contacts.js'

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}
export const r1 = (x: number): number => Math.round(x * 10) / 10
export const r3 = (x: number): number => Math.round(x * 1000) / 1000
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
export const sameHeads = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && [...a].sort().join() === [...b].sort().join()
/** `global.gc` when node runs with --expose-gc, else a no-op. */
export const gc: () => void = (globalThis as { gc?: () => void }).gc ?? (() => undefined)

/** Resolves once `check()` holds, checking on every event-loop turn that had I/O (≤ 2 ms apart). */
export async function until(check: () => boolean, timeoutMs: number, what: string, signal?: AbortSignal): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!check()) {
    signal?.throwIfAborted()
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(2)
  }
}

/** The sending device's store, built once per bench and opened again for every run. */
export interface Sender {
  identity: DeviceIdentity
  file: string
  rootUrl: AutomergeUrl
  /** The root and every shard. */
  docUrls: AutomergeUrl[]
  /** Every document saved whole, for in-memory baselines. */
  saved: Uint8Array[]
  contactIds: string[]
}

/** The sender's store in `tmp`: `n` contacts written through the workspace API, as a device would. */
export async function buildSender(tmp: string, n: number, log: (line: string) => void): Promise<Sender> {
  const identity = generateIdentity()
  const file = join(tmp, 'sender.sqlite')
  const db = openOrbitDatabase(file, { create: true, synchronous: 'normal' })
  const repo = new Repo({ storage: new SqliteStorageAdapter(db), network: [], peerId: identity.deviceId as string as PeerId })
  try {
    const workspace = await CrmWorkspace.create(repo, {
      name: 'CRM bench',
      founder: { id: identity.deviceId, publicKey: encodePublicKey(identity.publicKey), name: 'sender', addedAt: Date.now(), addedBy: identity.deviceId },
    })
    const contactIds: string[] = []
    for (let start = 0; start < n; start += 2500) {
      const added = await workspace.addContacts(Array.from({ length: Math.min(2500, n - start) }, (_, k) => fakeContact(start + k)))
      for (const c of added) contactIds.push(c.id)
      log(`  sender: ${contactIds.length} contacts`)
    }
    const handles = await workspace.allHandles()
    await repo.flush()
    workspace.close()
    return {
      identity,
      file,
      rootUrl: workspace.rootUrl,
      docUrls: handles.map((h) => h.url),
      saved: handles.map((h) => Automerge.save(h.doc() as Automerge.Doc<unknown>)),
      contactIds,
    }
  } finally {
    await repo.shutdown()
    db.close()
  }
}

/** One side of a link: a device's Repo on its own SQLite store. */
export interface CrmEnd {
  readonly repo: Repo
  readonly db: OrbitDatabase
  readonly identity: DeviceIdentity
  /** Every repo message through this side's adapter (a {@link CountingNetworkAdapter}, as the app wraps its transports). */
  readonly traffic: Array<TrafficEvent & { side: 'A' | 'B'; t: number }>
  /** Shuts the Repo down, closes the transport and the store. Idempotent enough for a `finally`. */
  close(): Promise<void>
}

/** Opens a device's Repo on the store at `file`, with `network` counted into `traffic`. */
export function openEnd(
  side: 'A' | 'B',
  identity: DeviceIdentity,
  file: string,
  create: boolean,
  network: NetworkAdapterInterface[],
): { repo: Repo; db: OrbitDatabase; traffic: CrmEnd['traffic']; count: (adapter: NetworkAdapterInterface) => CountingNetworkAdapter } {
  const db = openOrbitDatabase(file, { create })
  const traffic: CrmEnd['traffic'] = []
  const count = (adapter: NetworkAdapterInterface): CountingNetworkAdapter =>
    new CountingNetworkAdapter(adapter, { onTraffic: (e) => traffic.push({ ...e, side, t: performance.now() }) })
  const repo = new Repo({ storage: new SqliteStorageAdapter(db), network: network.map(count), peerId: identity.deviceId as string as PeerId })
  return { repo, db, traffic, count }
}

/** How one tier connects a sender to a receiver. Only {@link connect} is timed. */
export interface CrmLink<A extends CrmEnd, B extends CrmEnd> {
  /** Opens the sender device on its existing store, ready to be reached. */
  openSender(): Promise<A>
  /** Opens the receiver on a new, empty store at `file`. */
  openReceiver(file: string): Promise<B>
  /** Connects the two (the clock runs): resolves once the receiver's Repo can ask the sender for documents. */
  connect(a: A, b: B): Promise<void>
}

export interface CrmSyncRun {
  /** From the start of {@link CrmLink.connect} until the receiver holds every document at the sender's heads. */
  ms: number
  /** The part of `ms` that {@link CrmLink.connect} took (dial + handshake, or ICE + DTLS + SCTP + handshake). */
  connectMs: number
  /** Process CPU time (both Repos and both transports, user + system) over `ms`. */
  cpuMs: number
  /** Until the receiver's store has it all (repo.flush). */
  msToDisk: number
}

export interface CrmSyncOptions {
  /**
   * The receiver `find`s every document URL as soon as it is connected (a device that just paired
   * knows the root URL, and the shard URLs from the root); the sender also announces its documents
   * on its own. Default: true unless ORBIT_BENCH_LAN_RECEIVER_FINDS=0 (then it takes only what
   * the sender announces).
   */
  receiverFinds?: boolean
  /** Write a V8 CPU profile of the timed window to this file. */
  profile?: string
  signal?: AbortSignal
}

/**
 * One initial sync of `sender`'s store into an empty receiver at `receiverFile`. The sender is a
 * running device: its store is open and every document loaded before the clock starts. On success
 * both ends stay open (the caller closes them); on failure both are closed.
 */
export async function syncIntoEmptyReceiver<A extends CrmEnd, B extends CrmEnd>(
  link: CrmLink<A, B>,
  sender: Sender,
  receiverFile: string,
  options: CrmSyncOptions = {},
): Promise<{ run: CrmSyncRun; a: A; b: B }> {
  const a = await link.openSender()
  let b: B | undefined
  try {
    const handlesA = await Promise.all(sender.docUrls.map((url) => a.repo.find<unknown>(url)))
    b = await link.openReceiver(receiverFile)
    const repoB = b.repo
    const synced = (): boolean =>
      handlesA.every((h) => {
        const hb = repoB.handles[h.documentId] as DocHandle<unknown> | undefined
        return hb !== undefined && hb.isReady() && sameHeads(hb.heads(), h.heads())
      })
    const inspector = options.profile ? new Session() : undefined
    if (inspector) {
      inspector.connect()
      await inspector.post('Profiler.enable')
      await inspector.post('Profiler.start')
    }
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    await link.connect(a, b)
    const connectMs = performance.now() - t0
    if (options.receiverFinds ?? process.env.ORBIT_BENCH_LAN_RECEIVER_FINDS !== '0') {
      for (const url of sender.docUrls) void repoB.find<unknown>(url).catch(() => undefined)
    }
    await until(synced, 600_000, 'the receiver to hold every document', options.signal)
    const t1 = performance.now()
    const cpu = process.cpuUsage(c0)
    if (inspector) {
      const { profile } = await inspector.post('Profiler.stop')
      writeFileSync(options.profile!, JSON.stringify(profile))
      inspector.disconnect()
    }
    await repoB.flush()
    const t2 = performance.now()
    return { run: { ms: t1 - t0, connectMs, cpuMs: (cpu.user + cpu.system) / 1000, msToDisk: t2 - t0 }, a, b }
  } catch (error) {
    await b?.close()
    await a.close()
    throw error
  }
}

/** The TCP tier's end: its transport, for wire counters. */
export interface TcpEnd extends CrmEnd {
  readonly tcp: TcpNetworkAdapter
}

/** The secure channel's AEAD: Node's native ChaCha20-Poly1305 (the TCP adapter's default, what `orbit serve` runs) or @noble's, to compare. */
export type BenchAead = 'node' | 'noble'

function handshakeWithAead(aead: BenchAead): typeof performHandshake {
  const chosen = aead === 'node' ? nodeChaChaPoly : nobleChaChaPoly
  return (io, options) => performHandshake(io, { ...options, aead: chosen })
}

/**
 * The LAN tier: the sender listens on 127.0.0.1, the receiver dials it; Noise secure channel,
 * each side accepting only the other device.
 */
export function tcpLink(sender: Sender, receiverIdentity: DeviceIdentity, aead: BenchAead = 'node'): CrmLink<TcpEnd, TcpEnd> {
  let address: { host: string; port: number } | undefined
  const open = (side: 'A' | 'B', identity: DeviceIdentity, other: DeviceIdentity, file: string, create: boolean): TcpEnd => {
    const tcp = new TcpNetworkAdapter({
      identity,
      ...(side === 'A' ? { listen: { host: '127.0.0.1', port: 0 } } : {}),
      authorize: (remote) => (remote.deviceId === other.deviceId ? 'member' : 'refuse'),
      handshake: handshakeWithAead(aead),
      // No keep-alives inside the measured windows (they would count as edit bytes).
      heartbeatMs: 600_000,
      idleTimeoutMs: 3_600_000,
      backoff: [100],
    })
    const { repo, db, traffic } = openEnd(side, identity, file, create, [tcp])
    return { repo, db, identity, traffic, tcp, close: () => closeRepo(repo, db) }
  }
  return {
    async openSender() {
      const a = open('A', sender.identity, receiverIdentity, sender.file, false)
      address = await a.tcp.listen()
      if (address === undefined) {
        await a.close()
        throw new Error('sender is not listening')
      }
      return a
    },
    openReceiver: async (file) => open('B', receiverIdentity, sender.identity, file, true),
    async connect(_a, b) {
      await b.tcp.dial(address!.host, address!.port, { expectedDeviceId: sender.identity.deviceId, reconnect: false })
    },
  }
}

/** Shuts a Repo down (its adapters disconnect) and closes its store; errors from a half-open end are ignored. */
export async function closeRepo(repo: Repo, db: OrbitDatabase): Promise<void> {
  await repo.shutdown().catch(() => undefined)
  db.close()
}

/**
 * A small world of devices for convergence tests: each device is an automerge-repo `Repo` on a
 * {@link MemoryHub} port, holding the same {@link CrmWorkspace}; links between every pair of
 * devices have a "tier" (how they deliver). Time is vitest's fake clock, so automerge-repo's
 * throttles run instantly and deterministically.
 */
import { vi } from 'vitest'
import * as A from '@automerge/automerge'
import { Repo, parseAutomergeUrl, type AutomergeUrl, type PeerId } from '@automerge/automerge-repo'
import {
  MemoryHub,
  chaosStep,
  type Channel,
  type ChaosWeights,
  type MemoryLink,
  type MemoryNetworkAdapter,
} from '../../src/adapters/network-memory/index.js'
import type { DeviceId } from '../../src/core/ids.js'
import type { MemberDevice } from '../../src/core/model/types.js'
import { CrmWorkspace } from '../../src/core/model/workspace.js'
import { silentLogger } from '../../src/core/log.js'
import { ConfigStore, ContactIndex, OrgIndex, openOrbitDatabase, type OrbitDatabase } from '../../src/adapters/storage-sqlite/index.js'
import { IndexProjector } from '../../src/apps/node/projection.js'
import { Prng } from '../helpers/prng.js'
import { MemoryStorage } from './memory-storage.js'

/** How a link behaves while the scenario runs (healing makes every link reliable). */
export type Tier = 'reliable' | 'ordered' | 'hostile'

/** Weights of the manual tiers: `ordered` is a slow but in-order stream, `hostile` reorders and duplicates. */
export const TIER_WEIGHTS: Record<Exclude<Tier, 'reliable'>, ChaosWeights> = {
  ordered: { inOrder: 1, reorder: 0, duplicate: 0 },
  hostile: { inOrder: 4, reorder: 3, duplicate: 2 },
}

export interface Device {
  index: number
  peerId: PeerId
  adapter: MemoryNetworkAdapter
  repo: Repo
  ws: CrmWorkspace
  /** Present when the device persists (documents and peers' sync states) and can restart. */
  storage?: MemoryStorage
  restarts?: number
  /** The device's contact listing: the product's SQLite projection, following its workspace. */
  listing?: Listing
}

/** A device's listing: an in-memory SQLite store kept by the product's {@link IndexProjector}. */
export interface Listing {
  db: OrbitDatabase
  projector: IndexProjector
  index: ContactIndex
}

/**
 * Gives `device` the product's listing projection (as `openDevice` does: start, then rebuild what
 * is not clean), on `db` if given — a restarted device keeps its SQLite store — else a new one.
 */
export async function attachListing(device: Device, db?: OrbitDatabase): Promise<Listing> {
  const store = db ?? openOrbitDatabase(':memory:', { create: true, synchronous: 'normal' })
  const index = new ContactIndex(store)
  const projector = new IndexProjector(store, device.repo, device.ws, index, new OrgIndex(store), new ConfigStore(store), silentLogger)
  projector.start()
  await projector.rebuildDirty()
  device.listing = { db: store, projector, index }
  return device.listing
}

/** Stops a device's listing projection once what it was told is projected; keeps its store unless `close`. */
async function detachListing(device: Device, close: boolean): Promise<OrbitDatabase | undefined> {
  const listing = device.listing
  if (listing === undefined) return undefined
  await listing.projector.settle()
  listing.projector.stop()
  device.listing = undefined
  if (close) listing.db.close()
  return listing.db
}

export interface World {
  hub: MemoryHub
  devices: Device[]
  tiers: Map<MemoryLink, Tier>
}

/** The fake timers the worlds run under (Date too: automerge-repo's throttles read `Date.now`). */
export function useFakeTime(): void {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] })
}

/** Lets every pending microtask (and the work they queue) run: setImmediate comes after them all. */
export function tick(): Promise<void> {
  return new Promise<void>(resolve => setImmediate(resolve))
}

export function member(id: string): MemberDevice {
  return {
    id: id as DeviceId,
    publicKey: `${id}-public-key-base64url-0123456789`.slice(0, 43).padEnd(43, 'A'),
    name: `Device ${id}`,
    addedAt: 1_700_000_000_000,
    addedBy: 'dev0' as DeviceId,
  }
}

/** A deterministic clock per device (a millisecond per call, far apart per device). */
export function deviceClock(index: number): () => number {
  let t = 1_700_000_000_000 + index * 1_000_000_000
  return () => t++
}

/** The documents every device of a world starts with (as if paired earlier), made once per shape. */
export interface Template {
  rootUrl: AutomergeUrl
  docs: { url: AutomergeUrl; binary: Uint8Array }[]
  /** Per shard, the hash that created its initial contacts (an ancestor of every later change). */
  creation: (string | undefined)[]
}

const templates = new Map<string, Promise<Template>>()

/** Workspace documents with `initialContacts` contacts over `shardCount` shards (cached per shape). */
export function template(shardCount: number, initialContacts: number): Promise<Template> {
  const key = `${shardCount}/${initialContacts}`
  let t = templates.get(key)
  if (t === undefined) templates.set(key, (t = makeTemplate(shardCount, initialContacts)))
  return t
}

async function makeTemplate(shardCount: number, initialContacts: number): Promise<Template> {
  // Its own randomness, whichever scenario happens to build it first.
  const restore = seedRandomness(new Prng(shardCount * 1000 + initialContacts))
  try {
    return await makeTemplateSeeded(shardCount, initialContacts)
  } finally {
    restore()
  }
}

async function makeTemplateSeeded(shardCount: number, initialContacts: number): Promise<Template> {
  const repo = new Repo({})
  const ws = await CrmWorkspace.create(repo, { name: 'Convergence', founder: member('dev0'), shardCount, now: deviceClock(0) })
  await ws.addContacts(
    Array.from({ length: initialContacts }, (_, c) => ({ name: `Contact ${c}`, emails: [`c${c}@example.com`], tags: ['seed'] })),
  )
  const docs: Template['docs'] = []
  for (const url of [ws.rootUrl, ...ws.shardUrls] as AutomergeUrl[]) {
    const binary = await repo.export(url)
    if (binary === undefined) throw new Error(`cannot export ${url}`)
    docs.push({ url, binary })
  }
  const creation: Template['creation'] = []
  for (let n = 0; n < shardCount; n++) {
    const heads = A.getHeads((await ws.shardHandle(n)).doc())
    if (heads.length !== 1) throw new Error('a template shard should have one head')
    creation.push(heads[0])
  }
  const rootUrl = ws.rootUrl
  ws.close()
  await repo.shutdown()
  return { rootUrl, docs, creation }
}

/**
 * Builds a world: every device starts with a copy of the template's documents (as if paired
 * earlier), opens the workspace, then the links between every pair are made.
 */
export async function buildWorld(options: {
  devices: number
  shardCount: number
  initialContacts: number
  tierOf: (a: number, b: number) => Tier
  /** Whether a link starts up (default: all up). */
  upOf?: (a: number, b: number) => boolean
  /** Give every device an in-memory storage (so it persists sync states and can restart). */
  storage?: boolean
}): Promise<World & { template: Template }> {
  const t = await template(options.shardCount, options.initialContacts)
  // A finite budget: a livelock on a reliable link fails the scenario instead of hanging it.
  const hub = new MemoryHub({ mode: 'manual', autoLink: false, autoBudget: 50_000 })
  const devices: Device[] = []
  for (let i = 0; i < options.devices; i++) {
    const peerId = `d${i}` as PeerId
    const adapter = hub.createAdapter(`d${i}`)
    const storage = options.storage === true ? new MemoryStorage() : undefined
    const repo = new Repo({ network: [adapter], peerId, ...(storage === undefined ? {} : { storage }) })
    for (const { url, binary } of t.docs) repo.import(binary, { docId: parseAutomergeUrl(url).documentId })
    const ws = await CrmWorkspace.open(repo, t.rootUrl, { now: deviceClock(i) })
    await ws.loadAllShards()
    const device: Device = { index: i, peerId, adapter, repo, ws, ...(storage === undefined ? {} : { storage }) }
    await attachListing(device)
    devices.push(device)
  }
  await tick()
  const tiers = new Map<MemoryLink, Tier>()
  for (let a = 0; a < options.devices; a++) {
    for (let b = a + 1; b < options.devices; b++) {
      const tier = options.tierOf(a, b)
      const link = hub.link((devices[a] as Device).adapter, (devices[b] as Device).adapter, {
        mode: tier === 'reliable' ? 'auto' : 'manual',
        up: options.upOf?.(a, b) ?? true,
      })
      tiers.set(link, tier)
    }
  }
  await tick()
  return { hub, devices, tiers, template: t }
}

/**
 * Restarts a device that has storage, as a process restart would: its repo shuts down (flushing
 * what it holds), a new repo opens the same storage on a new port, and new links (same tiers)
 * connect it to every other device. Sync states saved for peers are loaded again.
 */
export async function restart(world: World, device: Device): Promise<void> {
  if (device.storage === undefined) throw new Error('only a device with storage can restart')
  const db = await detachListing(device, false)
  device.ws.close()
  const oldLinks = world.hub.links.filter(l => l.a === device.adapter || l.b === device.adapter)
  await device.repo.shutdown()
  // Let the old repo's throttled writes land before the new one reads the storage.
  await vi.advanceTimersByTimeAsync(1_000)
  await tick()
  device.restarts = (device.restarts ?? 0) + 1
  const adapter = world.hub.createAdapter(`d${device.index}r${device.restarts}`)
  const repo = new Repo({ network: [adapter], peerId: device.peerId, storage: device.storage })
  const ws = await CrmWorkspace.open(repo, device.ws.rootUrl, { now: deviceClock(device.index + 100 * device.restarts) })
  await ws.loadAllShards()
  for (const old of oldLinks) {
    const other = old.other(device.adapter)
    const tier = world.tiers.get(old) ?? 'reliable'
    const peer = world.devices.find(d => d.adapter === other)
    if (peer === undefined) continue // a link of an earlier incarnation of that peer
    const link = world.hub.link(adapter, other, { mode: tier === 'reliable' ? 'auto' : 'manual' })
    world.tiers.set(link, tier)
  }
  device.adapter = adapter
  device.repo = repo
  device.ws = ws
  await attachListing(device, db)
  await tick()
}

/** Delivers up to `count` messages on the manual links, each as its link's tier dictates. */
export function deliverSome(world: World, rng: Prng, count: number): number {
  let n = 0
  const weightsOf = (ch: Channel): ChaosWeights => TIER_WEIGHTS[world.tiers.get(ch.link) as 'ordered' | 'hostile']
  for (; n < count; n++) if (chaosStep(world.hub, rng.random, weightsOf) === undefined) break
  return n
}

/**
 * Heals the world: every device online, every link up and reliable (in order, on microtasks);
 * then runs time until nothing is queued and no timer is pending. Returns the rounds it took, or
 * throws when it does not become quiet.
 */
export async function heal(world: World, maxRounds = 200): Promise<number> {
  // Enough for any honest heal of these small worlds; a livelock fails instead of hanging.
  world.hub.autoBudget = 10_000
  for (const d of world.devices) if (!d.adapter.online) d.adapter.connect(d.peerId, d.adapter.peerMetadata)
  for (const link of world.hub.links) {
    link.restore()
    link.setMode('auto')
  }
  for (let round = 1; round <= maxRounds; round++) {
    await vi.advanceTimersByTimeAsync(250)
    await tick()
    if (world.hub.pending === 0 && vi.getTimerCount() === 0) return round
    if (world.hub.autoBudget <= 0) throw new Error(`sync livelock: 10000 messages delivered while healing and still going (pending ${world.hub.pending})`)
  }
  throw new Error(`the world did not become quiet in ${maxRounds} rounds (pending ${world.hub.pending}, timers ${vi.getTimerCount()})`)
}

export async function shutdown(world: World): Promise<void> {
  for (const d of world.devices) await detachListing(d, true)
  for (const d of world.devices) d.ws.close()
  for (const link of world.hub.links) link.cut()
  await tick()
  await Promise.all(world.devices.map(d => d.repo.shutdown()))
}

/**
 * Makes the randomness a world's behaviour depends on — Web Crypto (Automerge actor ids, contact
 * and workspace ids) and `Math.random` (automerge-repo session ids) — draw from `source`, so that a
 * scenario replays exactly from its seed (conflict winners depend on actor ids). Returns `restore`.
 * Document ids stay random (automerge-repo's uuid draws from node:crypto's pool): they change the
 * root's shard URLs, not who wins what.
 */
export function seedRandomness(source: Prng): () => void {
  const previous = randomSource
  randomSource = source
  if (spies.length === 0) {
    spies.push(vi.spyOn(globalThis.crypto, 'getRandomValues').mockImplementation(<T extends ArrayBufferView | null>(array: T): T => {
      if (array === null) return array
      const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength)
      if (randomSource === undefined) {
        realGetRandomValues(bytes)
        return array
      }
      for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(randomSource.next() * 256)
      return array
    }))
    spies.push(vi.spyOn(Math, 'random').mockImplementation(() => (randomSource === undefined ? realRandom() : randomSource.next())))
  }
  return () => {
    randomSource = previous
  }
}

/** Puts the real Web Crypto and `Math.random` back (call in `afterAll` of a file that built worlds). */
export function unseedRandomness(): void {
  randomSource = undefined
  for (const spy of spies.splice(0)) spy.mockRestore()
}

let randomSource: Prng | undefined
const spies: { mockRestore: () => void }[] = []
const realGetRandomValues = globalThis.crypto.getRandomValues.bind(globalThis.crypto)
const realRandom = Math.random

/**
 * Devices for the blob wire tests: each one a link host over in-memory byte pipes
 * (test/link/memory.ts, so every message crosses the real envelope codec and link rules), a
 * MemoryBlobStore and a BlobExchange. Stores and ports can be wrapped to play liars and to watch
 * what crosses.
 */
import type { PeerId } from '@automerge/automerge-repo'
import { BlobExchange, type BlobExchangeOptions } from '../../src/core/blobs/exchange.js'
import { MemoryBlobStore } from '../../src/core/blobs/memory-store.js'
import type { BlobStore } from '../../src/core/blobs/port.js'
import type { BlobMessage, BlobPort } from '../../src/core/blobs/protocol.js'
import type { BlobHash, DeviceId } from '../../src/core/ids.js'
import type { Logger } from '../../src/core/log.js'
import type { LinkAdapterOptions } from '../../src/core/link/link-adapter.js'
import type { Link } from '../../src/core/link/link.js'
import { MemoryLinkAdapter, memoryPipePair } from '../link/memory.js'

/** One device under test. */
export interface Device {
  id: DeviceId
  adapter: MemoryLinkAdapter
  store: BlobStore
  exchange: BlobExchange
  /** What this device's exchange sent and received, in order. */
  sent: Array<{ to: DeviceId; m: BlobMessage }>
  received: Array<{ from: DeviceId; m: BlobMessage }>
  /** Hashes this device's workspace references (every one by default: `referenced` undefined). */
  referenced: Set<BlobHash> | undefined
  members: Set<DeviceId> | undefined
  /** Warnings the exchange logged, with their fields (e.g. `code` of a refused copy). */
  warnings: Array<{ msg: string; fields: Record<string, unknown> | undefined }>
}

export interface DeviceOptions {
  /** Replaces the store the exchange sees (a liar); the real one stays `device.store`. */
  wrapStore?: (store: BlobStore) => BlobStore
  /** The device's store (default a MemoryBlobStore). */
  store?: BlobStore
  /** Replaces the port the exchange sees (to cut a link at a chosen point). */
  wrapPort?: (port: BlobPort, device: Device) => BlobPort
  exchange?: Partial<BlobExchangeOptions>
  link?: LinkAdapterOptions
  maxBlobBytes?: number
}

let n = 0

/** A device with its own host, store and exchange; not linked to anything yet. */
export function device(name: string, o: DeviceOptions = {}): Device {
  n++
  const id = `${name}-${n}` as DeviceId
  const adapter = new MemoryLinkAdapter({ localDeviceId: id, ...o.link })
  adapter.connect(id as unknown as PeerId, {})
  const store = o.store ?? new MemoryBlobStore()
  const d = { id, adapter, store, sent: [], received: [], referenced: undefined, members: undefined, warnings: [] } as unknown as Device
  const logger: Logger = {
    debug() {},
    info() {},
    warn: (msg, fields) => d.warnings.push({ msg, fields }),
    error: (msg, fields) => d.warnings.push({ msg, fields }),
    forComponent: () => logger,
  }
  const base = adapter.blobPort()
  const watched: BlobPort = {
    blobPeers: () => base.blobPeers(),
    sendBlob: (to, m) => {
      d.sent.push({ to, m })
      return base.sendBlob(to, m)
    },
    onBlob: (l) =>
      base.onBlob((from, m) => {
        d.received.push({ from, m })
        l(from, m)
      }),
    onPeersChanged: (l) => base.onPeersChanged(l),
  }
  d.exchange = new BlobExchange({
    store: o.wrapStore ? o.wrapStore(store) : store,
    isMember: (x) => d.members === undefined || d.members.has(x),
    isReferenced: (h) => d.referenced === undefined || d.referenced.has(h),
    maxBlobBytes: () => o.maxBlobBytes ?? 64 * 1024 * 1024,
    logger,
    ...o.exchange,
  })
  d.exchange.addPort(o.wrapPort ? o.wrapPort(watched, d) : watched)
  return d
}

/** Links two devices over a fresh in-memory pipe pair; returns both ends' links. */
export function link(a: Device, b: Device): { a: Link; b: Link } {
  const [pa, pb] = memoryPipePair(a.id, b.id)
  const la = a.adapter.attach(pa, 'local')
  const lb = b.adapter.attach(pb, 'remote')
  return { a: la, b: lb }
}

/** Resolves once `cond()` holds (polling), or rejects after `ms`. */
export async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const start = Date.now()
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 2))
  }
}

/** Deterministic pseudo-random bytes. */
export function bytes(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size)
  let x = seed * 2654435761 + 1
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    out[i] = x >>> 24
  }
  return out
}

/** Blob messages of one type in a log. */
export const ofType = <T extends BlobMessage['type']>(log: Array<{ m: BlobMessage }>, type: T): Array<Extract<BlobMessage, { type: T }>> =>
  log.map((e) => e.m).filter((m): m is Extract<BlobMessage, { type: T }> => m.type === type)

/** Byte equality without vitest's element-wise diff (slow on megabytes). */
export function same(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && a.length === b.length && Buffer.compare(a, b) === 0
}

/** Wraps a receiver's port so the link closes once `after` data bytes have arrived. */
export function cutAfter(after: number, cut: () => void): (port: BlobPort) => BlobPort {
  return (port) => {
    let got = 0
    let done = false
    return {
      ...port,
      blobPeers: () => port.blobPeers(),
      sendBlob: (d, m) => port.sendBlob(d, m),
      onPeersChanged: (l) => port.onPeersChanged(l),
      onBlob: (l) =>
        port.onBlob((from, m) => {
          l(from, m)
          if (m.type === 'data' && !done) {
            got += m.bytes.length
            if (got >= after) {
              done = true
              cut()
            }
          }
        }),
    }
  }
}

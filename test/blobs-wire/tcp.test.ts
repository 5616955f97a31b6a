/**
 * The blob exchange over the LAN tier's real transport: two TcpNetworkAdapters on 127.0.0.1 with
 * the secure channel, each exchange on `blobPort()` — what the node wires (docs/protocol/blobs.md).
 * A multi-chunk blob arrives byte-identical; a device the transport stops authorizing loses the
 * link (per-envelope re-check) and is served nothing more.
 */
import { afterEach, expect, it } from 'vitest'
import type { PeerId } from '@automerge/automerge-repo'
import { TcpNetworkAdapter } from '../../src/adapters/transport-tcp/index.js'
import { generateIdentity } from '../../src/core/crypto/identity.js'
import { BlobExchange } from '../../src/core/blobs/exchange.js'
import { MemoryBlobStore } from '../../src/core/blobs/memory-store.js'
import { CHUNK_SIZE } from '../../src/core/blobs/port.js'
import type { DeviceId } from '../../src/core/ids.js'
import { bytes, same, until } from './helpers.js'

const cleanup: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f()
})

async function pair(): Promise<{ a: { tcp: TcpNetworkAdapter; ex: BlobExchange; store: MemoryBlobStore }; b: { tcp: TcpNetworkAdapter; ex: BlobExchange; store: MemoryBlobStore }; members: Set<DeviceId> }> {
  const [ia, ib] = [generateIdentity(), generateIdentity()]
  const members = new Set<DeviceId>([ia.deviceId, ib.deviceId])
  const authorize = (remote: { deviceId: string }): 'member' | 'refuse' => (members.has(remote.deviceId as DeviceId) ? 'member' : 'refuse')
  const a = new TcpNetworkAdapter({ identity: ia, listen: { host: '127.0.0.1', port: 0 }, authorize, handshakeTimeoutMs: 5000 })
  const b = new TcpNetworkAdapter({ identity: ib, authorize, handshakeTimeoutMs: 5000 })
  a.connect(ia.deviceId as unknown as PeerId, {})
  b.connect(ib.deviceId as unknown as PeerId, {})
  const side = (tcp: TcpNetworkAdapter) => {
    const store = new MemoryBlobStore()
    const ex = new BlobExchange({ store, isMember: (d) => members.has(d), isReferenced: () => true, maxBlobBytes: () => 64 * 1024 * 1024, queryTimeoutMs: 500 })
    ex.addPort(tcp.blobPort())
    cleanup.push(() => ex.close(), () => tcp.disconnect())
    return { tcp, ex, store }
  }
  const sa = side(a)
  const sb = side(b)
  const port = (await a.listen())!.port
  await b.dial('127.0.0.1', port, { reconnect: false, expectedDeviceId: ia.deviceId })
  await until(() => a.blobPeers().includes(ib.deviceId) && b.blobPeers().includes(ia.deviceId), 10_000)
  return { a: sa, b: sb, members }
}

it('fetches a multi-chunk blob byte-identical over TCP + the secure channel', async () => {
  const { a, b } = await pair()
  const blob = bytes(2 * CHUNK_SIZE + 999, 77)
  const hash = await a.store.put(blob)
  expect(await b.ex.fetch([hash])).toEqual({ fetched: [hash], failed: [] })
  expect(same(await b.store.get(hash), blob)).toBe(true)
  expect(b.ex.counts).toMatchObject({ queries: 1, wants: 1, bytesReceived: blob.length })
  expect(a.ex.counts.bytesServed).toBe(blob.length)
}, 30_000)

it('a device no longer authorized is cut off by the link and gets nothing', async () => {
  const { a, b, members } = await pair()
  const hash = await a.store.put(bytes(5000, 78))
  members.delete(b.tcp.peerId as unknown as DeviceId)
  const result = await b.ex.fetch([hash])
  expect(result.failed).toEqual([expect.objectContaining({ hash })])
  expect(a.ex.counts.bytesServed).toBe(0)
  expect(await b.store.has(hash)).toBe(false)
}, 30_000)

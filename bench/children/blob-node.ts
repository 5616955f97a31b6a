/**
 * One device of the blobs bench (bench/blobs.ts) in its own process, as two devices are: an Orbit
 * node (createOrbitNode: SQLite, the file-system blob store, TCP + the secure channel, the blob
 * exchange) on loopback, driven by JSON lines on stdin — `{ id, op, ...args }` — each answered
 * on stdout with `{ id, result }` or `{ id, error }`. The first line it prints is
 * `{ ready: true, port, deviceId }`.
 *
 *   node dist/bench/children/blob-node.js DATA_DIR
 */
import { readFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { performance } from 'node:perf_hooks'
import type { BlobHash, DeviceId } from '../../src/core/ids.js'
import { createOrbitNode } from '../../src/apps/node/orbit-node.js'
import { ownPeakRssKb } from '../peak-rss.js'

type Command = { id: number; op: string } & Record<string, unknown>

const dataDir = process.argv[2]
if (dataDir === undefined) throw new Error('usage: blob-node.js DATA_DIR')
const node = await createOrbitNode({ dataDir, listen: { host: '127.0.0.1', port: 0 }, background: false })
const exchange = node.blobs.exchange
if (exchange === undefined) throw new Error('the node has no blob exchange')

const until = async (check: () => Promise<boolean> | boolean, what: string, ms = 300_000): Promise<void> => {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
const allPresent = async (hashes: BlobHash[]): Promise<boolean> => (await Promise.all(hashes.map((h) => node.device.blobs.has(h)))).every(Boolean)

const ops: Record<string, (c: Command) => Promise<unknown>> = {
  limit: async (c) => node.api.blobLimit(c.bytes as number),
  dial: async (c) => (await node.lan.dial('127.0.0.1', c.port as number)).deviceId,
  drop: async (c) => {
    node.lan.drop(c.deviceId as DeviceId)
    await until(() => !node.lan.isConnected(c.deviceId as DeviceId), 'the cut')
    return true
  },
  /** Stores each file's bytes as a blob and adds a contact with it as its logo; the hashes. */
  put: async (c) => {
    const hashes: BlobHash[] = []
    for (const [i, file] of (c.files as string[]).entries()) {
      const hash = await node.api.putBlob(await readFile(file))
      await node.api.workspace.addContact({ name: `Logo ${i} ${hash.slice(0, 6)}`, logo: hash })
      hashes.push(hash)
    }
    await node.device.flush()
    return hashes
  },
  /** Resolves once every hash is referenced by a contact this device lists. */
  known: async (c) => {
    const want = new Set(c.hashes as BlobHash[])
    await until(async () => (await node.api.blobs()).items.filter((i) => want.has(i.hash)).length === want.size, 'the contacts')
    return true
  },
  /** Raises the limit and times one fetch until every blob is durable here, with the request counts. */
  fetch: async (c) => {
    const hashes = c.hashes as BlobHash[]
    const before = { queries: exchange.counts.queries, wants: exchange.counts.wants }
    await node.api.blobLimit(c.limit as number)
    const t0 = performance.now()
    await node.api.fetchBlobs()
    await until(() => allPresent(hashes), 'every blob')
    return { ms: performance.now() - t0, queries: exchange.counts.queries - before.queries, wants: exchange.counts.wants - before.wants }
  },
  /** Starts a fetch without waiting for it. */
  startFetch: async (c) => {
    await node.api.blobLimit(c.limit as number)
    void node.api.fetchBlobs().catch(() => undefined)
    return true
  },
  /** Bytes held of a blob being received (0 when not receiving it). */
  received: async (c) => exchange.progress().transfers.find((t) => t.hash === c.hash)?.received ?? 0,
  present: async (c) => {
    await until(() => allPresent(c.hashes as BlobHash[]), 'every blob')
    return true
  },
  counts: async () => ({ ...exchange.counts }),
  /** This process's own peak RSS in bytes (VmHWM; bench/peak-rss.ts). */
  rss: async () => ownPeakRssKb() * 1024,
  stop: async () => {
    await node.stop()
    setImmediate(() => process.exit(0))
    return true
  },
}

console.log(JSON.stringify({ ready: true, port: node.listenAddress?.port, deviceId: node.device.identity.deviceId }))
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === '') continue
  const c = JSON.parse(line) as Command
  const op = ops[c.op]
  void (async () => {
    try {
      if (op === undefined) throw new Error(`unknown op ${c.op}`)
      console.log(JSON.stringify({ id: c.id, result: await op(c) }))
    } catch (error) {
      console.log(JSON.stringify({ id: c.id, error: error instanceof Error ? error.message : String(error) }))
    }
  })()
}

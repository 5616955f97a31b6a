/**
 * The lazy loader on the in-memory network with real Repos on real SQLite stores. Each test
 * reopens both devices from their stores (nothing but the root loaded, as `orbit serve` starts),
 * exchanges the two summaries as the link's hello does (before either Repo hears of the other:
 * the link is down until then), and brings the link up.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as A from '@automerge/automerge'
import { Repo, type AutomergeUrl, type DocHandle, type DocumentId, type PeerId } from '@automerge/automerge-repo'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { MemoryHub } from '../../src/adapters/network-memory/index.js'
import { DocHeadsStore, openOrbitDatabase, SqliteStorageAdapter, type OrbitDatabase } from '../../src/adapters/storage-sqlite/index.js'
import { flushAndRecordHeads } from '../../src/adapters/storage-sqlite/record-heads.js'
import { DocLoader, workspaceDocLoader, type DocSummary } from '../../src/core/engine/doc-loader.js'
import { encodePublicKey, generateIdentity } from '../../src/core/crypto/identity.js'
import { CrmWorkspace } from '../../src/core/model/workspace.js'
import { PeerHeadsWatcher } from '../../src/core/engine/sync-session.js'

const SHARDS = 4
const PEER_A = 'device-a' as PeerId
const PEER_B = 'device-b' as PeerId

interface Device {
  repo: Repo
  db: OrbitDatabase
  close(): Promise<void>
}

function openRepo(file: string, peerId: PeerId, hub: MemoryHub, name: string): Device & { adapter: ReturnType<MemoryHub['createAdapter']> } {
  const db = openOrbitDatabase(file, { create: true })
  const adapter = hub.createAdapter(name)
  const repo = new Repo({ storage: new SqliteStorageAdapter(db), network: [adapter], peerId })
  return {
    repo,
    db,
    adapter,
    async close() {
      await repo.shutdown()
      db.close()
    },
  }
}

const docIdOf = (url: string): string => (url.split(':')[1] ?? url) as string
const headsOf = (h: DocHandle<unknown>): string[] => [...A.getHeads(h.doc() as A.Doc<unknown>)].sort()
const loadedIds = (repo: Repo): string[] => Object.keys(repo.handles).sort()

describe('DocLoader: load what a peer needs, when it needs it', () => {
  let dir: string
  let fileA: string
  let fileB: string
  let rootUrl: AutomergeUrl
  let ids: string[]
  const open: Device[] = []

  /** Device A with a 4-shard workspace and 40 contacts, synced in full into device B; both flushed with heads recorded. */
  async function twoSyncedDevices(): Promise<void> {
    const hub = new MemoryHub()
    const a = openRepo(fileA, PEER_A, hub, 'a')
    const b = openRepo(fileB, PEER_B, hub, 'b')
    try {
      const me = generateIdentity()
      const founder = { id: me.deviceId, publicKey: encodePublicKey(me.publicKey), name: 'a', addedAt: 1, addedBy: me.deviceId }
      const ws = await CrmWorkspace.create(a.repo, { name: 'Test', founder, shardCount: SHARDS })
      await ws.addContacts(Array.from({ length: 40 }, (_, i) => ({ name: `Contact ${i}` })))
      rootUrl = ws.rootUrl
      ids = [rootUrl, ...ws.shardUrls].map(docIdOf)
      const handlesA = await ws.allHandles()
      const handlesB = await Promise.all([rootUrl, ...ws.shardUrls].map((u) => b.repo.find<unknown>(u)))
      await waitFor(() => handlesB.every((hb, i) => hb.isReady() && sameHeads(headsOf(hb), headsOf(handlesA[i]!))))
      ws.close()
      await flushAndRecordHeads(a.repo, a.db, ids)
      await flushAndRecordHeads(b.repo, b.db, ids)
    } finally {
      await a.close()
      await b.close()
    }
  }

  /** Both devices reopened with the link down; `connect` exchanges summaries, then brings it up. */
  async function reopen(options: { bJoiner?: boolean; bSendsNoSummary?: boolean } = {}) {
    const hub = new MemoryHub({ autoLink: false })
    const a = openRepo(fileA, PEER_A, hub, 'a')
    const b = openRepo(fileB, PEER_B, hub, 'b')
    open.push(a, b)
    const link = hub.link(a.adapter, b.adapter, { up: false })
    const wsA = await CrmWorkspace.open(a.repo, rootUrl)
    const loaderA = workspaceDocLoader(a.repo, wsA, new DocHeadsStore(a.db))
    // A joiner knows no workspace yet: it names no document and holds none.
    const loaderB = options.bJoiner
      ? new DocLoader({ repo: b.repo, documentIds: () => [], cached: new DocHeadsStore(b.db) })
      : workspaceDocLoader(b.repo, await CrmWorkspace.open(b.repo, rootUrl), new DocHeadsStore(b.db))
    const ungate = [loaderA.gateAnnouncements(), loaderB.gateAnnouncements()]
    const watcherA = new PeerHeadsWatcher(a.repo)
    const watcherB = new PeerHeadsWatcher(b.repo)
    return {
      a,
      b,
      wsA,
      loaderA,
      loaderB,
      async connect(): Promise<{ loadedByA: string[]; loadedByB: string[] }> {
        const summaryA: DocSummary = loaderA.summary()
        const summaryB: DocSummary | undefined = options.bSendsNoSummary ? undefined : loaderB.summary()
        const [loadedByA, loadedByB] = await Promise.all([loaderA.onPeerSummary(PEER_B, summaryB), loaderB.onPeerSummary(PEER_A, summaryA)])
        link.restore()
        return { loadedByA, loadedByB }
      },
      /** A's session with B: resolves with the number of documents in sync. */
      inSync: () => watcherA.until(() => loaderA.sessionDocuments(PEER_B), PEER_B, { timeoutMs: 20_000 }),
      inSyncB: () => watcherB.until(() => loaderB.sessionDocuments(PEER_A), PEER_A, { timeoutMs: 20_000 }),
      close() {
        for (const u of ungate) u()
        watcherA.close()
        watcherB.close()
      },
    }
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'orbit-doc-loader-'))
    fileA = join(dir, 'a.sqlite')
    fileB = join(dir, 'b.sqlite')
  })

  afterEach(async () => {
    for (const d of open.splice(0)) await d.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('a peer already in sync: neither side loads a shard, and the session counts every document in sync', async () => {
    await twoSyncedDevices()
    const s = await reopen()
    expect(s.loaderA.summary()).toEqual(s.loaderB.summary())
    const { loadedByA, loadedByB } = await s.connect()
    expect(loadedByA).toEqual([])
    expect(loadedByB).toEqual([])
    expect(await s.inSync()).toBe(1 + SHARDS)
    expect(await s.inSyncB()).toBe(1 + SHARDS)
    // Only the roots (opened by the workspaces) are in memory.
    expect(loadedIds(s.a.repo)).toEqual([docIdOf(rootUrl)])
    expect(loadedIds(s.b.repo)).toEqual([docIdOf(rootUrl)])
    s.close()
  })

  it('a shard loaded on one side but equal by summary is not announced (the peer does not load it); a later change is', async () => {
    await twoSyncedDevices()
    const s = await reopen()
    // A reads shard 1 (as a `contact show` through the daemon would) before the peer connects.
    const shard1 = await s.wsA.shardHandle(1)
    const id1 = ids[2]!
    await s.connect()
    expect(await s.inSync()).toBe(1 + SHARDS)
    expect(await s.inSyncB()).toBe(1 + SHARDS)
    // Let the Repo's (asynchronous) share decisions for the new peer run.
    await new Promise((r) => setTimeout(r, 0))
    expect(docSyncsWith(s.a.repo, id1, PEER_B)).toBe(false)
    expect(loadedIds(s.b.repo)).toEqual([docIdOf(rootUrl)])
    // A changes it: now it differs from B's summary, so A announces it and B receives the change.
    await s.wsA.editContact(Object.keys(shard1.doc().contacts)[0]!, { title: 'After the hello' })
    await waitFor(() => {
      const hb = s.b.repo.handles[id1 as DocumentId] as DocHandle<unknown> | undefined
      return hb !== undefined && hb.isReady() && sameHeads(headsOf(hb), headsOf(shard1))
    })
    expect(docSyncsWith(s.a.repo, id1, PEER_B)).toBe(true)
    expect(JSON.stringify((s.b.repo.handles[id1 as DocumentId] as DocHandle<unknown>).doc())).toContain('After the hello')
    s.close()
  })

  it('a shard that differs is loaded on both sides and synced; the others stay on disk', async () => {
    await twoSyncedDevices()
    // A edits one contact offline (one shard), and flushes as the CLI would.
    {
      const hub = new MemoryHub()
      const a = openRepo(fileA, PEER_A, hub, 'a')
      const ws = await CrmWorkspace.open(a.repo, rootUrl)
      const shard = await ws.shardHandle(2)
      const id = Object.keys(shard.doc().contacts)[0]!
      await ws.editContact(id, { title: 'Changed offline' })
      ws.close()
      await flushAndRecordHeads(a.repo, a.db, ids)
      await a.close()
    }
    const s = await reopen()
    const changed = ids[1 + 2]!
    const { loadedByA, loadedByB } = await s.connect()
    expect(loadedByA).toEqual([changed])
    expect(loadedByB).toEqual([changed])
    expect(await s.inSync()).toBe(1 + SHARDS)
    const hb = s.b.repo.handles[changed as DocumentId] as DocHandle<unknown>
    const ha = s.a.repo.handles[changed as DocumentId] as DocHandle<unknown>
    await waitFor(() => sameHeads(headsOf(hb), headsOf(ha)))
    expect(JSON.stringify(hb.doc())).toContain('Changed offline')
    expect(loadedIds(s.a.repo)).toEqual([docIdOf(rootUrl), changed].sort())
    expect(loadedIds(s.b.repo)).toEqual([docIdOf(rootUrl), changed].sort())
    s.close()
  })

  it('a peer that lacks everything (a new joiner) gets every document', async () => {
    await twoSyncedDevices()
    rmSync(fileB)
    const s = await reopen({ bJoiner: true })
    expect(s.loaderB.summary()).toEqual({})
    const { loadedByA } = await s.connect()
    expect(loadedByA.sort()).toEqual([...ids].sort())
    expect(await s.inSync()).toBe(1 + SHARDS)
    for (const id of ids) {
      const ha = s.a.repo.handles[id as DocumentId] as DocHandle<unknown>
      await waitFor(() => {
        const hb = s.b.repo.handles[id as DocumentId] as DocHandle<unknown> | undefined
        return hb !== undefined && hb.isReady() && sameHeads(headsOf(hb), headsOf(ha))
      })
    }
    s.close()
  })

  it('a peer that sends no summary (an older version) gets everything compared, as before', async () => {
    await twoSyncedDevices()
    const s = await reopen({ bSendsNoSummary: true })
    const { loadedByA } = await s.connect()
    expect(loadedByA.sort()).toEqual([...ids].sort())
    expect(await s.inSync()).toBe(1 + SHARDS)
    s.close()
  })

  it('a document whose cached heads are stale (stored again since) is loaded to compare', async () => {
    await twoSyncedDevices()
    // Another writer touched shard 1's storage on B without recording its heads.
    const db = openOrbitDatabase(fileB, { create: false })
    db.sqlite.prepare(`UPDATE doc_gen SET gen = gen + 1 WHERE doc_id = ?`).run(ids[2]!)
    db.close()
    const s = await reopen()
    expect(Object.keys(s.loaderB.summary())).not.toContain(ids[2])
    const { loadedByA, loadedByB } = await s.connect()
    expect(loadedByB).toEqual([ids[2]])
    expect(loadedByA).toEqual([ids[2]])
    expect(await s.inSyncB()).toBe(1 + SHARDS)
    s.close()
  })
})

/** Whether the Repo's synchronizer for `documentId` syncs it with `peerId`. */
function docSyncsWith(repo: Repo, documentId: string, peerId: PeerId): boolean {
  const synchronizers = (repo.synchronizer as unknown as { docSynchronizers: Record<string, { hasPeer(p: PeerId): boolean }> }).docSynchronizers
  return synchronizers[documentId]?.hasPeer(peerId) ?? false
}

function sameHeads(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join() === [...b].sort().join()
}

async function waitFor(check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached')
    await new Promise((r) => setTimeout(r, 5))
  }
}

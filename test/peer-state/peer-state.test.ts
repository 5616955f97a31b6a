/**
 * peerSyncState from real Automerge documents and the real SQLite `peer_heads` table: in sync,
 * behind, ahead, diverged and unknown, with and without the document loaded; the learner writes
 * once per flush; the QR tier's old config entries move into the table once, by migration.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as A from '@automerge/automerge'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ConfigStore, openOrbitDatabase, PeerHeadsStore, SyncHistoryStore, type OrbitDatabase } from '../../src/adapters/storage-sqlite/index.js'
import { SCHEMA_VERSION } from '../../src/adapters/storage-sqlite/schema.js'
import { PeerHeadsLearner, peerSyncState, type PeerHeadsRecord } from '../../src/core/engine/peer-state.js'
import { sessionRecorder, type SyncHistoryEntry } from '../../src/core/engine/session-recorder.js'

type Doc = { n: number; tags?: string[] }
const heads = (d: A.Doc<Doc>): string[] => [...A.getHeads(d)].sort()
const PEER = 'p'.repeat(32)

let dir: string
let db: OrbitDatabase
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'orbit-peer-state-'))
  db = openOrbitDatabase(join(dir, 'orbit.sqlite'), { create: true })
})
afterEach(() => {
  db.close()
  rmSync(dir, { recursive: true, force: true })
})

/** A base document, ours with one more change, and the peer's with another. */
function fork(): { base: A.Doc<Doc>; ours: A.Doc<Doc>; theirs: A.Doc<Doc>; merged: A.Doc<Doc> } {
  const base = A.from<Doc>({ n: 1 })
  const ours = A.change(A.clone(base), (d) => (d.n = 2))
  const theirs = A.change(A.clone(base), (d) => (d.tags = ['x']))
  return { base, ours, theirs, merged: A.merge(A.clone(ours), A.clone(theirs)) }
}

describe('peerSyncState', () => {
  it('tells in sync, behind, ahead, diverged and unknown from heads only, and exactly when a document is loaded', () => {
    const store = new PeerHeadsStore(db)
    const { base, ours, theirs } = fork()
    const rec = (documentId: string, peer: A.Doc<Doc>, oursThen: A.Doc<Doc> | undefined, contained: boolean | undefined): PeerHeadsRecord => ({
      documentId,
      heads: heads(peer),
      ours: oursThen === undefined ? undefined : heads(oursThen),
      ...(contained === undefined ? {} : { contained }),
      via: 'local-network',
      at: 1000,
    })
    store.put(PEER, [
      rec('same', ours, ours, true), // peer holds exactly ours
      rec('moved', base, base, true), // peer had ours then; we edited since
      rec('lacking', theirs, base, false), // the peer had a change we lacked, and we have not moved
      rec('undecidable', theirs, ours, undefined), // differed, not loaded then, ours moved: cannot tell
    ])
    const now: Record<string, A.Doc<Doc>> = { same: ours, moved: ours, lacking: base, undecidable: ours, never: ours }
    const known = store.get(PEER)
    expect(known).toHaveLength(4)
    const notLoaded = peerSyncState({ documentIds: Object.keys(now), known, ours: (id) => heads(now[id]!) })
    expect(notLoaded).toMatchObject({ state: 'diverged', behind: 1, ahead: 1, unknown: 2, documents: 5, via: 'local-network', at: 1000 })

    // Loaded, the relation is exact: the undecidable one is ahead (we lack the peer's change).
    const loaded = peerSyncState({ documentIds: Object.keys(now), known, ours: (id) => heads(now[id]!), loaded: (id) => ({ heads: heads(now[id]!), has: (h) => A.hasHeads(now[id]!, [...h]) }) })
    expect(loaded).toMatchObject({ behind: 1, ahead: 2, unknown: 1 })

    // One document at a time: each state on its own.
    const one = (id: string, doc: A.Doc<Doc>) => peerSyncState({ documentIds: [id], known, ours: () => heads(doc) }).state
    expect(one('same', ours)).toBe('in-sync')
    expect(one('moved', ours)).toBe('behind')
    expect(one('lacking', base)).toBe('ahead')
    expect(one('undecidable', ours)).toBe('unknown')
    expect(peerSyncState({ documentIds: ['same'], known: [], ours: () => heads(ours) })).toEqual({ state: 'unknown', behind: 0, ahead: 0, unknown: 1, documents: 1 })
  })

  it('the learner keeps heads in memory until a flush, then writes them in one go; the recorder flushes when a session ends', () => {
    const store = new PeerHeadsStore(db)
    const history = new SyncHistoryStore(db)
    const { ours } = fork()
    const writes: number[] = []
    const port = { get: (id: string) => store.get(id), put: (id: string, r: readonly PeerHeadsRecord[]) => (writes.push(r.length), store.put(id, r)) }
    const learner = new PeerHeadsLearner({ port, documentIds: () => ['d1', 'd2'], ours: () => heads(ours), now: () => 5 })
    learner.summary(PEER, { d1: heads(ours), d2: heads(ours), other: heads(ours) }, 'local-network')
    expect(store.get(PEER)).toEqual([]) // not written yet…
    expect(learner.known(PEER).map((r) => r.documentId).sort()).toEqual(['d1', 'd2']) // …but known, and only synced documents
    const ended: SyncHistoryEntry[] = []
    const recorder = sessionRecorder(undefined, { history, onEnded: (e) => (ended.push(e), learner.flush(e.deviceId)), now: () => 7 })
    const session = recorder.begin({ method: 'local-network', deviceId: PEER })
    session.traffic({ changesSent: 2, bytesSent: 100 })
    session.traffic({ bytesReceived: 40 })
    session.end()
    expect(writes).toEqual([2])
    expect(store.get(PEER).map((r) => [r.documentId, r.contained, r.at])).toEqual([
      ['d1', true, 5],
      ['d2', true, 5],
    ])
    expect(history.list({ limit: 10 })).toEqual([
      { id: ended[0]!.id, method: 'local-network', deviceId: PEER, status: 'completed', changesSent: 2, changesReceived: 0, bytesSent: 100, bytesReceived: 40, startedAt: 7, endedAt: 7, durationMs: 0 },
    ])
    learner.flush(PEER)
    expect(writes).toEqual([2]) // nothing new: no write
  })
})

describe('sync_history', () => {
  it('keeps the newest N sessions, newest first, per device or all, with the error of a failed one', () => {
    const history = new SyncHistoryStore(db, { max: 5 })
    const entry = (i: number): SyncHistoryEntry => ({
      id: `s${i}`,
      method: i % 2 === 0 ? 'qr-code' : 'local-network',
      deviceId: i % 3 === 0 ? PEER : 'q'.repeat(32),
      status: i === 7 ? 'error' : 'completed',
      changesSent: i,
      changesReceived: 0,
      bytesSent: i * 10,
      bytesReceived: 0,
      startedAt: i,
      endedAt: i + 1,
      durationMs: 1,
      ...(i === 7 ? { error: { name: 'WireError', code: 'TIMEOUT', message: 'not in sync after 10 ms' } } : { documents: 3 }),
      ...(i === 7 ? { via: '127.0.0.1:9' } : {}),
    })
    for (let i = 1; i <= 8; i++) history.append(entry(i))
    expect(history.list({ limit: 100 }).map((e) => e.id)).toEqual(['s8', 's7', 's6', 's5', 's4'])
    expect(history.list({ limit: 2 }).map((e) => e.id)).toEqual(['s8', 's7'])
    expect(history.list({ deviceId: PEER, limit: 100 }).map((e) => e.id)).toEqual(['s6'])
    expect(history.list({ limit: 100 })[1]).toEqual(entry(7))
    expect(db.sqlite.prepare('SELECT count(*) AS n FROM sync_history').get()).toEqual({ n: 5 })
  })
})

describe('schema 3 migration', () => {
  it('moves qr.peerHeads.<id> config entries into peer_heads once and drops them from config', () => {
    const { ours } = fork()
    const file = join(dir, 'v2.sqlite')
    const v2 = openOrbitDatabase(file, { create: true })
    // A version-2 store: without what schemas 3 (sync_history, peer_heads) and 4 (entity_index.logo, blob_state) add.
    v2.sqlite.exec('DROP TABLE sync_history; DROP TABLE peer_heads; DROP INDEX entity_index_logo; ALTER TABLE entity_index DROP COLUMN logo; DROP TABLE blob_state')
    const config = new ConfigStore(v2)
    config.set(`qr.peerHeads.${PEER}`, { d1: heads(ours), d2: [] })
    config.set('qr.peerHeads.broken', 'not an object')
    config.set('other', 1)
    v2.sqlite.pragma('user_version = 2')
    v2.close()

    const v3 = openOrbitDatabase(file, { create: false })
    try {
      expect(v3.sqlite.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION)
      expect(new PeerHeadsStore(v3).get(PEER)).toEqual([
        { documentId: 'd1', heads: heads(ours), ours: undefined, via: 'qr-code', at: 0 },
        { documentId: 'd2', heads: [], ours: undefined, via: 'qr-code', at: 0 },
      ])
      expect(new ConfigStore(v3).keys()).toEqual(['other'])
      expect(new SyncHistoryStore(v3).list({ limit: 5 })).toEqual([])
    } finally {
      v3.close()
    }
  })
})

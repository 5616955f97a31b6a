import * as A from '@automerge/automerge'
import { Repo, type AutomergeUrl, type PeerId } from '@automerge/automerge-repo'
import fc from 'fast-check'
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { MemoryHub } from '../../src/adapters/network-memory/index.js'
import { CrmWorkspace } from '../../src/core/model/workspace.js'
import {
  CountingNetworkAdapter,
  changesInChunk,
  changesInMessage,
  changesInSyncMessage,
  documentChangeCount,
  sessionCounters,
  type TrafficEvent,
} from '../../src/core/sync/counting.js'
import { deviceClock, member, template, tick, unseedRandomness, useFakeTime } from '../convergence/world.js'

async function quiet(hub: MemoryHub): Promise<void> {
  for (let i = 0; i < 100; i++) {
    await vi.advanceTimersByTimeAsync(250)
    await tick()
    if (hub.pending === 0 && vi.getTimerCount() === 0) return
  }
  throw new Error('network did not become quiet')
}

// Worlds seed Web Crypto and Math.random while they run: put the real ones back for other files.
afterAll(() => unseedRandomness())

describe('counting changes in Automerge chunks', () => {
  it('counts every change of a whole-document chunk, compressed or not, like Automerge does', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(3), fc.string({ maxLength: 300 })), { minLength: 0, maxLength: 60 }),
        edits => {
          const actors = [0, 1, 2, 3].map(i => A.init<Record<string, string>>({ actor: `0${i}`.repeat(8) }))
          let doc = actors[0] as A.Doc<Record<string, string>>
          edits.forEach(([who, text], i) => {
            let other = A.merge(A.clone(actors[who] as A.Doc<Record<string, string>>), doc)
            other = A.change(other, d => {
              d[`k${i % 7}`] = text
            })
            doc = A.merge(doc, other)
          })
          const saved = A.save(doc)
          expect(documentChangeCount(saved)).toBe(A.stats(A.load(saved)).numChanges)
          expect(changesInChunk(saved)).toBe(A.stats(A.load(saved)).numChanges)
        },
      ),
      { numRuns: 30 },
    )
  })

  it('reads a long, deflated change column (many changes from alternating actors)', () => {
    let a = A.init<{ n: number }>({ actor: 'aa'.repeat(16) })
    let b = A.init<{ n: number }>({ actor: 'bb'.repeat(16) })
    for (let i = 0; i < 600; i++) {
      if (i % 2 === 0) a = A.merge(A.change(a, d => void (d.n = i)), b)
      else b = A.merge(A.change(b, d => void (d.n = i)), a)
    }
    const saved = A.save(A.merge(a, b))
    expect(documentChangeCount(saved)).toBe(600)
    expect(() => documentChangeCount(new Uint8Array(20))).toThrow(RangeError)
  })

  it('counts a change chunk as one, and the changes of a real sync exchange', () => {
    let a = A.from({ n: 0 })
    for (let i = 1; i <= 40; i++) a = A.change(a, d => void (d.n = i))
    const change = A.getLastLocalChange(a) as Uint8Array
    expect(changesInChunk(change)).toBe(1)

    // A fresh peer is sent the whole history; then an incremental edit is one change.
    let b = A.init<{ n: number }>()
    let sa = A.initSyncState()
    let sb = A.initSyncState()
    let carried = 0
    const run = () => {
      for (let i = 0; i < 10; i++) {
        let m: Uint8Array | null
        ;[sa, m] = A.generateSyncMessage(a, sa)
        if (m) {
          carried += changesInSyncMessage(m)
          ;[b, sb] = A.receiveSyncMessage(b, sb, m)
        }
        let m2: Uint8Array | null
        ;[sb, m2] = A.generateSyncMessage(b, sb)
        if (m2) [a, sa] = A.receiveSyncMessage(a, sa, m2)
        if (!m && !m2) return
      }
    }
    run()
    expect(carried).toBe(41)
    carried = 0
    a = A.change(a, d => void (d.n = 99))
    run()
    expect(carried).toBe(1)
    expect(b.n).toBe(99)
  })

  it('counts 0 for messages that are not sync messages or do not decode', () => {
    const base = { senderId: 'a' as PeerId, targetId: 'b' as PeerId }
    expect(changesInMessage({ ...base, type: 'ephemeral', data: new Uint8Array([1, 2, 3]) })).toBe(0)
    expect(changesInMessage({ ...base, type: 'sync', data: new Uint8Array([0x42, 0xff, 0x00]) })).toBe(0)
    expect(changesInMessage({ ...base, type: 'doc-unavailable' })).toBe(0)
  })
})

describe('CountingNetworkAdapter over the memory network', () => {
  beforeEach(() => useFakeTime())
  afterEach(() => {
    vi.useRealTimers()
  })

  it('one contact edit: changesSent 1 on the editing side, changesReceived 1 on the other', async () => {
    const t = await template(2, 3)
    const hub = new MemoryHub()
    const events: TrafficEvent[] = []
    const ca = new CountingNetworkAdapter(hub.createAdapter('a'), { onTraffic: e => events.push(e) })
    const cb = new CountingNetworkAdapter(hub.createAdapter('b'))
    const repos = [new Repo({ network: [ca], peerId: 'a' as PeerId }), new Repo({ network: [cb], peerId: 'b' as PeerId })]
    const wss: CrmWorkspace[] = []
    for (const [i, repo] of repos.entries()) {
      for (const { url, binary } of t.docs) repo.import(binary, { docId: url.slice('automerge:'.length) as never })
      const ws = await CrmWorkspace.open(repo, t.rootUrl, { now: deviceClock(i) })
      await ws.loadAllShards()
      wss.push(ws)
    }
    await quiet(hub)
    // Both started equal: the first exchange carried no changes.
    expect(ca.traffic('b' as PeerId)?.sent.changes).toBe(0)
    expect(ca.traffic('b' as PeerId)?.received.changes).toBe(0)
    ca.reset()
    cb.reset()
    events.length = 0

    const [wa, wb] = wss as [CrmWorkspace, CrmWorkspace]
    const [contact] = await wa.listContacts()
    await wa.editContact(contact!.id, { name: 'Ada Lovelace' })
    await quiet(hub)

    expect((await wb.getContact(contact!.id))?.name).toBe('Ada Lovelace')
    const aToB = ca.traffic('b' as PeerId)!
    const bFromA = cb.traffic('a' as PeerId)!
    expect(aToB.sent.changes).toBe(1)
    expect(bFromA.received.changes).toBe(1)
    expect(aToB.received.changes).toBe(0)
    expect(bFromA.sent.changes).toBe(0)
    // Both ends measured the same messages.
    expect(bFromA.received.bytes).toBe(aToB.sent.bytes)
    expect(bFromA.received.messages).toBe(aToB.sent.messages)
    expect(aToB.sent.bytes).toBeGreaterThan(0)
    expect(aToB.sent.bytes).toBeLessThan(1024)
    expect(events.filter(e => e.direction === 'sent').reduce((s, e) => s + e.changes, 0)).toBe(1)
    expect(sessionCounters(aToB)).toEqual({ changesSent: 1, changesReceived: 0, bytesSent: aToB.sent.bytes, bytesReceived: aToB.received.bytes })
    expect(sessionCounters(cb.traffic('a' as PeerId))).toMatchObject({ changesSent: 0, changesReceived: 1 })
    expect(sessionCounters(undefined)).toEqual({ changesSent: 0, changesReceived: 0, bytesSent: 0, bytesReceived: 0 })
    for (const w of wss) w.close()
    await Promise.all(repos.map(r => r.shutdown()))
  })

  it('an initial sync counts every change of the history the new peer receives', async () => {
    // Linked only once the history exists, so that nothing is sent twice while it is being written
    // (a peer connected during the writes may be sent a change again: counts are of what crossed).
    const hub = new MemoryHub({ autoLink: false })
    const pa = hub.createAdapter('a')
    const pb = hub.createAdapter('b')
    const ca = new CountingNetworkAdapter(pa)
    const cb = new CountingNetworkAdapter(pb)
    const a = new Repo({ network: [ca], peerId: 'a' as PeerId })
    const b = new Repo({ network: [cb], peerId: 'b' as PeerId })
    const ws = await CrmWorkspace.create(a, { name: 'Counted', founder: member('dev0'), shardCount: 1, now: deviceClock(0) })
    for (let i = 0; i < 30; i++) await ws.addContact({ name: `Contact ${i}` })
    const expected = A.getAllChanges((await ws.shardHandle(0)).doc()).length + A.getAllChanges(ws.rootHandle.doc()).length
    hub.link(pa, pb)
    await tick()
    const opened = CrmWorkspace.open(b, ws.rootUrl as AutomergeUrl, { now: deviceClock(1) })
    await quiet(hub)
    const other = await opened
    await other.loadAllShards()
    await quiet(hub)
    expect((await other.listContacts()).length).toBe(30)
    expect(cb.traffic('a' as PeerId)?.received.changes).toBe(expected)
    expect(ca.traffic('b' as PeerId)?.sent.changes).toBe(expected)
    other.close()
    ws.close()
    await Promise.all([a.shutdown(), b.shutdown()])
  })
})

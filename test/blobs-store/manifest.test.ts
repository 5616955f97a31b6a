import { describe, expect, it } from 'vitest'
import { blobManifest, chunkListOf, isCollectable, type BlobManifestInput } from '../../src/core/blobs/index.js'
import type { BlobHash, DeviceId } from '../../src/core/ids.js'

const h = (n: number): BlobHash => n.toString(16).padStart(64, '0') as BlobHash
const A = 'dev_a' as DeviceId
const B = 'dev_b' as DeviceId
const DAY = 86_400_000

const input = (o: Partial<BlobManifestInput>): BlobManifestInput => ({
  referenced: [],
  present: [],
  partials: [],
  now: 100 * DAY,
  unreferencedSince: new Map(),
  memberSyncs: new Map(),
  graceMs: 7 * DAY,
  ...o,
})

describe('blobManifest', () => {
  it('splits referenced hashes into present and missing, with partial progress', () => {
    const partial = chunkListOf(new Uint8Array(3000))
    const m = blobManifest(
      input({
        referenced: [h(3), h(1), partial.hash, h(1)],
        present: [{ hash: h(1), size: 10 }, { hash: h(9), size: 5 }],
        partials: [{ list: partial, received: 1000 }],
      }),
    )
    expect(m.referenced).toEqual([h(1), h(3), partial.hash].sort())
    expect(m.present).toEqual([{ hash: h(1), size: 10 }])
    expect(m.missing).toEqual(
      [
        { hash: h(3), size: undefined, received: 0 },
        { hash: partial.hash, size: 3000, received: 1000 },
      ].sort((a, b) => (a.hash < b.hash ? -1 : 1)),
    )
    expect(m.unreferenced).toEqual([{ hash: h(9), bytes: 5, since: undefined, waiting: 'grace' }])
    expect(m.state).toEqual({ mark: [h(9)], unmark: [] })
    expect(m.bytes).toEqual({ present: 10, missing: 3000, unreferenced: 5 })
    expect(m.collectable).toEqual([])
  })

  it('collects only after the grace period AND once every member synced after the hash became unreferenced', () => {
    const since = 90 * DAY
    const base = { present: [{ hash: h(9), size: 5 }], unreferencedSince: new Map([[h(9), since]]) }
    // Grace not over.
    expect(blobManifest(input({ ...base, now: since + DAY, memberSyncs: new Map([[A, since + 1]]) })).collectable).toEqual([])
    // Grace over, B synced before the hash became unreferenced: it may hold an edit that references it again.
    const blocked = blobManifest(input({ ...base, memberSyncs: new Map([[A, since + 1], [B, since - 1]]) }))
    expect(blocked.collectable).toEqual([])
    expect(blocked.unreferenced[0]?.waiting).toBe('member-not-synced')
    // A member that never synced blocks too.
    expect(blobManifest(input({ ...base, memberSyncs: new Map([[A, since + 1], [B, undefined]]) })).collectable).toEqual([])
    // Both synced after: collectable.
    const ok = blobManifest(input({ ...base, memberSyncs: new Map([[A, since + 1], [B, 95 * DAY]]) }))
    expect(ok.collectable).toEqual([h(9)])
    expect(ok.unreferenced[0]?.waiting).toBeUndefined()
    // Alone in the workspace: the grace period is the only condition.
    expect(blobManifest(input(base)).collectable).toEqual([h(9)])
    expect(isCollectable(since, since + 7 * DAY, 7 * DAY, new Map())).toBeUndefined()
    expect(isCollectable(since, since + 7 * DAY - 1, 7 * DAY, new Map())).toBe('grace')
  })

  it('never collects a referenced hash (a deleted contact still references its logo), and unmarks it', () => {
    const m = blobManifest(
      input({
        referenced: [h(9)],
        present: [{ hash: h(9), size: 5 }],
        unreferencedSince: new Map([[h(9), 1], [h(4), 1]]),
        memberSyncs: new Map([[A, 99 * DAY]]),
      }),
    )
    expect(m.collectable).toEqual([])
    expect(m.unreferenced).toEqual([])
    // h(9) is referenced again; nothing of h(4) is held any more.
    expect(m.state).toEqual({ mark: [], unmark: [h(4), h(9)] })
  })

  it('collects an unreferenced partial too', () => {
    const list = chunkListOf(new Uint8Array(10))
    const m = blobManifest(input({ partials: [{ list, received: 4 }], unreferencedSince: new Map([[list.hash, 1]]) }))
    expect(m.unreferenced).toEqual([{ hash: list.hash, bytes: 4, since: 1, waiting: undefined }])
    expect(m.collectable).toEqual([list.hash])
  })
})

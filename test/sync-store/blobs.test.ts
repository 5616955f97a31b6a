import { describe, expect, it } from 'vitest'
import { createSyncStore } from '../../src/core/sync/store.js'
import { EMPTY_BLOB_SYNC_STATE } from '../../src/core/sync/types.js'
import type { BlobHash, DeviceId } from '../../src/core/ids.js'

const hash = 'ab'.repeat(32) as BlobHash
const store = () => createSyncStore({ localDeviceId: 'devLocal' as DeviceId, now: () => 1000 })

describe('sync store: the blob slice', () => {
  it('starts empty', () => {
    expect(store().getState().blobs).toEqual(EMPTY_BLOB_SYNC_STATE)
  })

  it('setBlobs replaces only the fields given and notifies subscribers', () => {
    const s = store()
    const seen: number[] = []
    s.subscribe((state) => seen.push(state.blobs.missing))
    s.getState().setBlobs({ referenced: 3, present: 1, missing: 2 })
    s.getState().setBlobs({
      transfers: [{ hash, size: 100, received: 40, from: 'devB' as DeviceId, startedAt: 900, bytesPerSecond: 400, etaMs: 150 }],
      bytesTotal: 100,
      bytesDone: 40,
      etaMs: 150,
    })
    const b = s.getState().blobs
    expect(b).toMatchObject({ referenced: 3, present: 1, missing: 2, bytesTotal: 100, bytesDone: 40, etaMs: 150 })
    expect(b.transfers[0]).toMatchObject({ hash, received: 40, from: 'devB' })
    expect(seen).toEqual([2, 2])
  })

  it('keeps the old value for a count that is not a finite number ≥ 0, and clears etaMs when given undefined', () => {
    const s = store()
    s.getState().setBlobs({ referenced: 2, etaMs: 10 })
    s.getState().setBlobs({ referenced: -1, present: Number.NaN, etaMs: undefined })
    expect(s.getState().blobs.referenced).toBe(2)
    expect(s.getState().blobs.present).toBe(0)
    expect(s.getState().blobs.etaMs).toBeUndefined()
  })

  it('copies transfers and failures (a caller mutating its array does not change the store)', () => {
    const s = store()
    const failed = [{ hash, reason: 'no connected member has it' }]
    s.getState().setBlobs({ failed })
    failed.push({ hash, reason: 'x' })
    failed[0]!.reason = 'changed'
    expect(s.getState().blobs.failed).toEqual([{ hash, reason: 'no connected member has it' }])
  })

  it('does not touch the session fields', () => {
    const s = store()
    s.getState().startSession({ method: 'local-network', id: 'a' })
    s.getState().setBlobs({ missing: 1 })
    expect(s.getState().status).toBe('connecting')
    expect(Object.keys(s.getState().activeSessions)).toEqual(['a'])
  })
})

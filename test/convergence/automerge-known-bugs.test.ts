/**
 * Automerge behaviour found by the convergence fuzz (base seed 20261124, scenario 1757517300), kept
 * as a minimal reproduction pinned to the installed Automerge: the first test asserts that the bug
 * is still there. When an upgrade fixes it, that test fails — then turn its last assertion around,
 * tell upstream's issue it is fixed for us, and keep the second test, which is what Orbit relies on.
 *
 * The bug (automerge 3.5.0, the latest as of 2026-11): a replica shows value V1 of a key (its winner
 * among concurrent puts). One `applyChanges` batch then brings a concurrent put V2 (which loses to
 * V1) together with the delete of V1 by V1's author. The document's state is now V2 (`toJS`, a
 * fresh `load` and every other replica say so), but the materialized document object still shows
 * V1 until that key is written again; the patches of that batch (and `A.diff` over it) carry only a
 * `conflict` action for the key, no put. In the CRM: concurrent removes of one contact, then a
 * restore by one of the removers — one device's document object keeps the wrong `deletedAt`; the
 * same can happen to a cleared `title` or a removed tag racing a concurrent add. The listing
 * projection reads the state instead (src/apps/node/projection.ts), so no listing shows it.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import * as A from '@automerge/automerge'
import { describe, expect, it } from 'vitest'
import { contactsState } from '../../src/apps/node/projection.js'
import type { ContactShardDoc } from '../../src/core/model/types.js'
// @ts-expect-error: a plain .mjs script, no declarations
import { packageDir } from '../../scripts/patch-deps.mjs'

type Doc = { contacts: Record<string, { name: string; deletedAt?: number }> }

/** Replica x's shard after the batch described above, and the truth (from a fresh load). */
function reproduce(): { x: A.Doc<Doc>; truth: number | undefined } {
  const base = A.from<Doc>({ contacts: { c: { name: 'x' } } }, { actor: '00'.repeat(16) })
  let a = A.clone(base, { actor: 'bb'.repeat(16) })
  let b = A.clone(base, { actor: 'aa'.repeat(16) })
  a = A.change(a, d => void (d.contacts.c!.deletedAt = 1700))
  const removeA = A.getLastLocalChange(a) as Uint8Array
  b = A.change(b, d => void (d.contacts.c!.deletedAt = 1701))
  const removeB = A.getLastLocalChange(b) as Uint8Array
  a = A.change(a, d => void delete d.contacts.c!.deletedAt) // restore by a: deletes only the value it saw
  const restoreA = A.getLastLocalChange(a) as Uint8Array

  let x = A.clone(base, { actor: '33'.repeat(16) })
  ;[x] = A.applyChanges(x, [removeA])
  ;[x] = A.applyChanges(x, [removeB, restoreA])
  const truth = (A.toJS(A.load(A.save(x))) as Doc).contacts.c?.deletedAt
  return { x, truth }
}

describe('Automerge stale materialization (pinned known bug)', () => {
  it('is still in the installed Automerge: the document object keeps the deleted winner', () => {
    const dir = (packageDir as (pkg: string, root: string) => string)('@automerge/automerge', join(import.meta.dirname, '..', '..'))
    const { version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }
    const { x, truth } = reproduce()
    expect(truth).toBe(1701)
    // Fails once upstream fixes the bug (the object then says 1701): see the module comment.
    expect({ version, object: x.contacts.c?.deletedAt }).toEqual({ version, object: 1700 })
  })

  it('a document that arrives whole, in one sync from nothing, shows the state (what a join relies on)', () => {
    const { x, truth } = reproduce()
    // The same history, synced into an empty document as a joiner receives a shard.
    let sender = A.clone(x, { actor: '55'.repeat(16) })
    let y = A.init<Doc>({ actor: '66'.repeat(16) })
    let ss = A.initSyncState()
    let sy = A.initSyncState()
    let updates = 0
    for (let round = 0; round < 10; round++) {
      let m1: Uint8Array | null
      let m2: Uint8Array | null
      ;[ss, m1] = A.generateSyncMessage(sender, ss)
      if (m1 !== null) {
        const before = A.getHeads(y).join()
        ;[y, sy] = A.receiveSyncMessage(y, sy, m1)
        if (A.getHeads(y).join() !== before) updates++
      }
      ;[sy, m2] = A.generateSyncMessage(y, sy)
      if (m2 !== null) [sender, ss] = A.receiveSyncMessage(sender, ss, m2)
      if (m1 === null && m2 === null) break
    }
    expect(updates).toBe(1)
    expect(y.contacts.c?.deletedAt).toBe(truth)
  })

  it('the listing projection reads the state, which is right', () => {
    const { x, truth } = reproduce()
    const state = contactsState(x as unknown as A.Doc<ContactShardDoc>)
    expect((state.get('c') as { deletedAt?: number }).deletedAt).toBe(truth)
    expect((state.all().c as { deletedAt?: number }).deletedAt).toBe(truth)
    expect(state.get('nobody')).toBeUndefined()
    // The bulk path (many ids expected: one materialization of the map) gives the same.
    expect((contactsState(x as unknown as A.Doc<ContactShardDoc>, 10_000).get('c') as { deletedAt?: number }).deletedAt).toBe(truth)
  })
})

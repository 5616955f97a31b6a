/**
 * Automerge behaviour found by the convergence fuzz (base seed 20261124, scenario 1757517300), kept
 * as a minimal reproduction. `it.fails`: this test passes while the bug is there and fails — tell
 * the lead, and make it a plain `it` — once an Automerge upgrade fixes it.
 *
 * The bug (automerge 3.5.0, the latest as of 2026-11): a replica shows value V1 of a key (its winner
 * among concurrent puts). One `applyChanges` batch then brings a concurrent put V2 (which loses to
 * V1) together with the delete of V1 by V1's author. The document's state is now V2 (`toJS`, a
 * fresh `load` and every other replica say so), but the materialized document object still shows
 * V1 until that key is written again. In the CRM: concurrent removes of one contact, then a restore
 * by one of the removers — one device keeps showing the wrong `deletedAt`; the same can happen to a
 * cleared `title` or a removed tag racing a concurrent add.
 */
import * as A from '@automerge/automerge'
import { expect, it } from 'vitest'

it.fails('a put and a delete of the current winner in one batch update the materialized document', () => {
  const base = A.from<{ c: { name: string; deletedAt?: number } }>({ c: { name: 'x' } }, { actor: '00'.repeat(16) })
  let a = A.clone(base, { actor: 'bb'.repeat(16) })
  let b = A.clone(base, { actor: 'aa'.repeat(16) })
  a = A.change(a, d => void (d.c.deletedAt = 1700))
  const removeA = A.getLastLocalChange(a) as Uint8Array
  b = A.change(b, d => void (d.c.deletedAt = 1701))
  const removeB = A.getLastLocalChange(b) as Uint8Array
  a = A.change(a, d => void delete d.c.deletedAt) // restore by a: deletes only the value it saw
  const restoreA = A.getLastLocalChange(a) as Uint8Array

  let x = A.clone(base, { actor: '33'.repeat(16) })
  ;[x] = A.applyChanges(x, [removeA])
  ;[x] = A.applyChanges(x, [removeB, restoreA])
  const truth = (A.toJS(A.load(A.save(x))) as { c: { deletedAt?: number } }).c.deletedAt
  expect(truth).toBe(1701)
  expect(x.c.deletedAt).toBe(truth) // fails: the document object still says 1700
})

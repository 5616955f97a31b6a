/**
 * Orbit is correct — not only slower — on an automerge-repo that our postinstall did not edit
 * (README, "Patched dependencies"): a host app that refuses our script, or shares its own copy.
 *
 * The unpatched copy is the installed one with every edit of scripts/patch-deps.mjs undone (each
 * edit replaces one exact text, so undoing it restores upstream's file byte for byte), placed with
 * Orbit's built modules under dist/ so that they, and only they, resolve it. A child process then
 * syncs two devices — each a Repo on SQLite with the workspace and the product's listing
 * projection — through a first sync and concurrent edits on both sides, and checks that documents
 * and listings agree.
 */
import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-expect-error: a plain .mjs script, no declarations
import { unpatchedCopy } from '../../scripts/patch-deps.mjs'

const root = join(import.meta.dirname, '..', '..')
const PKG = '@automerge/automerge-repo'
// Under dist/ (build output, ignored by git): its modules find node_modules here first, then the repo's.
const dir = join(root, 'dist', 'unpatched-automerge-repo')

const PROBE = String.raw`
import * as A from '@automerge/automerge'
import { DocHandle, Repo } from '@automerge/automerge-repo'
import { MemoryHub } from './dist/src/adapters/network-memory/index.js'
import { CrmWorkspace } from './dist/src/core/model/workspace.js'
import { readContact } from './dist/src/core/model/records.js'
import { silentLogger } from './dist/src/core/log.js'
import { ConfigStore, ContactIndex, OrgIndex, SqliteStorageAdapter, openOrbitDatabase } from './dist/src/adapters/storage-sqlite/index.js'
import { IndexProjector } from './dist/src/apps/node/projection.js'

const out = { patched: DocHandle.toString().includes('orbit-sync') }
// Every adapter linked to every other (a switch), delivering in order.
const hub = new MemoryHub({})
const founder = { id: 'deva', publicKey: 'A'.repeat(43), name: 'A', addedAt: 1, addedBy: 'deva' }
function device(name) {
  const db = openOrbitDatabase(':memory:', { create: true, synchronous: 'normal' })
  const repo = new Repo({ storage: new SqliteStorageAdapter(db), network: [hub.createAdapter(name)], peerId: name })
  return { name, db, repo }
}
function listing(d) {
  const index = new ContactIndex(d.db)
  d.index = index
  d.projector = new IndexProjector(d.db, d.repo, d.ws, index, new OrgIndex(d.db), new ConfigStore(d.db), silentLogger)
  d.projector.start()
  return d.projector.rebuildDirty()
}
const a = device('a')
const b = device('b')
a.ws = await CrmWorkspace.create(a.repo, { name: 'W', founder, shardCount: 4 })
await listing(a)
await a.ws.addContacts(Array.from({ length: 200 }, (_, i) => ({ name: 'Contact ' + i, emails: ['c' + i + '@example.com'] })))

// First sync: b opens the workspace it does not have, over the link.
b.ws = await CrmWorkspace.open(b.repo, a.ws.rootUrl, {})
await b.ws.loadAllShards()
await listing(b)
// Concurrent edits on both sides.
const ids = (await a.ws.listContacts()).map((c) => c.id)
for (let i = 0; i < 10; i++) await a.ws.editContact(ids[i], { title: 'Edited by a ' + i })
for (let i = 0; i < 10; i++) await b.ws.addContact({ name: 'From b ' + i })
await b.ws.editContact(ids[0], { addTags: ['b'] })

const heads = async (d) => (await d.ws.allHandles()).map((h) => A.getHeads(h.doc()).sort().join(','))
let rounds = 0
for (; rounds < 400; rounds++) {
  await new Promise((r) => setTimeout(r, 25))
  if (JSON.stringify(await heads(a)) === JSON.stringify(await heads(b))) break
}
out.inSync = JSON.stringify(await heads(a)) === JSON.stringify(await heads(b))
out.devices = []
for (const d of [a, b]) {
  await d.repo.flush()
  await d.projector.settle()
  const truth = []
  for (const h of (await d.ws.allHandles()).slice(1)) for (const raw of Object.values(A.toJS(h.doc()).contacts)) truth.push(readContact(raw))
  truth.sort((x, y) => x.id.localeCompare(y.id))
  const listed = truth.map((c) => d.index.get(c.id))
  out.devices.push({
    name: d.name,
    contacts: truth.length,
    listed: d.index.count({ includeDeleted: true }),
    listingMatches: JSON.stringify(listed) === JSON.stringify(truth),
    edited: truth.filter((c) => c.title?.startsWith('Edited by a')).length,
    fromB: truth.filter((c) => c.name.startsWith('From b')).length,
    tagged: truth.filter((c) => c.tags.b === true).length,
    failure: d.projector.failure === undefined ? null : String(d.projector.failure),
  })
}
for (const d of [a, b]) { d.projector.stop(); d.ws.close() }
await Promise.all([a.repo.shutdown(), b.repo.shutdown()])
console.log(JSON.stringify(out))
process.exit(0)
`

describe(`${PKG} without Orbit's edits`, () => {
  beforeAll(() => {
    if (!existsSync(join(root, 'dist/src/apps/node/projection.js'))) throw new Error('dist/ is missing: run `npm run build` before these tests')
    rmSync(dir, { recursive: true, force: true })
    const copy = (unpatchedCopy as (p: string, r: string, d: string) => string)(PKG, root, dir)
    expect(readFileSync(join(copy, 'dist/DocHandle.js'), 'utf8')).not.toContain('orbit-sync')
    cpSync(join(root, 'dist/src'), join(dir, 'dist/src'), { recursive: true })
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'orbit-unpatched-probe', private: true, type: 'module' }))
    writeFileSync(join(dir, 'probe.mjs'), PROBE)
  }, 120_000)
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('two devices: first sync and concurrent edits converge, and each listing equals its documents', () => {
    const out = JSON.parse(execFileSync(process.execPath, ['probe.mjs'], { cwd: dir, encoding: 'utf8', timeout: 240_000 }).trim().split('\n').pop() as string) as {
      patched: boolean
      inSync: boolean
      devices: { name: string; contacts: number; listed: number; listingMatches: boolean; edited: number; fromB: number; tagged: number; failure: string | null }[]
    }
    expect(out.patched).toBe(false) // the child really ran upstream's code
    expect(out.inSync).toBe(true)
    for (const d of out.devices) {
      expect(d, d.name).toEqual({ name: d.name, contacts: 210, listed: 210, listingMatches: true, edited: 10, fromB: 10, tagged: 1, failure: null })
    }
  }, 300_000)
})

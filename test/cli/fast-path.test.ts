import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { REPO_ROOT, orbit, orbitJson, requireBuiltCli, tempDir } from './helpers.js'

const TRACER = join(REPO_ROOT, 'test/cli/fixtures/trace-modules.mjs')

/** Runs a command with module tracing; returns its JSON output and the modules it loaded. */
function traced(data: string, root: string, args: string[]): { out: unknown; modules: string[] } {
  const trace = join(root, `trace-${Math.random().toString(36).slice(2)}.txt`)
  const r = orbit(['--data', data, '--json', ...args], { nodeArgs: ['--import', TRACER], env: { ORBIT_TRACE_MODULES: trace } })
  expect(r.code, r.stderr).toBe(0)
  return { out: JSON.parse(r.stdout), modules: readFileSync(trace, 'utf8').split('\n').filter(Boolean) }
}

const loadsAutomerge = (modules: string[]) => modules.some((m) => m.includes('@automerge'))

type Listing = { total: number; contacts: { id: string; name: string; title?: string; deletedAt?: number; tags: Record<string, true> }[] }

describe('orbit CLI: the listing projection', () => {
  let root: string
  let data: string
  const ids: string[] = []
  beforeAll(() => {
    requireBuiltCli()
    root = tempDir()
    data = join(root, 'data')
    orbitJson(data, ['init', '--name', 'Reader'])
    orbitJson(data, ['org', 'add', '--name', 'Acme'])
    for (const name of ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara']) ids.push(orbitJson<{ id: string }>(data, ['contact', 'add', '--name', name, '--tag', 'x']).id)
    orbitJson(data, ['contact', 'edit', ids[0]!, '--title', 'Countess', '--remove-tag', 'x'])
    orbitJson(data, ['contact', 'remove', ids[1]!])
    orbitJson(data, ['contact', 'remove', ids[2]!])
    orbitJson(data, ['contact', 'restore', ids[2]!])
    orbitJson(data, ['contact', 'note', ids[3]!, '--body', 'Goto considered harmful'])
  })
  afterAll(() => rmSync(root, { recursive: true, force: true }))

  it('lists, shows and counts from SQLite without loading Automerge while the projection is clean', () => {
    for (const args of [['contact', 'list'], ['contact', 'show', ids[0]!], ['org', 'list'], ['status']]) {
      const { modules } = traced(data, root, args)
      expect(modules.some((m) => m.includes('better-sqlite3')), args.join(' ')).toBe(true)
      expect(loadsAutomerge(modules), args.join(' ')).toBe(false)
    }
  })

  it('reflects every edit, removal and restore, exactly as a rebuild from the CRDT does', () => {
    const incremental = orbitJson<Listing>(data, ['contact', 'list', '--all', '--include-removed'])
    expect(incremental.total).toBe(5)
    const byId = new Map(incremental.contacts.map((c) => [c.id, c]))
    expect(byId.get(ids[0]!)).toMatchObject({ title: 'Countess', tags: {} })
    expect(byId.get(ids[1]!)?.deletedAt).toEqual(expect.any(Number))
    expect(byId.get(ids[2]!)?.deletedAt).toBeUndefined()
    expect(orbitJson<Listing>(data, ['contact', 'list']).total).toBe(4)

    // Throw the projection away: the next read must rebuild it from the Automerge documents.
    const db = new Database(join(data, 'orbit.sqlite'))
    db.exec(`DELETE FROM entity_index; DELETE FROM index_state`)
    db.close()
    const rebuilt = traced(data, root, ['contact', 'list', '--all', '--include-removed'])
    expect(loadsAutomerge(rebuilt.modules)).toBe(true)
    expect(rebuilt.out).toEqual(incremental)
    expect(orbitJson<{ orgs: { name: string }[] }>(data, ['org', 'list']).orgs.map((o) => o.name)).toEqual(['Acme'])
    // ...and after the rebuild it is clean again.
    expect(loadsAutomerge(traced(data, root, ['contact', 'list']).modules)).toBe(false)
  })

  it('notices a stale shard (its document changed after it was projected) and re-projects it', () => {
    const before = orbitJson<Listing>(data, ['contact', 'list', '--all', '--include-removed'])
    const db = new Database(join(data, 'orbit.sqlite'))
    // Pretend a sync stored a newer generation of every document without projecting it, and
    // that the projection lost a row meanwhile.
    db.exec(`UPDATE doc_gen SET gen = gen + 1; DELETE FROM entity_index WHERE id = '${ids[4]!}'`)
    db.close()
    const after = traced(data, root, ['contact', 'list', '--all', '--include-removed'])
    expect(loadsAutomerge(after.modules)).toBe(true)
    expect(after.out).toEqual(before)
  })
})

/**
 * `orbit contact add` through a running daemon takes the CLI's fast route
 * (src/apps/cli/fast-route.ts): the client loads neither commander, zod, Automerge, SQLite nor
 * the logger, and prints what the full CLI prints — the same answer, the same typed error, the
 * same exit code. A form the fast route does not parse (`--name=...`) runs the full CLI, against
 * the same daemon. Real child processes; modules traced with test/cli/fixtures/trace-modules.mjs.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { callDaemon } from '../../src/apps/control/client.js'
import { controlSocketPath } from '../../src/apps/node/lock.js'
import { Scratch, contactNames, orbit, requireBuilt, tracedOrbit as traced, type TracedRun } from './helpers.js'

const scratch = new Scratch()
afterEach(() => scratch.cleanup())
beforeAll(requireBuilt)

const loaded = (run: TracedRun): string[] => run.modules.filter((m) => /commander|zod|@automerge|better-sqlite3|@noble|pino/.test(m))
const usedFullCli = (run: TracedRun): boolean => run.modules.some((m) => m.includes('/commander/'))

describe('contact add through a running daemon, on the fast route', () => {
  it('loads none of the heavy modules and answers, errs and exits as the full CLI does', async () => {
    const a = scratch.dir()
    const serve = scratch.serve(a, ['--name', 'Alpha', '--listen', '127.0.0.1:0', '--no-mdns', '--no-invite'])
    await serve.ready

    const fast = await traced(a, ['contact', 'add', '--name', 'Ada Lovelace', '--email', 'ada@example.com', '--tag', 'vip', '--json'])
    expect(fast.code, fast.stderr).toBe(0)
    expect(loaded(fast)).toEqual([])
    const full = await traced(a, ['contact', 'add', '--name=Grace Hopper', '--email', 'grace@example.com', '--tag', 'vip', '--json'])
    expect(full.code, full.stderr).toBe(0)
    expect(usedFullCli(full)).toBe(true)
    const [fastContact, fullContact] = [fast, full].map((r) => JSON.parse(r.stdout) as Record<string, unknown>)
    expect(Object.keys(fastContact!).sort()).toEqual(Object.keys(fullContact!).sort())
    expect(fastContact).toMatchObject({ name: 'Ada Lovelace', emails: ['ada@example.com'], tags: { vip: true } })

    // For people: the id alone, as the full CLI prints it.
    const human = await traced(a, ['contact', 'add', '--name', 'Alan Turing'])
    expect(human.code, human.stderr).toBe(0)
    expect(loaded(human)).toEqual([])
    expect(human.stdout).toMatch(/^ct_[a-z0-9]{16}\n$/)

    // A bad input: the daemon refuses it, and the error is the full CLI's (same JSON, same exit
    // code; printing it loads the full CLI's error mapping, which is fine on a failure).
    const fastBad = await traced(a, ['contact', 'add', '--name', 'Bad', '--email', 'not-an-email', '--json'])
    const fullBad = await traced(a, ['contact', 'add', '--name=Bad', '--email', 'not-an-email', '--json'])
    expect(fastBad.code).toBe(1)
    expect(fullBad.code).toBe(1)
    expect(JSON.parse(fastBad.stderr)).toEqual(JSON.parse(fullBad.stderr))
    const fastBadHuman = await traced(a, ['contact', 'add', '--name', ''])
    const fullBadHuman = await traced(a, ['contact', 'add', '--name='])
    expect(fastBadHuman.code).toBe(1)
    expect(fastBadHuman.stderr).toBe(fullBadHuman.stderr)

    // Only the three good writes happened, and they are durable after the daemon stopped.
    expect(await serve.stop()).toBe(0)
    expect(await contactNames(a)).toEqual(['Ada Lovelace', 'Alan Turing', 'Grace Hopper'])
  })

  it('the daemon loads the shard for new contacts after start, and routed adds load no other', async () => {
    const a = scratch.dir()
    const serve = scratch.serve(a, ['--name', 'Alpha', '--listen', '127.0.0.1:0', '--no-mdns', '--no-invite'])
    await serve.ready
    const loadedDocuments = async () =>
      ((await callDaemon({ control: controlSocketPath(a) }, 'status', {}, { timeoutMs: 20_000 })) as { loadedDocuments: number }).loadedDocuments
    // The root, then (a moment after start) one of the 16 shards.
    const deadline = Date.now() + 30_000
    while ((await loadedDocuments()) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200))
    expect(await loadedDocuments()).toBe(2)
    for (let i = 0; i < 5; i++) {
      const run = await orbit(['--data', a, 'contact', 'add', '--name', `Routed ${i}`])
      expect(run.code, run.stderr).toBe(0)
    }
    // Random ids would have loaded up to five more shards.
    expect(await loadedDocuments()).toBe(2)
    expect(await serve.stop()).toBe(0)
    expect(await contactNames(a)).toEqual(['Routed 0', 'Routed 1', 'Routed 2', 'Routed 3', 'Routed 4'])
  })
})

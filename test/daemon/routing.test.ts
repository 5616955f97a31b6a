/**
 * A command on a data dir that `orbit serve` holds goes to the daemon before it loads anything
 * else: the client process never loads Automerge, SQLite or the crypto (README, "CLI"; the
 * latency this saves is `npm run bench`'s). Real child processes; modules traced with a resolve
 * hook (test/cli/fixtures/trace-modules.mjs).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { Scratch, contactNames, requireBuilt, tracedOrbit } from './helpers.js'

const scratch = new Scratch()
afterEach(() => scratch.cleanup())
beforeAll(requireBuilt)

/** Runs `orbit --data dir --json ...args` with module tracing. */
const traced = (dir: string, args: string[]) => tracedOrbit(dir, ['--json', ...args])

const heavy = (modules: string[]): string[] => modules.filter((m) => /@automerge|better-sqlite3|@noble|werift|pino/.test(m))

describe('commands routed to a running daemon', () => {
  it('contact add and peers load none of Automerge, SQLite, crypto or logging in the client; contact list only SQLite', async () => {
    const a = scratch.dir()
    const serve = scratch.serve(a, ['--name', 'Alpha', '--listen', '127.0.0.1:0', '--no-mdns', '--no-invite'])
    await serve.ready
    const added = await traced(a, ['contact', 'add', '--name', 'Ada Lovelace'])
    expect(added.code, added.stderr).toBe(0)
    expect(heavy(added.modules)).toEqual([])
    const peers = await traced(a, ['peers'])
    expect(peers.code, peers.stderr).toBe(0)
    expect(heavy(peers.modules)).toEqual([])
    // A listing reads the daemon's projection from SQLite itself (a reader beside the writer), still without Automerge.
    const listed = await traced(a, ['contact', 'list'])
    expect(listed.code, listed.stderr).toBe(0)
    expect(heavy(listed.modules).filter((m) => !m.includes('better-sqlite3'))).toEqual([])
    expect((JSON.parse(listed.stdout) as { contacts: { name: string }[] }).contacts.map((c) => c.name)).toEqual(['Ada Lovelace'])
    // The write went through the daemon: it lists the contact after it stopped and flushed.
    await serve.stop()
    expect(await contactNames(a)).toEqual(['Ada Lovelace'])
  })
})

/**
 * `orbit contact add` with no daemon, as a user runs it: the fast route writes in its own process
 * without commander, automerge-repo or the logger (src/apps/node/quick-add.ts), prints what the
 * full CLI prints, and leaves every refusal to the full CLI, whose errors are unchanged. Real
 * child processes; modules traced with test/cli/fixtures/trace-modules.mjs.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { Scratch, contactNames, orbit, requireBuilt, tracedOrbit as traced, type TracedRun } from '../daemon/helpers.js'

const scratch = new Scratch()
afterEach(() => scratch.cleanup())
beforeAll(requireBuilt)

const heavy = (run: TracedRun): string[] => run.modules.filter((m) => /commander|automerge-repo|pino|@noble|cbor/.test(m))

describe('contact add with no daemon', () => {
  it('writes without the full CLI or automerge-repo, and prints and errs as the full CLI does', async () => {
    const a = scratch.dir('orbit-quick-add-')
    const init = await orbit(['--data', a, 'init', '--name', 'Alpha'])
    expect(init.code, init.stderr).toBe(0)

    const quick = await traced(a, ['contact', 'add', '--name', 'Ada Lovelace', '--email', 'ada@example.com', '--tag', 'vip', '--json'])
    expect(quick.code, quick.stderr).toBe(0)
    expect(heavy(quick)).toEqual([])
    expect(quick.modules.some((m) => m.includes('/@automerge/automerge/'))).toBe(true)
    const full = await traced(a, ['contact', 'add', '--name=Grace Hopper', '--email', 'grace@example.com', '--tag', 'vip', '--json'])
    expect(full.code, full.stderr).toBe(0)
    expect(full.modules.some((m) => m.includes('/commander/')), 'the --name= form runs the full CLI').toBe(true)
    const [quickContact, fullContact] = [quick, full].map((r) => JSON.parse(r.stdout) as Record<string, unknown>)
    expect(Object.keys(quickContact!).sort()).toEqual(Object.keys(fullContact!).sort())
    expect(quickContact).toMatchObject({ name: 'Ada Lovelace', emails: ['ada@example.com'], tags: { vip: true } })

    const human = await traced(a, ['contact', 'add', '--name', 'Alan Turing'])
    expect(human.code, human.stderr).toBe(0)
    expect(heavy(human)).toEqual([])
    expect(human.stdout).toMatch(/^ct_[a-z0-9]{16}\n$/)

    // A refusal is the full CLI's, word for word and with its exit code.
    const quickBad = await traced(a, ['contact', 'add', '--name', 'Bad', '--email', 'not-an-email', '--json'])
    const fullBad = await traced(a, ['contact', 'add', '--name=Bad', '--email', 'not-an-email', '--json'])
    expect(quickBad.code).toBe(1)
    expect(fullBad.code).toBe(1)
    expect(JSON.parse(quickBad.stderr)).toEqual(JSON.parse(fullBad.stderr))

    expect(await contactNames(a)).toEqual(['Ada Lovelace', 'Alan Turing', 'Grace Hopper'])
    const status = await orbit(['--data', a, 'contact', 'list'])
    expect(status.stdout).toContain('Ada Lovelace')
  })

  it('on a data dir that was never initialised, says what to run, as the full CLI does', async () => {
    const a = scratch.dir('orbit-quick-add-')
    const quick = await orbit(['--data', a, 'contact', 'add', '--name', 'Nobody'])
    const full = await orbit(['--data', a, 'contact', 'add', '--name=Nobody'])
    expect(quick.code).not.toBe(0)
    expect(quick.code).toBe(full.code)
    expect(quick.stderr).toBe(full.stderr)
    expect(quick.stderr).toContain('orbit init')
  })
})

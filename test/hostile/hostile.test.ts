/**
 * Hostile and broken peers against a real `orbit serve` (docs/protocol/lan.md, "Transport";
 * docs/protocol/link.md, "Limits"): each attack is a scripted peer (attacker.mjs, a child process)
 * on 127.0.0.1 with mDNS off. Every test asserts that the daemon stays up, that its peak RSS
 * (VmHWM) stays under {@link RSS_BOUND_KB}, and that an honest paired daemon keeps syncing during
 * the attack: a contact written on it arrives. Pairing brute force is test/pairing/guessing.test.ts;
 * forged mDNS records are test/discovery/serve-netns.test.ts (real packets in namespaces).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Scratch, contactNames, orbitJson, requireBuilt, type ServeProcess } from '../daemon/helpers.js'

/** Peak RSS bound for the attacked daemon, in kB (a daemon at rest is ~150 MB here). */
const RSS_BOUND_KB = 512 * 1024
/** 125 loopback addresses, none of them the honest peers' 127.0.0.1 (8 pending handshakes each at most). */
const ATTACKERS = Array.from({ length: 125 }, (_, i) => `127.0.${1 + (i >> 6)}.${2 + (i & 63)}`)
const ATTACKER = fileURLToPath(new URL('./attacker.mjs', import.meta.url))

interface Ready {
  deviceId: string
  listen: string
  invite?: { code: string }
}
interface Done {
  event: string
  [key: string]: unknown
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
/** Polls until `check` returns true (the test's timeout bounds it: no timed assertion). */
async function until(check: () => Promise<boolean>, pause = 300): Promise<void> {
  while (!(await check().catch(() => false))) await sleep(pause)
}

/** Peak and current RSS of a process, in kB. */
function rss(pid: number): { peakKb: number; nowKb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (key: string): number => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN)
  return { peakKb: kb('VmHWM'), nowKb: kb('VmRSS') }
}

/** Runs attacker.mjs with `config` to its exit; its last JSON line. */
function attack(config: Record<string, unknown>): Promise<Done> {
  const child = spawn(process.execPath, [ATTACKER, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s))
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s))
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', () => {
      const last = out.trim().split('\n').at(-1)
      if (last === undefined || last === '') return reject(new Error(`attacker printed nothing: ${err}`))
      resolve(JSON.parse(last) as Done)
    })
  })
}

describe('a daemon under attack keeps serving its members', () => {
  const scratch = new Scratch()
  let a: { dir: string; serve: ServeProcess; ready: Ready; port: number }
  let b: string
  let mallory: string
  let c: string
  let n = 0
  const report: string[] = []

  beforeAll(async () => {
    requireBuilt()
    const dir = scratch.dir()
    // Warnings on stderr: the typed errors each attack must end in are read from there.
    const serve = scratch.serve(dir, ['--name', 'A', '--listen', '127.0.0.1:0', '--no-mdns', '--no-http'], (cmd, args, options) =>
      spawn(cmd, args, { ...options, env: { ...options.env, ORBIT_LOG_LEVEL: 'warn' } }),
    )
    const ready = (await serve.ready) as unknown as Ready
    a = { dir, serve, ready, port: Number(ready.listen.split(':').at(-1)) }
    // B: an honest member with its own daemon, which dials A by the invite's address.
    b = scratch.dir()
    await orbitJson(b, ['init', '--name', 'B'])
    await orbitJson(b, ['pair', 'join', ready.invite!.code])
    await scratch.serve(b, ['--listen', '127.0.0.1:0', '--no-mdns', '--no-http']).ready
    // Mallory: a paired member whose key the attacker script uses.
    mallory = scratch.dir()
    await orbitJson(mallory, ['init', '--name', 'Mallory'])
    const second = await orbitJson<{ code: string }>(dir, ['pair', 'invite'])
    await orbitJson(mallory, ['pair', 'join', second.code])
    // C: an honest member without a daemon: `orbit sync` makes a fresh handshake each time.
    c = scratch.dir()
    await orbitJson(c, ['init', '--name', 'C'])
    await orbitJson(c, ['pair', 'join', (await orbitJson<{ code: string }>(dir, ['pair', 'invite'])).code])
    await honestSyncs('before any attack')
  }, 120_000)

  afterAll(async () => {
    console.info(`hostile peers, peak RSS of the attacked daemon (VmHWM, bound ${RSS_BOUND_KB} kB):\n${report.join('\n')}`)
    await scratch.cleanup()
  }, 60_000)

  /** Whether A logged a typed error with this code. */
  const logged = (code: string): boolean => a.serve.stderr.includes(`"code":"${code}"`)

  /** A contact written on B arrives on A. */
  async function honestSyncs(label: string): Promise<void> {
    const name = `Honest ${++n} (${label})`
    await orbitJson(b, ['contact', 'add', '--name', name])
    await until(async () => (await contactNames(a.dir)).includes(name))
  }

  /**
   * Runs `config` against A while B writes; checks A is up, under the bound, and B's contact
   * arrived. With `handshake`, C also connects afresh during the attack (`orbit sync`) and gets B's contact.
   */
  async function during(label: string, config: Record<string, unknown>, handshake = false): Promise<Done> {
    const result = attack({ port: a.port, ...config })
    await sleep(1500) // the attack is under way
    await honestSyncs(label)
    if (handshake) {
      const name = `Honest ${n} (${label})`
      const report = await orbitJson<{ peers?: unknown }>(c, ['sync', a.ready.listen])
      expect(report).toBeDefined()
      expect(await contactNames(c)).toContain(name)
    }
    const done = await result
    expect(a.serve.child.exitCode).toBeNull()
    const { peakKb, nowKb } = rss(a.serve.child.pid!)
    report.push(`  ${label}: peak ${peakKb} kB, now ${nowKb} kB, honest peer synced: yes, attacker: ${JSON.stringify(done)}`)
    expect(peakKb).toBeLessThan(RSS_BOUND_KB)
    await honestSyncs(`after ${label}`)
    return done
  }

  it('slowloris: handshakes that drip bytes are dropped at the handshake timeout', async () => {
    const done = await during('slowloris', { mode: 'slowloris', count: 64, addresses: ATTACKERS, dripMs: 250, holdMs: 30_000 }, true)
    expect(done).toMatchObject({ closed: 64, of: 64 })
  }, 90_000)

  it('a thousand half-open connections from 125 addresses: the oldest are evicted, the member still joins', async () => {
    const done = await during('1000 half-open', { mode: 'halfopen', count: 1000, addresses: ATTACKERS, holdMs: 30_000 }, true)
    expect(done).toMatchObject({ closed: 1000, of: 1000 })
  }, 90_000)

  it('a thousand half-open connections re-opened as soon as they are dropped: a member still completes a fresh handshake', async () => {
    const done = await during('1000 half-open, churning', { mode: 'halfopen', count: 1000, addresses: ATTACKERS, holdMs: 8000, churn: true }, true)
    expect(done.reopened as number).toBeGreaterThan(0)
  }, 90_000)

  it('an oversized frame header closes the connection before anything is buffered for it', async () => {
    const done = await during('oversized frame', { mode: 'oversized' })
    expect(done).toMatchObject({ closed: true })
    expect(logged('FRAME_TOO_LARGE')).toBe(true)
  }, 60_000)

  it('a member sending a sync message at the channel limit (64 MiB) costs a bounded amount; over it, MESSAGE_TOO_LARGE closes its link', async () => {
    const limit = 64 * 1024 * 1024
    const at = await during('huge change (64 MiB, at the limit)', { mode: 'huge', dir: mallory, bytes: limit })
    expect(at.event).toBe('done')
    const over = await during('huge change (over 64 MiB)', { mode: 'huge', dir: mallory, bytes: limit, over: true })
    expect(over).toMatchObject({ closed: true })
    expect(logged('MESSAGE_TOO_LARGE')).toBe(true)
  }, 180_000)

  it('three members sending 64 MiB changes at once: the inbound budget (one at a time) makes the others wait; the peak stays that of one change and each is read to the end', async () => {
    // Mallory, C (a member without a daemon, idle here) and one more paired member.
    const third = scratch.dir()
    await orbitJson(third, ['init', '--name', 'Mallory 2'])
    await orbitJson(third, ['pair', 'join', (await orbitJson<{ code: string }>(a.dir, ['pair', 'invite'])).code])
    const limit = 64 * 1024 * 1024
    const others = [c, third].map((dir) => attack({ port: a.port, mode: 'huge', dir, bytes: limit, waitMs: 1000 }))
    const first = await during('3 huge changes at once (64 MiB each)', { mode: 'huge', dir: mallory, bytes: limit, waitMs: 1000 })
    const all = [first, ...(await Promise.all(others))]
    expect(all.map((d) => d.sentAll)).toEqual([true, true, true])
    expect(logged('LINK_SLOW')).toBe(false)
  }, 120_000)

  it('a member flooding small messages is closed with LINK_FLOOD; reconnecting at once, it is refused for a cooldown', async () => {
    const done = await during('flood', { mode: 'flood', dir: mallory, messages: 300_000, size: 64, reconnect: true })
    expect(done).toMatchObject({ closed: true })
    expect(done.sent as number).toBeLessThan(300_000)
    expect(logged('LINK_FLOOD')).toBe(true)
    // Told why, before any hello, and for how long: 10 s after a first flood, less what passed.
    // (A daemon too busy to answer within it accepts the next link; the attacker then floods
    // again, and the cooldown doubles: `round` counts the floods it took.)
    const refused = done.refused as { closed: boolean; round: number; controls: Array<{ type: string; reason?: string; retryAfterMs?: number }> }
    expect(refused.closed).toBe(true)
    expect(refused.controls).toEqual([{ type: 'goodbye', reason: 'cooldown', retryAfterMs: expect.any(Number) }])
    expect(refused.controls[0]!.retryAfterMs).toBeGreaterThan(0)
    expect(refused.controls[0]!.retryAfterMs).toBeLessThanOrEqual(10_000 * 2 ** (refused.round - 1))
  }, 120_000)
})

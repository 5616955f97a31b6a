/**
 * Images peer to peer end to end (issue 11, namespace scenario 5): real `orbit serve` child
 * processes, each in its own network namespace on one bridged LAN (test/helpers/netns.ts). A adds
 * a contact with a logo through the CLI; B (linked to A) gets it byte-identical, and C, which knows
 * only B's address, gets it from B. Then a ~30 MB image: B's link is cut halfway (iptables, in
 * B's namespace) and restored, and the transfer resumes with at most one chunk sent again; and C's
 * daemon is SIGKILLed halfway through receiving it, restarted, and resumes from its kept partial.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createLan, netnsUnavailableReason, type Lan } from '../helpers/netns.js'
import { ServeProcess, orbitJson, requireBuilt, type Spawner } from '../daemon/helpers.js'
import { CHUNK_SIZE } from '../../src/core/blobs/port.js'
import type { BlobStatus } from '../../src/apps/node/api.js'
import { threeMembers, until } from '../mesh/helpers.js'
import { syntheticPng } from '../../bench/synthetic-png.js'

const reason = netnsUnavailableReason()
if (reason !== undefined) console.warn(`skipping the blobs namespace test: ${reason}`)

const PORT = 7430
const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

describe.skipIf(reason !== undefined)('images between orbit serve daemons in network namespaces', () => {
  let lan: Lan | undefined
  const daemons: ServeProcess[] = []
  const roots: string[] = []
  beforeAll(requireBuilt)
  afterEach(async () => {
    await Promise.all(daemons.splice(0).map((d) => d.kill()))
    await lan?.destroy()
    lan = undefined
    for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true })
  })

  it('A → B → C byte-identical; a 30 MB image resumes after a cut (≤ 1 chunk resent) and after a SIGKILL of the receiver', async () => {
    lan = await createLan({ devices: 3 })
    const l = lan
    const inNs =
      (ns: string): Spawner =>
      (cmd, args, options) =>
        l.spawnIn(ns, cmd, args, options)
    const root = mkdtempSync(join(tmpdir(), 'orbit-blobs-ns-'))
    roots.push(root)
    const m = await threeMembers(root)
    const keys = ['a', 'b', 'c'] as const
    const dev = { a: l.devices[0]!, b: l.devices[1]!, c: l.devices[2]! }
    const listen = Object.fromEntries(keys.map((k) => [k, `${dev[k].ip}:${PORT}`])) as Record<(typeof keys)[number], string>
    const cli = <T>(k: (typeof keys)[number], args: string[]): Promise<T> => orbitJson<T>(m.dirs[k], args, { spawner: inNs(dev[k].ns) })
    const serve = (k: (typeof keys)[number]): ServeProcess => {
      const d = new ServeProcess(m.dirs[k], ['--listen', listen[k], '--no-mdns'], inNs(dev[k].ns))
      daemons.push(d)
      return d
    }
    const d = { a: serve('a'), b: serve('b'), c: serve('c') }
    await Promise.all([d.a.ready, d.b.ready, d.c.ready])
    for (const k of keys) await cli(k, ['blobs', 'limit', '64MB'])
    // B knows A; C knows only B: each syncs once through its daemon, which keeps the link.
    expect(await cli('b', ['sync', listen.a])).toMatchObject({ status: 'completed' })
    expect(await cli('c', ['sync', listen.b])).toMatchObject({ status: 'completed' })

    const has = async (k: (typeof keys)[number], hash: string): Promise<boolean> => (await cli<BlobStatus>(k, ['blobs'])).items.some((i) => i.hash === hash && i.state === 'present')
    const stored = (k: (typeof keys)[number], hash: string): Buffer => readFileSync(join(m.dirs[k], 'blobs', hash.slice(0, 2), hash))

    // ---- a logo A → B → C ----
    const logo = syntheticPng(300_000, 21)
    writeFileSync(join(root, 'logo.png'), logo)
    const added = await cli<{ id: string; logo: string }>('a', ['contact', 'add', '--name', 'Ada Lovelace', '--logo', join(root, 'logo.png')])
    expect(added.logo).toBe(sha(logo))
    await until(async () => (await has('b', added.logo)) && (await has('c', added.logo)), 'the logo on B and C', 60_000)
    expect(stored('b', added.logo).equals(Buffer.from(logo))).toBe(true)
    expect(stored('c', added.logo).equals(Buffer.from(logo))).toBe(true)
    const shown = await cli<{ logoBlob: { state: string; image: { type: string; width: number } } }>('c', ['contact', 'show', added.id])
    expect(shown.logoBlob).toMatchObject({ state: 'present', image: { type: 'image/png', width: 640 } })

    // ---- 30 MB, B's link cut halfway ----
    // Every device sends at 24 Mbit/s (tc, in its namespace), so the transfer lasts long enough to be cut part-way.
    for (const k of keys) await l.exec(dev[k].ns, 'tc', ['qdisc', 'add', 'dev', dev[k].iface, 'root', 'tbf', 'rate', '24mbit', 'burst', '64kb', 'latency', '400ms'])
    const big = syntheticPng(30 * 1024 * 1024 + 4321, 22)
    writeFileSync(join(root, 'big.png'), big)
    const before = (await cli<BlobStatus>('a', ['blobs'])).counts!
    const bigContact = await cli<{ logo: string }>('a', ['contact', 'add', '--name', 'Big Logo', '--logo', join(root, 'big.png')])
    const progressOn = async (k: (typeof keys)[number]): Promise<number> => {
      const s = await cli<BlobStatus>(k, ['blobs'])
      const item = s.items.find((i) => i.hash === bigContact.logo)
      return item?.state === 'present' ? 1 : item?.state === 'fetching' ? (item.received ?? 0) / big.length : 0
    }
    let atCut = 0
    await until(async () => (atCut = await progressOn('b')) >= 0.2, 'B a fifth into the 30 MB image', 120_000)
    await l.cutLink(dev.b.index)
    // Cut part-way, not after the end (else the test would prove nothing).
    expect(atCut).toBeLessThan(0.9)
    await new Promise((r) => setTimeout(r, 3000))
    await l.restoreLink(dev.b.index)
    await until(() => has('b', bigContact.logo), 'the 30 MB image on B after the cut', 180_000)
    expect(sha(stored('b', bigContact.logo))).toBe(bigContact.logo)
    const after = (await cli<BlobStatus>('a', ['blobs'])).counts!
    const resent = after.bytesResent - before.bytesResent
    console.info(`cut: A sent ${resent} bytes again (${(resent / CHUNK_SIZE).toFixed(2)} chunks)`)
    expect(resent).toBeLessThanOrEqual(CHUNK_SIZE)

    // ---- the receiver SIGKILLed part-way through another 30 MB image, restarted: resumes ----
    // C fetches it from whichever member has it (B, or A over a link the daemons made themselves).
    const big2 = syntheticPng(30 * 1024 * 1024 + 99, 23)
    writeFileSync(join(root, 'big2.png'), big2)
    const second = await cli<{ logo: string }>('a', ['contact', 'add', '--name', 'Second Big Logo', '--logo', join(root, 'big2.png')])
    const fetchingOn = async (k: (typeof keys)[number]): Promise<number> => {
      const item = (await cli<BlobStatus>(k, ['blobs'])).items.find((i) => i.hash === second.logo)
      return item?.state === 'present' ? 1 : item?.state === 'fetching' ? (item.received ?? 0) / big2.length : 0
    }
    let atKill = 0
    await until(async () => (atKill = await fetchingOn('c')) >= 0.15, 'C part-way into the second image', 120_000)
    d.c.child.kill('SIGKILL')
    await d.c.exited
    expect(atKill).toBeLessThan(0.9)
    const c2 = serve('c')
    await c2.ready
    expect(await cli('c', ['sync', listen.b])).toMatchObject({ status: 'completed' })
    await until(() => has('c', second.logo), 'the second image on C after its restart', 180_000)
    expect(sha(stored('c', second.logo))).toBe(second.logo)
    // The restarted daemon's counters start at zero: what it received is what the resume needed.
    const receivedAfter = (await cli<BlobStatus>('c', ['blobs'])).counts!.bytesReceived
    console.info(`SIGKILL at ${(atKill * 100).toFixed(0)}%: C received ${receivedAfter} bytes after its restart (of ${big2.length})`)
    expect(receivedAfter).toBeGreaterThan(0)
    // Resumed from the kept partial: at most what was left at the kill, plus the chunk being written then.
    expect(receivedAfter).toBeLessThanOrEqual(big2.length - Math.floor(atKill * big2.length) + 2 * CHUNK_SIZE)
  }, 600_000)
})

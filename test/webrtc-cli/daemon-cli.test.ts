/**
 * `orbit webrtc offer` / `accept` with `orbit serve` running, and `orbit sync --via webrtc` with
 * and without it, as real child processes on loopback: the daemon holds the offer, takes the
 * answer later and syncs in the background (its status lists the session); `orbit sync --via
 * webrtc` and `orbit webrtc accept --wait` wait for the daemon's session and print its report like
 * the other tiers; a tampered answer is refused and leaves the daemon serving. Skipped, with a
 * reason, while the daemon's control protocol has no `webrtc.*` requests.
 */
import { join } from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { OP_PARAMS } from '../../src/apps/control/protocol.js'
import { handleControlLine } from '../../src/apps/daemon/control-server.js'
import type { Daemon } from '../../src/apps/daemon/daemon.js'
import type { SyncReport } from '../../src/core/engine/sync-session.js'
import { callDaemon, findDaemon } from '../../src/apps/control/client.js'
import { ServeProcess } from '../daemon/helpers.js'
import { Scratch, addMemberCopy, contactNames, jsonError, requireBuilt } from './helpers.js'

const LOOPBACK = ['--host', '127.0.0.1']
const skip = 'webrtc.offer' in OP_PARAMS ? undefined : 'the daemon has no webrtc.* control requests'
if (skip) console.warn(`skipping daemon WebRTC CLI tests: ${skip}`)

const scratch = new Scratch()
const daemons: ServeProcess[] = []
beforeAll(requireBuilt)
afterEach(async () => {
  await Promise.all(daemons.splice(0).map((d) => d.kill()))
  await scratch.cleanup()
})

async function members(): Promise<{ a: string; b: string; bId: string }> {
  const root = scratch.root()
  const a = join(root, 'a')
  const b = join(root, 'b')
  await scratch.json(a, ['init', '--name', 'Alpha'])
  const bId = await addMemberCopy(a, b, 'Beta')
  await scratch.json(a, ['contact', 'add', '--name', 'Ada Lovelace'])
  await scratch.json(b, ['contact', 'add', '--name', 'Grace Hopper'])
  return { a, b, bId }
}

interface Status {
  recentSessions: Array<{ method: string; status: string; peerId: string; changesReceived: number; changesSent: number }>
}

/** The keys of every tier's session report (sync-session.ts `SyncReport`), for a completed session. */
const REPORT_KEYS = ['bytesReceived', 'bytesSent', 'changesReceived', 'changesSent', 'documents', 'durationMs', 'method', 'peer', 'status']

async function serving(dir: string): Promise<ServeProcess> {
  const serve = new ServeProcess(dir, ['--listen', '127.0.0.1:0', '--no-mdns'])
  daemons.push(serve)
  await serve.ready
  return serve
}

/** The daemon's finished WebRTC sessions, once there are `n` (they end a moment after the CLI's side). */
async function webrtcSessions(dir: string, n: number): Promise<Status['recentSessions']> {
  for (;;) {
    const status = (await callDaemon(findDaemon(dir)!, 'status', {})) as Status
    const sessions = status.recentSessions.filter((s) => s.method === 'webrtc')
    if (sessions.length >= n) return sessions
    await new Promise((r) => setTimeout(r, 300))
  }
}

/** `code` with one character in the middle changed. */
function tamper(code: string): string {
  const i = Math.floor(code.length / 2)
  return code.slice(0, i) + (code[i] === 'A' ? 'B' : 'A') + code.slice(i + 1)
}

describe.skipIf(skip !== undefined)('orbit webrtc with orbit serve running', () => {
  it('offer is held by the daemon, accept hands it the answer, the daemon syncs in the background', async () => {
    const { a, b, bId } = await members()
    const serve = new ServeProcess(a, ['--listen', '127.0.0.1:0', '--no-mdns'])
    daemons.push(serve)
    await serve.ready
    const held = await scratch.json<{ code: string; heldBy: string; expiresAt: number }>(a, ['webrtc', 'offer', ...LOOPBACK, '--ttl', '5m'])
    expect(held.expiresAt).toBeLessThanOrEqual(Date.now() + 5 * 60_000)
    expect(held).toMatchObject({ heldBy: 'daemon' })
    expect(held.code).toMatch(/^orbit-rtc1\./)

    const answering = scratch.start(['--data', b, '--json', 'webrtc', 'answer', held.code, ...LOOPBACK])
    const answer = (JSON.parse(await answering.line(0)) as { code: string }).code
    const accepted = await scratch.json<{ deviceId: string; status: string }>(a, ['webrtc', 'accept', answer])
    expect(accepted).toEqual({ deviceId: bId, status: 'syncing' })
    const rb = await answering.exited
    expect(rb.code, rb.stderr).toBe(0)
    expect(JSON.parse(await answering.line(1))).toMatchObject({ method: 'webrtc', status: 'completed' })

    // The daemon's status (control socket) lists the finished session; polled: it ends after B's side.
    let session: Status['recentSessions'][number] | undefined
    while (session === undefined) {
      const status = (await callDaemon(findDaemon(a)!, 'status', {})) as Status
      session = status.recentSessions?.find((s) => s.method === 'webrtc')
      if (session === undefined) await new Promise((r) => setTimeout(r, 300))
    }
    expect(session).toMatchObject({ method: 'webrtc', status: 'completed', peerId: bId })
    expect(session.changesReceived).toBeGreaterThan(0)
    expect(await contactNames(scratch, a)).toEqual(['Ada Lovelace', 'Grace Hopper'])
    expect(await contactNames(scratch, b)).toEqual(['Ada Lovelace', 'Grace Hopper'])

    // An answer nobody asked for is refused by the daemon.
    const again = await scratch.run(['--data', a, '--json', 'webrtc', 'accept', answer])
    expect(again.code).toBe(1)
  })

  it('answer through the daemon: the CLI prints its answer code and returns, the daemon syncs when the offerer applies it', async () => {
    const { a, b, bId } = await members()
    const serve = new ServeProcess(b, ['--listen', '127.0.0.1:0', '--no-mdns'])
    daemons.push(serve)
    await serve.ready
    const offering = scratch.start(['--data', a, '--json', 'webrtc', 'offer', ...LOOPBACK])
    const code = (JSON.parse(await offering.line(0)) as { code: string }).code
    const answer = await scratch.json<{ code: string; heldBy: string }>(b, ['webrtc', 'answer', code, ...LOOPBACK])
    expect(answer).toMatchObject({ heldBy: 'daemon' })
    offering.write(answer.code + '\n')
    const ra = await offering.exited
    expect(ra.code, ra.stderr).toBe(0)
    expect(JSON.parse(await offering.line(1))).toMatchObject({ method: 'webrtc', status: 'completed', peer: { deviceId: bId } })
    expect(await contactNames(scratch, a)).toEqual(['Ada Lovelace', 'Grace Hopper'])
    let session: Status['recentSessions'][number] | undefined
    while (session === undefined) {
      const status = (await callDaemon(findDaemon(b)!, 'status', {})) as Status
      session = status.recentSessions?.find((s) => s.method === 'webrtc')
      if (session === undefined) await new Promise((r) => setTimeout(r, 300))
    }
    expect(session).toMatchObject({ status: 'completed' })
    expect(await contactNames(scratch, b)).toEqual(['Ada Lovelace', 'Grace Hopper'])
  })

  it('`orbit sync --via webrtc` (no daemon) prints the offer, takes the answer on stdin and reports the session', async () => {
    const { a, b, bId } = await members()
    const syncing = scratch.start(['--data', a, '--json', 'sync', '--via', 'webrtc', ...LOOPBACK])
    const code = (JSON.parse(await syncing.line(0)) as { code: string }).code
    const answering = scratch.start(['--data', b, '--json', 'webrtc', 'answer', code, ...LOOPBACK])
    syncing.write((JSON.parse(await answering.line(0)) as { code: string }).code + '\n')
    const [ra, rb] = await Promise.all([syncing.exited, answering.exited])
    expect(ra.code, ra.stderr).toBe(0)
    expect(rb.code, rb.stderr).toBe(0)
    expect(JSON.parse(await syncing.line(1))).toMatchObject({ method: 'webrtc', status: 'completed', peer: { deviceId: bId } })
    expect(await contactNames(scratch, a)).toEqual(['Ada Lovelace', 'Grace Hopper'])
  })

  it('`orbit sync --via webrtc` with orbit serve running: the daemon holds the offer and connects, the CLI waits and prints its session report', async () => {
    const { a, b, bId } = await members()
    await serving(a)
    const syncing = scratch.start(['--data', a, '--json', 'sync', '--via', 'webrtc', ...LOOPBACK])
    const offer = JSON.parse(await syncing.line(0)) as { code: string; heldBy: string }
    expect(offer).toMatchObject({ heldBy: 'daemon' })
    expect(offer.code).toMatch(/^orbit-rtc1\./)

    const answering = scratch.start(['--data', b, '--json', 'webrtc', 'answer', offer.code, ...LOOPBACK])
    syncing.write((JSON.parse(await answering.line(0)) as { code: string }).code + '\n')
    const [ra, rb] = await Promise.all([syncing.exited, answering.exited])
    expect(ra.code, ra.stderr).toBe(0)
    expect(rb.code, rb.stderr).toBe(0)

    // The daemon's session, reported like every tier: the code line, then one report line.
    expect(syncing.lines).toHaveLength(2)
    const report = JSON.parse(await syncing.line(1)) as SyncReport
    expect(Object.keys(report).sort()).toEqual(REPORT_KEYS)
    expect(report).toMatchObject({ method: 'webrtc', status: 'completed', peer: { deviceId: bId, candidateType: 'host' } })
    expect(report.changesSent).toBeGreaterThan(0)
    expect(report.changesReceived).toBeGreaterThan(0)
    expect(report.bytesSent).toBeGreaterThan(0)
    expect(report.documents).toBeGreaterThan(0)
    const [session] = await webrtcSessions(a, 1)
    expect(session).toMatchObject({ status: 'completed', peerId: bId, changesSent: report.changesSent, changesReceived: report.changesReceived })

    // The data arrived on both sides (A's through its daemon).
    expect(await contactNames(scratch, a)).toEqual(['Ada Lovelace', 'Grace Hopper'])
    expect(await contactNames(scratch, b)).toEqual(['Ada Lovelace', 'Grace Hopper'])
  })

  it('`orbit sync --via webrtc` with orbit serve: a tampered answer is refused (typed, exit 1) and the offer withdrawn; the daemon keeps serving, `accept --wait` reports', async () => {
    const { a, b, bId } = await members()
    await serving(a)
    const syncing = scratch.start(['--data', a, '--json', 'sync', '--via', 'webrtc', ...LOOPBACK])
    const offer = (JSON.parse(await syncing.line(0)) as { code: string }).code
    const answering = scratch.start(['--data', b, '--json', 'webrtc', 'answer', offer, ...LOOPBACK])
    const answer = (JSON.parse(await answering.line(0)) as { code: string }).code
    syncing.write(tamper(answer) + '\n')
    const ra = await syncing.exited
    expect(ra.code).toBe(1)
    expect(jsonError(ra).name).toBe('WebRtcError')
    expect(['CODE_BAD_SIGNATURE', 'CODE_MALFORMED']).toContain(jsonError(ra).code)
    expect(syncing.lines).toHaveLength(1)

    // The command withdrew its offer: even B's genuine answer now finds nothing to connect to.
    const late = await scratch.run(['--data', a, '--json', 'webrtc', 'accept', answer])
    expect(late.code).toBe(1)
    expect(jsonError(late)).toMatchObject({ name: 'WebRtcError', code: 'CODE_WRONG_OFFER' })
    await answering.kill()
    expect(await contactNames(scratch, a)).toEqual(['Ada Lovelace'])
    expect(await contactNames(scratch, b)).toEqual(['Grace Hopper'])
    expect(((await callDaemon(findDaemon(a)!, 'status', {})) as Status).recentSessions.filter((s) => s.method === 'webrtc')).toEqual([])

    // The same daemon then syncs: a held offer, B's answer, `accept --wait` prints the session's report.
    const held = await scratch.json<{ code: string }>(a, ['webrtc', 'offer', ...LOOPBACK])
    const again = scratch.start(['--data', b, '--json', 'webrtc', 'answer', held.code, ...LOOPBACK])
    const second = (JSON.parse(await again.line(0)) as { code: string }).code
    const report = await scratch.json<SyncReport>(a, ['webrtc', 'accept', second, '--wait', '--timeout', '1m'])
    expect(Object.keys(report).sort()).toEqual(REPORT_KEYS)
    expect(report).toMatchObject({ method: 'webrtc', status: 'completed', peer: { deviceId: bId } })
    expect(report.changesReceived).toBeGreaterThan(0)
    const rb = await again.exited
    expect(rb.code, rb.stderr).toBe(0)
    expect(await contactNames(scratch, a)).toEqual(['Ada Lovelace', 'Grace Hopper'])
    expect(await contactNames(scratch, b)).toEqual(['Ada Lovelace', 'Grace Hopper'])
  })

  it('`orbit sync --via webrtc` with orbit serve: Ctrl-C while it waits for the answer withdraws the held offer', async () => {
    const { a, b } = await members()
    await serving(a)
    const syncing = scratch.start(['--data', a, '--json', 'sync', '--via', 'webrtc', ...LOOPBACK])
    const offer = (JSON.parse(await syncing.line(0)) as { code: string }).code
    syncing.child.kill('SIGINT')
    const ra = await syncing.exited
    expect(ra.code).toBe(1)
    expect(jsonError(ra)).toMatchObject({ name: 'AbortedError', code: 'INTERRUPTED' })
    // Nothing is left held in the daemon: an answer to that offer finds nothing to connect to.
    const answering = scratch.start(['--data', b, '--json', 'webrtc', 'answer', offer, ...LOOPBACK])
    const answer = (JSON.parse(await answering.line(0)) as { code: string }).code
    const late = await scratch.run(['--data', a, '--json', 'webrtc', 'accept', answer])
    expect(jsonError(late)).toMatchObject({ name: 'WebRtcError', code: 'CODE_WRONG_OFFER' })
    await answering.kill()
  })

  it('`orbit webrtc accept --wait --timeout`: an answer whose device is gone fails typed within the timeout (exit 1); the daemon keeps serving', async () => {
    const { a, b } = await members()
    await serving(a)
    const held = await scratch.json<{ code: string }>(a, ['webrtc', 'offer', ...LOOPBACK])
    const answering = scratch.start(['--data', b, '--json', 'webrtc', 'answer', held.code, ...LOOPBACK])
    const answer = (JSON.parse(await answering.line(0)) as { code: string }).code
    await answering.kill()
    const r = await scratch.run(['--data', a, '--json', 'webrtc', 'accept', answer, '--wait', '--timeout', '2s'])
    expect(r.code).toBe(1)
    expect(jsonError(r).name).toBe('WebRtcError')
    // The daemon's timeout, or ICE giving up first: either way a typed WebRTC error.
    expect(['TIMEOUT', 'NO_ROUTE']).toContain(jsonError(r).code)
    expect(await callDaemon(findDaemon(a)!, 'ping', {})).toMatchObject({ deviceId: expect.any(String) })
    expect(await contactNames(scratch, a)).toEqual(['Ada Lovelace'])
  })
})

describe('webrtc.accept and webrtc.cancel control requests', () => {
  it('are validated before anything runs: a bad `wait`, `timeoutMs` or an unknown key is a ValidationError naming the field', async () => {
    // Validation precedes dispatch, so no daemon is needed to see a request refused.
    const daemon = {} as Daemon
    const ask = async (op: string, params: unknown) =>
      (JSON.parse(await handleControlLine(daemon, JSON.stringify({ v: 1, id: 't', op, params }))) as { ok: boolean; error?: { name: string; field?: string } })
    expect(await ask('webrtc.accept', { code: 'orbit-rtc1.x', wait: 'yes' })).toMatchObject({ ok: false, error: { name: 'ValidationError', field: 'params.wait' } })
    expect(await ask('webrtc.accept', { code: 'orbit-rtc1.x', wait: true, timeoutMs: -1 })).toMatchObject({ ok: false, error: { name: 'ValidationError', field: 'params.timeoutMs' } })
    expect(await ask('webrtc.cancel', { code: '' })).toMatchObject({ ok: false, error: { name: 'ValidationError', field: 'params.code' } })
    expect(await ask('webrtc.cancel', { code: 'orbit-rtc1.x', wait: true })).toMatchObject({ ok: false, error: { name: 'ValidationError' } })
  })
})

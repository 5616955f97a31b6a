/**
 * `orbit webrtc offer` / `accept` with `orbit serve` running, and `orbit sync --via webrtc`, as
 * real child processes on loopback: the daemon holds the offer, takes the answer later and syncs
 * in the background (its status lists the session). Skipped, with a reason, while the daemon's
 * control protocol has no `webrtc.*` requests.
 */
import { join } from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { OP_PARAMS } from '../../src/apps/daemon/control-protocol.js'
import { callDaemon, findDaemon } from '../../src/apps/node/daemon-client.js'
import { ServeProcess } from '../daemon/helpers.js'
import { Scratch, addMemberCopy, contactNames, requireBuilt } from './helpers.js'

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
  recentSessions: Array<{ method: string; status: string; peerId: string; changesReceived: number }>
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
})

/**
 * `orbit webrtc offer | answer` as real child processes on loopback (host candidates on 127.0.0.1
 * only, no ICE server): two member devices exchange codes (text and QR PNG), connect, sync and
 * list the same contacts; a non-member's code, a tampered code, a reused code and a bad answer are
 * refused with typed errors and exit 1.
 */
import { join } from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { Scratch, addMemberCopy, contactNames, jsonError, requireBuilt } from './helpers.js'

const LOOPBACK = ['--host', '127.0.0.1']

interface Report {
  method: string
  status: string
  peer: { deviceId: string; address?: string; candidateType?: string }
  changesSent: number
  changesReceived: number
  bytesSent: number
  bytesReceived: number
  durationMs: number
  documents: number
}

const scratch = new Scratch()
beforeAll(requireBuilt)
afterEach(() => scratch.cleanup())

/** Device A (founder) and B (a second member), each with one contact of its own; C in another workspace. */
async function devices(): Promise<{ root: string; a: string; b: string; c: string; aId: string; bId: string }> {
  const root = scratch.root()
  const a = join(root, 'a')
  const b = join(root, 'b')
  const c = join(root, 'c')
  const aId = (await scratch.json<{ deviceId: string }>(a, ['init', '--name', 'Alpha'])).deviceId
  const bId = await addMemberCopy(a, b, 'Beta')
  await scratch.json(c, ['init', '--name', 'Stranger'])
  await scratch.json(a, ['contact', 'add', '--name', 'Ada Lovelace'])
  await scratch.json(b, ['contact', 'add', '--name', 'Grace Hopper'])
  return { root, a, b, c, aId, bId }
}

describe('orbit webrtc on loopback', () => {
  it('offer → answer → accept by code and by QR PNG: both sync, report the session, and list the same contacts; the code is single-use', async () => {
    const { root, a, b, aId, bId } = await devices()
    const offerPng = join(root, 'offer.png')
    const answerPng = join(root, 'answer.png')

    const offering = scratch.start(['--data', a, '--json', 'webrtc', 'offer', ...LOOPBACK, '--qr', offerPng])
    const offer = JSON.parse(await offering.line(0)) as { code: string; qr: string }
    expect(offer.code).toMatch(/^orbit-rtc1\./)
    expect(offer.qr).toBe(offerPng)

    // B reads the offer from the QR PNG and writes its answer as one too.
    const answering = scratch.start(['--data', b, '--json', 'webrtc', 'answer', offerPng, ...LOOPBACK, '--qr', answerPng])
    const answer = JSON.parse(await answering.line(0)) as { code: string; peer: { deviceId: string } }
    expect(answer.code).toMatch(/^orbit-rtc1\./)
    expect(answer.peer.deviceId).toBe(aId)

    // A gets the path of B's answer PNG on stdin.
    offering.write(answerPng + '\n')
    const [ra, rb] = await Promise.all([offering.exited, answering.exited])
    expect(ra.code, ra.stderr).toBe(0)
    expect(rb.code, rb.stderr).toBe(0)
    const reportA = JSON.parse(await offering.line(1)) as Report
    const reportB = JSON.parse(await answering.line(1)) as Report
    for (const [report, peer] of [
      [reportA, bId],
      [reportB, aId],
    ] as const) {
      expect(report).toMatchObject({ method: 'webrtc', status: 'completed', peer: { deviceId: peer, candidateType: 'host' } })
      expect(report.peer.address).toMatch(/^127\.0\.0\.1:\d+$/)
      expect(report.changesSent).toBeGreaterThan(0)
      expect(report.changesReceived).toBeGreaterThan(0)
      expect(report.bytesSent).toBeGreaterThan(0)
      expect(report.bytesReceived).toBeGreaterThan(0)
      expect(report.documents).toBeGreaterThan(1)
      expect(typeof report.durationMs).toBe('number')
    }

    expect(await contactNames(scratch, a)).toEqual(['Ada Lovelace', 'Grace Hopper'])
    expect(await contactNames(scratch, b)).toEqual(['Ada Lovelace', 'Grace Hopper'])

    // The same offer code again on B: refused as replayed (the ledger is in B's data dir).
    const again = await scratch.run(['--data', b, '--json', 'webrtc', 'answer', offer.code, ...LOOPBACK])
    expect(again.code).toBe(1)
    expect(jsonError(again)).toMatchObject({ name: 'WebRtcError', code: 'CODE_REPLAYED' })
  })

  it("a non-member's offer, a tampered offer and a bad answer are refused with typed errors (exit 1)", async () => {
    const { b, c, a } = await devices()

    // C is not a member of B's workspace.
    const stranger = scratch.start(['--data', c, '--json', 'webrtc', 'offer', ...LOOPBACK])
    const strangerCode = (JSON.parse(await stranger.line(0)) as { code: string }).code
    const refused = await scratch.run(['--data', b, '--json', 'webrtc', 'answer', strangerCode, ...LOOPBACK])
    expect(refused.code).toBe(1)
    expect(jsonError(refused)).toMatchObject({ name: 'WebRtcError', code: 'CODE_NOT_MEMBER' })
    // C gets no answer: its input ends, it exits 1 with a typed error.
    stranger.endInput()
    const rc = await stranger.exited
    expect(rc.code).toBe(1)
    expect(jsonError(rc)).toMatchObject({ name: 'WebRtcError', code: 'NO_ANSWER' })

    // A's offer with one character changed in the middle.
    const offering = scratch.start(['--data', a, '--json', 'webrtc', 'offer', ...LOOPBACK])
    const code = (JSON.parse(await offering.line(0)) as { code: string }).code
    const i = Math.floor(code.length / 2)
    const tampered = code.slice(0, i) + (code[i] === 'A' ? 'B' : 'A') + code.slice(i + 1)
    const t = await scratch.run(['--data', b, '--json', 'webrtc', 'answer', tampered, ...LOOPBACK])
    expect(t.code).toBe(1)
    expect(jsonError(t).name).toBe('WebRtcError')
    expect(['CODE_BAD_SIGNATURE', 'CODE_MALFORMED']).toContain(jsonError(t).code)

    // A is handed its own offer code as the "answer": refused, A exits 1.
    offering.write(code + '\n')
    const ra = await offering.exited
    expect(ra.code).toBe(1)
    expect(jsonError(ra)).toMatchObject({ name: 'WebRtcError', code: 'CODE_WRONG_TYPE' })

    // Nothing was synced by any of this.
    expect(await contactNames(scratch, b)).toEqual(['Grace Hopper'])
  })

  it('an answer whose device is gone: the offer fails with NO_ROUTE within --timeout (exit 1), in plain text too', async () => {
    const { a, b } = await devices()
    const offering = scratch.start(['--data', a, 'webrtc', 'offer', ...LOOPBACK, '--timeout', '3s'])
    const code = await offering.line(0)
    expect(code).toMatch(/^orbit-rtc1\./)
    const answering = scratch.start(['--data', b, '--json', 'webrtc', 'answer', code, ...LOOPBACK])
    const answer = (JSON.parse(await answering.line(0)) as { code: string }).code
    // B goes away before A applies its answer: nothing answers at its candidates.
    answering.child.kill('SIGKILL')
    await answering.exited
    offering.write(answer + '\n')
    const ra = await offering.exited
    expect(ra.code).toBe(1)
    expect(ra.stderr).toMatch(/error: /)
    const json = scratch.start(['--data', a, '--json', 'webrtc', 'offer', ...LOOPBACK, '--timeout', '3s'])
    await json.line(0)
    const b2 = scratch.start(['--data', b, '--json', 'webrtc', 'answer', JSON.parse(await json.line(0)).code as string, ...LOOPBACK])
    const answer2 = (JSON.parse(await b2.line(0)) as { code: string }).code
    b2.child.kill('SIGKILL')
    await b2.exited
    json.write(answer2 + '\n')
    const rj = await json.exited
    expect(rj.code).toBe(1)
    expect(jsonError(rj)).toMatchObject({ name: 'WebRtcError', code: 'NO_ROUTE' })
  })

  it('an expired offer code and a revoked device’s code are refused (exit 1, typed)', async () => {
    const { a, b, bId } = await devices()
    // Expiry has one-second resolution and is rounded down, so a 1 s TTL can leave the offering
    // process no time to check its own code under load: 2 s leaves it at least one.
    const offering = scratch.start(['--data', a, '--json', 'webrtc', 'offer', ...LOOPBACK, '--ttl', '2s'])
    const code = (JSON.parse(await offering.line(0)) as { code: string }).code
    await new Promise((r) => setTimeout(r, 3500))
    const expired = await scratch.run(['--data', b, '--json', 'webrtc', 'answer', code, ...LOOPBACK])
    expect(expired.code).toBe(1)
    expect(jsonError(expired)).toMatchObject({ name: 'WebRtcError', code: 'CODE_EXPIRED' })
    offering.endInput()
    expect((await offering.exited).code).toBe(1)

    // A revokes B: B's offers are refused by A from then on.
    await scratch.json(a, ['device', 'revoke', bId])
    const revoked = scratch.start(['--data', b, '--json', 'webrtc', 'offer', ...LOOPBACK])
    const revokedCode = (JSON.parse(await revoked.line(0)) as { code: string }).code
    const refused = await scratch.run(['--data', a, '--json', 'webrtc', 'answer', revokedCode, ...LOOPBACK])
    expect(refused.code).toBe(1)
    expect(jsonError(refused)).toMatchObject({ name: 'WebRtcError', code: 'CODE_NOT_MEMBER' })
  })
})

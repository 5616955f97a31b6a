/**
 * QR tier bench (issue 4's bars), ratios against baselines measured in the same run:
 * - payload bytes per frame at the chosen QR version (≥ 1,000 at version ≤ 25);
 * - frames needed at 0/10/20/40% random frame loss, vs the ideal (k) and vs @ngraveio/bc-ur with
 *   the same payload and fragment size (seeded, averaged over many trials);
 * - how often "any k frames" is not enough: the measured chance of needing one (or two) more;
 * - one edit exchanged both ways: frames each way;
 * - render-PNG and decode-PNG time per full-size frame;
 * - issue 10's bar: real devices (two nodes on loopback) that last synced over the LAN, one new edit,
 *   then a QR export `--for` the other: one frame (the heads learnt on the LAN session), against
 *   the export without that knowledge (every document) in the same run.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import * as Automerge from '@automerge/automerge'
import { URDecoder, UREncoder, UR } from '@ngraveio/bc-ur'
import { decodeQrPng, qrModules, renderQrPng } from '../src/adapters/qr-image/index.js'
import { generateIdentity } from '../src/core/crypto/identity.js'
import { applyBundle, createBundle, openBundle } from '../src/core/qr/bundle.js'
import { DEFAULT_PAYLOAD_SIZE, FrameDecoder, encodeFrames } from '../src/core/qr/frame.js'
import { createOrbitNode } from '../src/apps/node/orbit-node.js'
import { initDevice } from '../src/apps/node/device.js'
import { joinWorkspace } from '../src/apps/node/join.js'
import type { BarCheck, BenchOutcome } from './types.js'

function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = Math.imul(a ^ (a >>> 15), a | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function payload(n: number, seed: number): Uint8Array {
  const next = prng(seed)
  return Uint8Array.from({ length: n }, () => Math.floor(next() * 256))
}

interface LossStats {
  /** Mean frames received (not lost) until decoded. */
  received: number
  /** Mean frames shown (received + lost) until decoded. */
  shown: number
}

/** Plays a frame stream through `loss`, `trials` times, counting frames until the decoder completes. */
function simulate(
  trials: number,
  loss: number,
  seed: number,
  frameAt: (i: number) => unknown,
  newDecoder: () => (frame: unknown) => boolean,
): LossStats {
  const rnd = prng(seed)
  let received = 0
  let shown = 0
  for (let t = 0; t < trials; t++) {
    const push = newDecoder()
    let i = 0
    for (;;) {
      const frame = frameAt(i++)
      if (rnd() < loss) continue
      received++
      if (push(frame)) break
      if (i > 100_000) throw new Error('decoder never completed')
    }
    shown += i
  }
  return { received: received / trials, shown: shown / trials }
}

/**
 * "Any k of the frames" is probabilistic once repair frames are involved: k received frames decode
 * only when their coefficient vectors are independent (docs/protocol/qr.md §3 estimates ≈ 1/256).
 * Measured here: with 20% and 40% random loss (so repair frames make up part of what is received),
 * the share of transfers that needed one more frame than k, and two or more.
 */
function extraFrameOdds(fragment: number): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [size, trials] of [
    [12_000, Number(process.env.ORBIT_QR_BENCH_ODDS_TRIALS ?? 3000)],
    [50_000, Number(process.env.ORBIT_QR_BENCH_ODDS_TRIALS_LARGE ?? 400)],
  ] as const) {
    const data = payload(size, size + 1)
    const k = Math.ceil(size / fragment)
    const frames = encodeFrames(data, { frameCount: k * 6 + 20 })
    for (const loss of [0.2, 0.4]) {
      const rnd = prng(size ^ Math.round(loss * 1000))
      let oneMore = 0
      let twoMore = 0
      for (let t = 0; t < trials; t++) {
        const dec = new FrameDecoder()
        let received = 0
        // Each trial starts at a random place in the stream (a camera catches it mid-loop).
        let i = Math.floor(rnd() * frames.length)
        for (;;) {
          const frame = frames[i++ % frames.length]!
          if (rnd() < loss) continue
          received++
          if (dec.push(frame).status === 'complete') break
          if (received > frames.length) throw new Error('decoder never completed')
        }
        if (received - k >= 1) oneMore++
        if (received - k >= 2) twoMore++
      }
      const tag = `qr.${size}B.loss${Math.round(loss * 100)}`
      out[`${tag}.trials`] = trials
      out[`${tag}.pNeedsOneMoreFrame`] = Math.round((oneMore / trials) * 1e5) / 1e5
      out[`${tag}.pNeedsTwoMoreFrames`] = Math.round((twoMore / trials) * 1e5) / 1e5
    }
  }
  return out
}

function cached<T>(make: (i: number) => T): (i: number) => T {
  const cache: T[] = []
  return (i) => (cache[i] ??= make(i))
}

export async function runQrBench(): Promise<Record<string, number | string>> {
  const out: Record<string, number | string> = {}
  const fragment = DEFAULT_PAYLOAD_SIZE
  const fullFrame = encodeFrames(payload(3 * fragment, 1))[0]!
  out['qr.version'] = qrModules(fullFrame).version
  out['qr.errorCorrection'] = 'L'
  out['qr.payloadBytesPerFrame'] = fragment
  out['qr.frameBytes'] = fullFrame.length

  const trials = Number(process.env.ORBIT_QR_BENCH_TRIALS ?? 40)
  for (const size of [12_000, 50_000]) {
    const data = payload(size, size)
    // Ours: enough frames pre-generated for the worst loss; the stream restarts its count per trial.
    const frames = encodeFrames(data, { frameCount: Math.ceil((size / fragment) * 4) + 20 })
    const k = Math.ceil(size / fragment)
    const ours = (i: number): Uint8Array => frames[i % frames.length]!
    // bc-ur: the same payload and fragment size; its part sequence is deterministic, so cache it.
    const encoder = new UREncoder(UR.fromBuffer(Buffer.from(data)), fragment, 0, 10)
    const bcur = cached(() => encoder.nextPart())
    out[`qr.${size}B.k`] = k
    out[`qr.${size}B.bcurFragments`] = encoder.fragmentsLength
    for (const loss of [0, 0.1, 0.2, 0.4]) {
      const tag = `qr.${size}B.loss${Math.round(loss * 100)}`
      const mine = simulate(trials, loss, 7, ours, () => {
        const dec = new FrameDecoder()
        return (f) => dec.push(f as Uint8Array).status === 'complete'
      })
      const theirs = simulate(trials, loss, 7, bcur, () => {
        const dec = new URDecoder()
        return (p) => {
          dec.receivePart(p as string)
          return dec.isComplete()
        }
      })
      out[`${tag}.ideal`] = k
      out[`${tag}.ours`] = round(mine.received)
      out[`${tag}.bcur`] = round(theirs.received)
      out[`${tag}.oursVsIdeal`] = round(mine.received / k)
      out[`${tag}.oursVsBcur`] = round(mine.received / theirs.received)
      out[`${tag}.shownOurs`] = round(mine.shown)
      out[`${tag}.shownIdeal`] = round(k / (1 - loss))
    }
  }

  Object.assign(out, extraFrameOdds(fragment))

  const timedFrames = encodeFrames(payload(10 * fragment, 2)).slice(0, 5)
  let renderMs = 0
  let decodeMs = 0
  for (const frame of timedFrames) {
    const t0 = performance.now()
    const png = renderQrPng(frame)
    const t1 = performance.now()
    const back = decodeQrPng(png)
    renderMs += t1 - t0
    decodeMs += performance.now() - t1
    if (back.length !== frame.length) throw new Error('frame did not read back')
  }
  out['qr.renderPngMsPerFrame'] = round(renderMs / timedFrames.length)
  out['qr.decodePngMsPerFrame'] = round(decodeMs / timedFrames.length)

  Object.assign(out, editRoundTrip())
  Object.assign(out, await afterLan())

  return out
}

/**
 * Issue 10's bar with real devices: A (listening on 127.0.0.1) holds 300 contacts, B joins it by
 * invite and syncs over the LAN; A then makes one edit and exports QR frames `--for` B. The heads A
 * learnt of B on the LAN session leave only the edited document in the bundle.
 */
async function afterLan(): Promise<Record<string, number>> {
  const root = mkdtempSync(join(tmpdir(), 'orbit-bench-qr-lan-'))
  const a = await createOrbitNode({ dataDir: join(root, 'a'), init: { name: 'Alpha' }, listen: { host: '127.0.0.1', port: 0 } })
  let b: Awaited<ReturnType<typeof createOrbitNode>> | undefined
  try {
    await a.api.workspace.addContacts(Array.from({ length: 300 }, (_, i) => ({ name: `Contact ${i}`, emails: [`c${i}@example.com`] })))
    const invite = await a.createInvite()
    await initDevice(join(root, 'b'), { name: 'Beta' })
    await joinWorkspace(join(root, 'b'), invite.code)
    b = await createOrbitNode({ dataDir: join(root, 'b') })
    await b.api.workspace.addContact({ name: 'Grace Hopper' })
    const lan = await b.sync(`127.0.0.1:${a.listenAddress!.port}`)
    if ('sessions' in lan || lan.status !== 'completed') throw new Error('the LAN sync did not complete')
    await a.api.workspace.addContact({ name: 'Ada Lovelace' })
    const bId = b.device.identity.deviceId
    const forB = await a.api.qrExport({ forDevice: bId })
    const everything = await a.api.qrExport({})
    return {
      'qr.afterLan.lanDocuments': lan.documents,
      'qr.afterLan.forDevice.documents': forB.documents,
      'qr.afterLan.forDevice.frames': encodeFrames(forB.bundle).length,
      'qr.afterLan.forDevice.bundleBytes': forB.bundle.length,
      'qr.afterLan.noKnowledge.documents': everything.documents,
      'qr.afterLan.noKnowledge.frames': encodeFrames(everything.bundle).length,
      'qr.afterLan.noKnowledge.bundleBytes': everything.bundle.length,
    }
  } finally {
    await b?.stop()
    await a.stop()
    rmSync(root, { recursive: true, force: true })
  }
}

type Crm = { contacts: Record<string, { name: string; email: string; tags: string[] }> }

/**
 * Two devices sharing a 1,000-contact document (17 documents, like the CRM's root + 16 shards,
 * is modelled by one big one plus 16 small ones); one edit on each side, exchanged by QR both ways
 * with heads-based bundles. Reports the frames and bundle bytes per direction.
 */
function editRoundTrip(): Record<string, number> {
  const a = generateIdentity()
  const b = generateIdentity()
  const keys = new Map<string, Uint8Array>([[a.deviceId, a.publicKey], [b.deviceId, b.publicKey]])
  const ws = 'ws_benchbenchbenchbenchbench'
  const ids = Array.from({ length: 17 }, (_, i) => `doc${String(i).padStart(2, '0')}`)
  let docsA = new Map<string, Automerge.Doc<Crm>>()
  for (const [n, id] of ids.entries()) {
    docsA.set(id, Automerge.change(Automerge.init<Crm>(), (d) => {
      d.contacts = {}
      for (let i = 0; i < (n === 0 ? 1000 : 20); i++) d.contacts[`ct_${n}_${i}`] = { name: `Contact ${i}`, email: `c${i}@example.com`, tags: ['lead'] }
    }))
  }
  const docsB = new Map([...docsA].map(([id, d]) => [id, Automerge.clone(d)]))
  const knownByA = Object.fromEntries([...docsB].map(([id, d]) => [id, Automerge.getHeads(d)]))
  const list = (m: Map<string, Automerge.Doc<Crm>>) => [...m].map(([documentId, doc]) => ({ documentId, doc }))

  docsA.set('doc00', Automerge.change(docsA.get('doc00')!, (d) => {
    d.contacts['ct_0_5']!.email = 'new@example.com'
  }))
  const toB = createBundle({ workspaceId: ws, sender: a, recipients: [{ deviceId: b.deviceId, publicKey: b.publicKey }], docs: list(docsA), knownHeads: knownByA })
  const atB = applyBundle<Crm>(openBundle(toB, { me: b, resolveSender: (id) => keys.get(id), workspaceId: ws }), (id) => docsB.get(id), ids)
  for (const d of atB.docs) if (d.changed) docsB.set(d.documentId, d.doc)
  docsB.set('doc03', Automerge.change(docsB.get('doc03')!, (d) => {
    d.contacts['ct_3_1']!.tags.push('customer')
  }))
  const toA = createBundle({ workspaceId: ws, sender: b, recipients: [{ deviceId: a.deviceId, publicKey: a.publicKey }], docs: list(docsB), knownHeads: atB.senderHeads })
  const atA = applyBundle<Crm>(openBundle(toA, { me: a, resolveSender: (id) => keys.get(id), workspaceId: ws }), (id) => docsA.get(id), ids)
  docsA = new Map(docsA)
  for (const d of atA.docs) if (d.changed) docsA.set(d.documentId, d.doc)
  const converged = ids.every((id) => Automerge.getHeads(docsA.get(id)!).sort().join() === Automerge.getHeads(docsB.get(id)!).sort().join())
  if (!converged) throw new Error('edit round trip did not converge')
  return {
    'qr.editAtoB.frames': encodeFrames(toB).length,
    'qr.editAtoB.bundleBytes': toB.length,
    'qr.editBtoA.frames': encodeFrames(toA).length,
    'qr.editBtoA.bundleBytes': toA.length,
    'qr.editReplyLearnedHeadsForDocs': Object.keys(atA.senderHeads).length,
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000
}

/**
 * The QR bench with its bar checks, for `BENCH_MODULES`:
 * `{ name: 'qr ...', run: () => runQrBenchWithBars() }`.
 */
export async function runQrBenchWithBars(): Promise<BenchOutcome> {
  const values = await runQrBench()
  const num = (key: string): number => Number(values[key])
  const bars: BarCheck[] = [
    { metric: 'qr payload bytes per frame', value: num('qr.payloadBytesPerFrame'), unit: 'B', bar: '≥ 1000', pass: num('qr.payloadBytesPerFrame') >= 1000 },
    { metric: 'qr version', value: num('qr.version'), unit: '', bar: '≤ 25', pass: num('qr.version') <= 25 },
  ]
  for (const size of [12_000, 50_000]) {
    const ideal = num(`qr.${size}B.loss20.oursVsIdeal`)
    bars.push({ metric: `qr ${size} B, 20% loss: frames vs ideal`, value: ideal, unit: '×', bar: '≤ 1.15', pass: ideal <= 1.15 })
    for (const loss of [0, 10, 20, 40]) {
      const vs = num(`qr.${size}B.loss${loss}.oursVsBcur`)
      bars.push({ metric: `qr ${size} B, ${loss}% loss: frames vs bc-ur`, value: vs, unit: '×', bar: '≤ 1', pass: vs <= 1 })
    }
  }
  for (const dir of ['AtoB', 'BtoA']) {
    const frames = num(`qr.edit${dir}.frames`)
    bars.push({ metric: `qr one edit ${dir}: frames`, value: frames, unit: 'frames', bar: '= 1', pass: frames === 1 })
  }
  const afterLanFrames = num('qr.afterLan.forDevice.frames')
  bars.push({ metric: 'qr export --for a device that last synced over LAN, one new edit: frames', value: afterLanFrames, unit: 'frames', bar: '= 1', pass: afterLanFrames === 1 })
  return { values, bars }
}

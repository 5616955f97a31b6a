/**
 * LAN tier bench (issue 3's bars), ratios against baselines measured in the same run:
 * 1. initial sync of a 10,000-contact CRM over the secure TCP channel between two Repos on
 *    127.0.0.1, each with its own SQLite store in a temp dir — from the dial until the receiver
 *    holds every document (root + shards) at the sender's heads — vs Automerge's own in-memory
 *    sync loop (`generateSyncMessage`/`receiveSyncMessage` ping-pong) on the same documents (the
 *    store and the sync are bench/crm-sync.ts's, shared with the WebRTC bench's LAN tier);
 * 2. one edit between connected peers: bytes on the wire both ways (frames + encryption, as the
 *    transport counts them) until the link is quiet again, and network legs/round trips until the
 *    other side sees it;
 * 3. discovery on a namespace LAN (root only): two devices start mDNS at the same instant, time
 *    until each sees the other (bench/lan-discovery.ts).
 *
 *   node dist/bench/lan.js          # standalone: prints the values
 *   ORBIT_BENCH_LAN_CONTACTS=2000 ORBIT_BENCH_LAN_RUNS=3 node dist/bench/lan.js   # quicker
 */
import { spawn } from 'node:child_process'
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath, pathToFileURL } from 'node:url'
import * as Automerge from '@automerge/automerge'
import { cbor, DocHandle, type Message, type PeerId } from '@automerge/automerge-repo'
import { generateIdentity } from '../src/core/crypto/identity.js'
import { CrmWorkspace } from '../src/core/model/workspace.js'
import { encodeHello, encodeSync } from '../src/core/link/envelope.js'
import type { ContactShardDoc } from '../src/core/model/types.js'
import { buildSender, gc, median, r1, r3, sameHeads, sleep, syncIntoEmptyReceiver, tcpLink, until, type BenchAead, type CrmSyncRun, type Sender, type TcpEnd } from './crm-sync.js'
import { runDiscoveryBench } from './lan-discovery.js'
import type { BarCheck, BenchModule, BenchOutcome } from './types.js'

export interface LanBenchOptions {
  signal?: AbortSignal
  log?: (line: string) => void
}

type Values = Record<string, number | string>

/** Automerge's own sync loop between two in-memory documents, for every document; total ms. */
export function baselineSync(saved: readonly Uint8Array[]): { ms: number; cpuMs: number } {
  const senders = saved.map((bytes) => Automerge.load<unknown>(bytes))
  let total = 0
  let cpu = 0
  for (const source of senders) {
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    let a = source
    let b = Automerge.init<unknown>()
    let sa = Automerge.initSyncState()
    let sb = Automerge.initSyncState()
    for (let round = 0; ; round++) {
      let m1: Uint8Array | null
      let m2: Uint8Array | null
      ;[sa, m1] = Automerge.generateSyncMessage(a, sa)
      if (m1 !== null) [b, sb] = Automerge.receiveSyncMessage(b, sb, m1)
      ;[sb, m2] = Automerge.generateSyncMessage(b, sb)
      if (m2 !== null) [a, sa] = Automerge.receiveSyncMessage(a, sa, m2)
      if (m1 === null && m2 === null) break
      if (round > 100) throw new Error('baseline sync did not settle')
    }
    total += performance.now() - t0
    const c = process.cpuUsage(c0)
    cpu += (c.user + c.system) / 1000
    if (!sameHeads(Automerge.getHeads(a), Automerge.getHeads(b))) throw new Error('baseline sync did not converge')
  }
  return { ms: total, cpuMs: cpu }
}

/** Runs `fn` under the V8 CPU profiler and writes the profile to `file` (ORBIT_BENCH_LAN_PROFILE). */
async function profiled<T>(file: string, fn: () => T): Promise<T> {
  const inspector = new Session()
  inspector.connect()
  try {
    await inspector.post('Profiler.enable')
    await inspector.post('Profiler.start')
    const result = fn()
    const { profile } = await inspector.post('Profiler.stop')
    writeFileSync(file, JSON.stringify(profile))
    return result
  } finally {
    inspector.disconnect()
  }
}

/**
 * Two costs of the Repo path, measured alone on the same documents so the report says what they
 * weigh: the diff an unpatched automerge-repo DocHandle runs on every update to emit 'change' (for
 * a document that arrives whole: a diff from nothing, a patch per op; scripts/patch-deps.mjs makes
 * it lazy, so the measured sync no longer pays it — this value is what the patch saves), and the
 * receiver's store saving each new document compressed (`Automerge.save`), which it does pay.
 */
function breakdown(saved: readonly Uint8Array[], baselineMs: number): Values {
  const docs = saved.map((bytes) => Automerge.load<unknown>(bytes))
  let diffMs = 0
  let saveMs = 0
  for (const doc of docs) {
    const t0 = performance.now()
    Automerge.diff(doc, [], Automerge.getHeads(doc))
    const t1 = performance.now()
    Automerge.save(doc)
    saveMs += performance.now() - t1
    diffMs += t1 - t0
  }
  return {
    'initialSync.breakdown.repoDiffFromEmptyMs': r1(diffMs),
    'initialSync.breakdown.repoDiffShareOfBaseline': r3(diffMs / baselineMs),
    'initialSync.breakdown.receiverSaveMs': r1(saveMs),
    'initialSync.breakdown.receiverSaveShareOfBaseline': r3(saveMs / baselineMs),
  }
}

interface SyncRun extends CrmSyncRun {
  bytesAtoB: number
  bytesBtoA: number
  messages: number
  /** Bytes (both ways) and messages after the receiver was complete, until 1 s of quiet. */
  bytesAfter: number
  messagesAfter: number
}

/**
 * One initial sync into an empty receiver over the secure TCP channel (bench/crm-sync.ts), plus
 * what crossed the wire. Leaves both peers connected (returned) for the edit bench.
 */
async function initialSync(tmp: string, run: number, sender: Sender, aead: BenchAead, signal?: AbortSignal): Promise<{ run: SyncRun; a: TcpEnd; b: TcpEnd }> {
  const profile = run === 0 ? process.env.ORBIT_BENCH_LAN_PROFILE : undefined
  const { run: sync, a, b } = await syncIntoEmptyReceiver(tcpLink(sender, generateIdentity(), aead), sender, join(tmp, `receiver-${run}.sqlite`), {
    ...(profile ? { profile } : {}),
    ...(signal ? { signal } : {}),
  })
  try {
    const wire = wireBytes(a, b)
    const messages = a.traffic.length + b.traffic.length
    // What still crosses after the receiver is complete (late answers, duplicates).
    await quiet(a, b, 1000)
    const after = wireBytes(a, b)
    return {
      run: {
        ...sync,
        bytesAtoB: wire.aToB,
        bytesBtoA: wire.bToA,
        messages,
        bytesAfter: after.aToB + after.bToA - wire.aToB - wire.bToA,
        messagesAfter: a.traffic.length + b.traffic.length - messages,
      },
      a,
      b,
    }
  } catch (error) {
    await b.close()
    await a.close()
    throw error
  }
}

/**
 * Bytes on the wire each way (handshake, then frames: header, ciphertext, tag), read on the
 * receiving side: what has arrived, not what is still in flight.
 */
function wireBytes(a: TcpEnd, b: TcpEnd): { aToB: number; bToA: number } {
  return { aToB: b.tcp.traffic(a.identity.deviceId).bytesReceived, bToA: a.tcp.traffic(b.identity.deviceId).bytesReceived }
}

/** Waits until no message crossed either adapter for `quietMs`. */
async function quiet(a: TcpEnd, b: TcpEnd, quietMs: number): Promise<void> {
  let seen = -1
  let since = performance.now()
  for (;;) {
    const w = wireBytes(a, b)
    const n = a.traffic.length + b.traffic.length + w.aToB + w.bToA
    if (n !== seen) {
      seen = n
      since = performance.now()
    } else if (performance.now() - since >= quietMs) return
    await sleep(5)
  }
}

interface EditRun {
  bytesAtoB: number
  bytesBtoA: number
  legsUntilVisible: number
  legsTotal: number
  messagesTotal: number
  ms: number
  /** The messages in order of sending: `A>sync:473` ... */
  pattern: string
}

/** Network legs: maximal runs of consecutive messages in one direction, in order of sending. */
function legs(events: Array<{ side: 'A' | 'B'; direction: string }>): number {
  let n = 0
  let last: string | undefined
  for (const e of events) {
    if (e.direction !== 'sent') continue
    if (e.side !== last) n++
    last = e.side
  }
  return n
}

/** Edits one contact's title on A (a connected, synced peer) and watches it arrive at B. */
async function oneEdit(a: TcpEnd, b: TcpEnd, sender: Sender, i: number): Promise<EditRun> {
  const workspaceA = await CrmWorkspace.open(a.repo, sender.rootUrl)
  const workspaceB = await CrmWorkspace.open(b.repo, sender.rootUrl)
  try {
    const id = sender.contactIds[(i * 7919 + 13) % sender.contactIds.length]!
    const shard = workspaceB.shardOfContact(id as never)
    const handleB = await workspaceB.shardHandle(shard)
    await workspaceA.shardHandle(shard)
    await quiet(a, b, 1000)
    const title = `Bench title ${i} ${Date.now()}`
    const before = wireBytes(a, b)
    const from = a.traffic.length
    const fromB = b.traffic.length
    let visibleAt: number | undefined
    let visibleMark: { a: number; b: number } | undefined
    const onChange = ({ doc }: { doc: ContactShardDoc }): void => {
      if (visibleAt === undefined && doc.contacts[id]?.title === title) {
        visibleAt = performance.now()
        visibleMark = { a: a.traffic.length, b: b.traffic.length }
      }
    }
    handleB.on('change', onChange)
    const t0 = performance.now()
    await workspaceA.editContact(id, { title })
    await until(() => visibleAt !== undefined, 30_000, 'the edit to arrive')
    await quiet(a, b, 300)
    handleB.off('change', onChange)
    const all = [...a.traffic.slice(from), ...b.traffic.slice(fromB)].sort((x, y) => x.t - y.t)
    // B may answer a sync message before its handle emits 'change': what made the edit visible is
    // the last message B had received by then, so count the legs up to that message's arrival.
    const arrived = b.traffic.slice(fromB, visibleMark!.b).filter((e) => e.direction === 'received').at(-1)
    if (arrived === undefined) throw new Error('the edit became visible without a message')
    const untilVisible = all.filter((e) => e.t <= arrived.t)
    return {
      bytesAtoB: wireBytes(a, b).aToB - before.aToB,
      bytesBtoA: wireBytes(a, b).bToA - before.bToA,
      legsUntilVisible: legs(untilVisible),
      legsTotal: legs(all),
      messagesTotal: all.filter((e) => e.direction === 'sent').length,
      ms: visibleAt! - t0,
      pattern: all.filter((e) => e.direction === 'sent').map((e) => `${e.side}>${e.type}:${e.bytes}`).join(' '),
    }
  } finally {
    workspaceA.close()
    workspaceB.close()
  }
}

/**
 * What the link envelope (docs/protocol/link.md) adds per message, against the message's own
 * automerge-repo CBOR — what the pre-link dialect sent — for a sync message between these two
 * devices of the edit's size; and the hello against the old `join`. Exact sizes, not timings.
 */
function linkOverhead(a: TcpEnd, b: TcpEnd, documentId: string, dataBytes: number): Values {
  const message = {
    type: 'sync',
    senderId: a.identity.deviceId as unknown as PeerId,
    targetId: b.identity.deviceId as unknown as PeerId,
    documentId,
    data: new Uint8Array(dataBytes),
  } as unknown as Message
  const peerMetadata = { storageId: '3a6c3d0e-7c55-4d0f-9a1e-2f1c1f0d9b7a' as never, isEphemeral: false }
  const hello = encodeHello({ versions: [1], peerId: message.senderId, peerMetadata, features: [1, 2, 5] })
  const join = cbor.encode({ type: 'join', senderId: message.senderId, peerMetadata, supportedProtocolVersions: ['1'] })
  return {
    'link.syncMessageCborBytes': cbor.encode(message).length,
    'link.syncEnvelopeBytes': encodeSync(1, message).length,
    'link.bytesAddedPerSyncMessage': encodeSync(1, message).length - cbor.encode(message).length,
    'link.helloBytes': hello.length,
    'link.oldJoinBytes': join.length,
  }
}

/**
 * Runs the LAN bench and returns flat values (times in ms, bytes, ratios). Sizes and repeats:
 * ORBIT_BENCH_LAN_CONTACTS (default 10000), ORBIT_BENCH_LAN_RUNS (default 6, the first a warm-up), ORBIT_BENCH_LAN_AEAD
 * (`node` default, `noble` to compare), ORBIT_BENCH_LAN_DISCOVERY_RUNS (default 7, at least 5),
 * ORBIT_BENCH_LAN_DISCOVERY=0 (skip discovery), ORBIT_BENCH_LAN_UNPATCHED=0 (skip the re-run on
 * unpatched automerge-repo), ORBIT_BENCH_LAN_JSON=1 (standalone: print the values as one JSON line), ORBIT_BENCH_LAN_RECEIVER_FINDS=0 (the receiver asks
 * for nothing and takes what the sender announces), ORBIT_BENCH_LAN_PROFILE=FILE (V8 CPU profiles of
 * the first run's TCP sync → FILE and its baseline → FILE.baseline.cpuprofile).
 */
export async function runLanBench(opts: LanBenchOptions = {}): Promise<Values> {
  const log = opts.log ?? (() => undefined)
  const n = Number(process.env.ORBIT_BENCH_LAN_CONTACTS ?? 10_000)
  const runs = Math.max(1, Number(process.env.ORBIT_BENCH_LAN_RUNS ?? 6))
  const aead = process.env.ORBIT_BENCH_LAN_AEAD === 'noble' ? 'noble' : 'node'
  const values: Values = {}
  // Which automerge-repo this process runs: Orbit's edits are marked in its source.
  values.automergeRepoPatched = DocHandle.toString().includes('orbit-sync') ? 'yes' : 'no'
  const tmp = mkdtempSync(join(tmpdir(), 'orbit-bench-lan-'))
  try {
    log(`lan: building a ${n}-contact sender store ...`)
    const sender = await buildSender(tmp, n, log)
    values['initialSync.contacts'] = n
    values['initialSync.documents'] = sender.docUrls.length
    values['initialSync.aead'] = aead
    values['initialSync.documentBytes'] = sender.saved.reduce((s, b) => s + b.length, 0)

    const ours: SyncRun[] = []
    const theirs: Array<{ ms: number; cpuMs: number }> = []
    const edits: EditRun[] = []
    baselineSync(sender.saved) // warm-up
    for (let run = 0; run < runs; run++) {
      opts.signal?.throwIfAborted()
      const profile = run === 0 ? process.env.ORBIT_BENCH_LAN_PROFILE : undefined
      const baseline = async (): Promise<void> => {
        gc()
        theirs.push(profile ? await profiled(`${profile}.baseline.cpuprofile`, () => baselineSync(sender.saved)) : baselineSync(sender.saved))
      }
      // Alternate which goes first, so drift in the machine's load hits both alike.
      if (run % 2 === 0) await baseline()
      gc()
      const { run: r, a, b } = await initialSync(tmp, run, sender, aead, opts.signal)
      ours.push(r)
      // A sync message the size of one edit's (about 300 bytes of Automerge data).
      if (run === 0) Object.assign(values, linkOverhead(a, b, sender.docUrls[1]!.replace(/^automerge:/, ''), 300))
      if (run % 2 === 1) await baseline()
      try {
        // Edits on the link the last sync left up (the first run's link is warm enough too).
        for (let e = 0; e < (run === runs - 1 ? 5 : 1); e++) {
          const edit = await oneEdit(a, b, sender, run * 10 + e)
          edits.push(edit)
          log(`  edit: ${edit.bytesAtoB}+${edit.bytesBtoA} B on the wire, ${edit.legsUntilVisible} leg(s) until visible; messages: ${edit.pattern}`)
        }
      } finally {
        await b.close()
        await a.close()
        rmSync(join(tmp, `receiver-${run}.sqlite`), { force: true })
        rmSync(join(tmp, `receiver-${run}.sqlite-wal`), { force: true })
        rmSync(join(tmp, `receiver-${run}.sqlite-shm`), { force: true })
      }
      log(`  run ${run + 1}/${runs}: TCP sync ${r1(r.ms)} ms (to disk ${r1(r.msToDisk)} ms; then ${r.bytesAfter} B in ${r.messagesAfter} messages), Automerge loop ${r1(theirs.at(-1)!.ms)} ms (CPU ${r1(r.cpuMs)} vs ${r1(theirs.at(-1)!.cpuMs)} ms); edit ${edits.at(-1)!.bytesAtoB}+${edits.at(-1)!.bytesBtoA} B`)
    }
    // The first run of each is a warm-up: right after building the store both paths run slower
    // (the baseline up to 2× here), which would flatter whichever side it hurt more.
    if (runs > 1) {
      ours.shift()
      theirs.shift()
    }
    values['initialSync.runsCounted'] = ours.length
    const oursMs = median(ours.map((r) => r.ms))
    const theirMs = median(theirs.map((t) => t.ms))
    values['initialSync.tcpMs'] = r1(oursMs)
    values['initialSync.tcpToDiskMs'] = r1(median(ours.map((r) => r.msToDisk)))
    values['initialSync.automergeLoopMs'] = r1(theirMs)
    values['initialSync.ratio'] = r3(oursMs / theirMs)
    values['initialSync.tcpCpuMs'] = r1(median(ours.map((r) => r.cpuMs)))
    values['initialSync.automergeLoopCpuMs'] = r1(median(theirs.map((t) => t.cpuMs)))
    values['initialSync.cpuRatio'] = r3(median(ours.map((r) => r.cpuMs)) / median(theirs.map((t) => t.cpuMs)))
    values['initialSync.ratioToDisk'] = r3(median(ours.map((r) => r.msToDisk)) / theirMs)
    values['initialSync.wireBytesAtoB'] = median(ours.map((r) => r.bytesAtoB))
    values['initialSync.wireBytesBtoA'] = median(ours.map((r) => r.bytesBtoA))
    values['initialSync.repoMessages'] = median(ours.map((r) => r.messages))
    values['initialSync.wireBytesAfterCompleteMax'] = Math.max(...ours.map((r) => r.bytesAfter))
    values['initialSync.repoMessagesAfterCompleteMax'] = Math.max(...ours.map((r) => r.messagesAfter))

    Object.assign(values, breakdown(sender.saved, theirMs))

    values['edit.runs'] = edits.length
    values['edit.wireBytesAtoB'] = median(edits.map((e) => e.bytesAtoB))
    values['edit.wireBytesBtoA'] = median(edits.map((e) => e.bytesBtoA))
    values['edit.wireBytesTotal'] = median(edits.map((e) => e.bytesAtoB + e.bytesBtoA))
    values['edit.wireBytesTotalMax'] = Math.max(...edits.map((e) => e.bytesAtoB + e.bytesBtoA))
    values['edit.legsUntilVisible'] = Math.max(...edits.map((e) => e.legsUntilVisible))
    values['edit.roundTripsUntilVisible'] = Math.max(...edits.map((e) => e.legsUntilVisible)) / 2
    values['edit.legsUntilQuiet'] = Math.max(...edits.map((e) => e.legsTotal))
    values['edit.messagesUntilQuiet'] = median(edits.map((e) => e.messagesTotal))
    values['edit.visibleMs'] = r1(median(edits.map((e) => e.ms)))
    values['edit.messages'] = edits.at(-1)!.pattern

    opts.signal?.throwIfAborted()
    if (process.env.ORBIT_BENCH_LAN_DISCOVERY === '0') values['discovery.skipped'] = 'ORBIT_BENCH_LAN_DISCOVERY=0'
    else Object.assign(values, await runDiscoveryBench({ log, ...(opts.signal ? { signal: opts.signal } : {}) }))
    return values
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
}

/** Issue 3's bars checked against the values of {@link runLanBench}. */
export function lanBars(values: Values): BarCheck[] {
  const bars: BarCheck[] = []
  const num = (k: string): number | undefined => (typeof values[k] === 'number' ? (values[k] as number) : undefined)
  const ratio = num('initialSync.ratio')
  if (ratio !== undefined) bars.push({ metric: 'LAN initial sync 10k vs Automerge sync loop', value: ratio, unit: '×', bar: '≤ 1.3', pass: ratio <= 1.3 })
  const bytes = num('edit.wireBytesTotalMax')
  if (bytes !== undefined) bars.push({ metric: 'LAN one edit on the wire (both ways)', value: bytes, unit: 'B', bar: '≤ 1024', pass: bytes <= 1024 })
  const trips = num('edit.roundTripsUntilVisible')
  if (trips !== undefined) bars.push({ metric: 'LAN one edit visible after', value: trips, unit: 'round trips', bar: '≤ 2', pass: trips <= 2 })
  const discovery = num('discovery.medianMs')
  if (discovery !== undefined) bars.push({ metric: 'mDNS discovery on a namespace LAN (median)', value: discovery, unit: 'ms', bar: '≤ 1000', pass: discovery <= 1000 })
  return bars
}

/** For bench/main.ts's BENCH_MODULES. */
/**
 * The initial sync and the one edit again, on automerge-repo without Orbit's edits (README,
 * "Patched dependencies"): this bench re-run in a child from a copy of dist/ whose modules resolve
 * an unpatched automerge-repo (scripts/patch-deps.mjs `unpatchedCopy`). Its values come back
 * prefixed `unpatched.`; `unpatched.automergeRepoPatched` says which code the child really ran.
 */
export async function runUnpatchedLanBench(log: (line: string) => void): Promise<Values> {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
  const dir = join(root, 'dist', 'unpatched-bench')
  const { unpatchedCopy } = (await import(pathToFileURL(join(root, 'scripts', 'patch-deps.mjs')).href)) as { unpatchedCopy: (pkg: string, root: string, dir: string) => string }
  rmSync(dir, { recursive: true, force: true })
  try {
    unpatchedCopy('@automerge/automerge-repo', root, dir)
    for (const part of ['src', 'bench']) cpSync(join(root, 'dist', part), join(dir, 'dist', part), { recursive: true })
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'orbit-unpatched-bench', private: true, type: 'module' }))
    log('lan: the same initial sync and edit on unpatched automerge-repo (a child) ...')
    const out = await new Promise<string>((resolve, reject) => {
      // Node's flags (--expose-gc), not an -e script a caller ran this from.
      const flags = process.execArgv.filter((a) => a.startsWith('--expose-gc') || a.startsWith('--max-old-space-size'))
      const child = spawn(process.execPath, [...flags, join(dir, 'dist', 'bench', 'lan.js')], {
        cwd: dir,
        env: { ...process.env, ORBIT_BENCH_LAN_DISCOVERY: '0', ORBIT_BENCH_LAN_UNPATCHED: '0', ORBIT_BENCH_LAN_JSON: '1' },
        stdio: ['ignore', 'pipe', 'inherit'],
      })
      let text = ''
      child.stdout.on('data', (b: Buffer) => (text += b.toString()))
      child.on('error', reject)
      child.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`the unpatched LAN bench exited with ${code}`))))
    })
    const theirs = JSON.parse(out.trim().split('\n').pop()!) as Values
    const values: Values = {}
    for (const [k, v] of Object.entries(theirs)) if (k.startsWith('initialSync.') || k.startsWith('edit.') || k === 'automergeRepoPatched') values[`unpatched.${k}`] = v
    return values
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export const lanBench: BenchModule = {
  name: 'lan (issue 3): initial sync, one edit, discovery',
  async run(progress): Promise<BenchOutcome> {
    const values = await runLanBench({ log: progress })
    if (process.env.ORBIT_BENCH_LAN_UNPATCHED !== '0') Object.assign(values, await runUnpatchedLanBench(progress))
    return { values, bars: lanBars(values) }
  },
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = performance.now()
  const values = await runLanBench({ log: (line) => process.stderr.write(`[lan ${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`) })
  if (process.env.ORBIT_BENCH_LAN_JSON === '1') {
    process.stdout.write(`${JSON.stringify(values)}\n`)
    process.exit(0)
  }
  const width = Math.max(...Object.keys(values).map((k) => k.length))
  for (const [k, v] of Object.entries(values)) process.stdout.write(`${k.padEnd(width)}  ${v}\n`)
  for (const b of lanBars(values)) process.stdout.write(`bar: ${b.metric}: ${b.value} ${b.unit} (${b.bar}) ${b.pass ? 'PASS' : 'FAIL'}\n`)
  process.exit(0)
}

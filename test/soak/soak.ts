/**
 * The chaos soak of real daemons (issue 14 §1, docs/soak.md): `devices` real `orbit serve` child
 * processes, each in its own network namespace on a two-LAN network (topology.ts), CLI writers
 * (real `orbit contact add/edit/note/remove` child processes, some with `--logo`) on every device,
 * and a seeded fault schedule: link cuts, a share of packets dropped, SIGKILL of a daemon (just
 * after a write elsewhere was acknowledged, so mid-sync) and its restart, a device moved to the
 * other LAN and back. Then the network is healed and the soak waits (a bound, not a timed
 * assertion) until every device converges, and checks: no acknowledged edit lost (an edit is
 * acknowledged when its CLI exited 0), every store opens, every listing equals its CRDT, every
 * referenced blob present and its bytes hash to its name.
 *
 * The schedule is a pure function of the seed and the options: the same `--seed` replays it.
 * What the writers manage to do depends on timing (a write on a contact that has not arrived yet
 * fails, and is then not acknowledged), so only the schedule replays exactly.
 */
import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import * as A from '@automerge/automerge'
import { ContactIndex, openOrbitDatabase } from '../../src/adapters/storage-sqlite/index.js'
import { blobsPath, storePath } from '../../src/apps/node/data-dir.js'
import { openDevice } from '../../src/apps/node/device.js'
import type { BlobStatus } from '../../src/apps/node/api.js'
import { readContact } from '../../src/core/model/records.js'
import type { Contact, ContactShardDoc } from '../../src/core/model/types.js'
import { syntheticPng } from '../../bench/synthetic-png.js'
import { orbit, ServeProcess, type Spawner } from '../daemon/helpers.js'
import { createNatTopology, type NatTopology } from '../helpers/nat.js'
import { WEBRTC_CONFIG_KEYS } from '../../src/apps/node/webrtc-config.js'
import { Prng } from '../helpers/prng.js'
import { members } from './members.js'
import { SoakNetwork } from './topology.js'

/** What a soak run does. */
export interface SoakOptions {
  /** Length of the fault phase (writers and faults), in minutes. */
  minutes: number
  seed: number
  /** Daemons on the namespace LANs (3–5). */
  devices: number
  /**
   * Two more daemons, each in a home behind its own NAT (test/helpers/nat.ts), that reach the
   * LANs only through device 0's public address and link each other over WebRTC, signalled
   * through device 0 (docs/protocol/mesh.md). Default false.
   */
  webrtc?: boolean
  /** How long to wait for convergence after the last fault before failing. Default 120 s. */
  convergeDeadlineMs?: number
  /** Progress and the schedule go here. Default: stderr. */
  log?: (line: string) => void
}

/** The fault kinds the scheduler injects. */
export type FaultKind = 'cut' | 'drop' | 'kill' | 'move'

/** One scheduled fault: starts `at` ms into the run, on `device`, undone `forMs` later. */
export interface Fault {
  at: number
  kind: FaultKind
  device: number
  forMs: number
  /** `drop`: the share of packets dropped. */
  probability?: number
}

/** The soak's report (docs/soak.md, "Reading the summary"). */
export interface SoakSummary {
  seed: number
  /** Daemons in all (LAN devices, plus the two NAT homes with `webrtc`). */
  devices: number
  /** With `webrtc`: whether the two NAT homes were linked over WebRTC after the soak (`orbit peers`). */
  webrtcLinked?: boolean
  minutes: number
  faults: Record<FaultKind, number>
  /** Scheduled faults not injected: their device was still busy (a slow restart) when the writers stopped. */
  faultsSkipped: number
  /** CLI writes that exited 0, by kind. */
  acknowledged: Record<WriteKind, number>
  acknowledgedTotal: number
  /** CLI writes that did not exit 0 (not acknowledged; allowed), by error code. */
  refused: Record<string, number>
  /** The first message of each refused code, to tell an expected refusal from a product bug. */
  refusedSample: Record<string, string>
  /** Acknowledged edits missing on some device after convergence (must be 0). */
  lost: string[]
  /** Whether every device converged before the deadline. */
  converged: boolean
  /** From the end of the last fault (network healed) until every device showed the same, complete state. */
  convergeMs: number
  /** Peak resident set (VmHWM) per device, over all its daemon processes, in MB. */
  peakRssMb: number[]
  /** Daemon restarts after a SIGKILL. */
  restarts: number
  /** Contacts (incl. removed) and referenced logos at the end. */
  contacts: number
  logos: number
  /** Everything the final checks found wrong (must be empty). */
  problems: string[]
  wallMs: number
}

type WriteKind = 'add' | 'add-logo' | 'tag' | 'note' | 'title' | 'logo' | 'remove'

/** An acknowledged write and what it must leave on every device. */
interface Ack {
  kind: WriteKind
  device: number
  contactId: string
  /** `tag`: the tag added; `note`: the note id; `logo`/`add-logo`: the blob hash. */
  token?: string
}

const PORT = 7430
/** Device 0's public address (and its gateway, in the NAT topology's public namespace) with `webrtc`. */
const UPLINK = { device: '172.31.73.2', gateway: '172.31.73.1' }
const FAULT_KINDS: readonly FaultKind[] = ['cut', 'drop', 'kill', 'move']
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

/**
 * The fault schedule of a run: a pure function of seed, devices and length. Faults start between
 * 3 s and the end of the fault phase, each on a device that has no fault in force then, and each
 * is over before the phase ends. Moves need a third device (two stay on LAN 0).
 */
export function faultSchedule(seed: number, devices: number, minutes: number, external = 0): Fault[] {
  const prng = new Prng(seed)
  const end = Math.round(minutes * 60_000)
  const busyUntil = new Array<number>(devices + external).fill(0)
  const faults: Fault[] = []
  // Roughly one fault start every 2–5 s per three devices.
  for (let at = 3000; ; ) {
    at += Math.round(prng.int(2000, 5000) * (3 / (devices + external)))
    const kind = prng.pick(devices >= 3 ? FAULT_KINDS : FAULT_KINDS.filter((k) => k !== 'move'))
    const forMs = kind === 'kill' ? prng.int(500, 4000) : kind === 'cut' ? prng.int(2000, 8000) : prng.int(4000, 12_000)
    if (at + forMs > end - 1000) break
    const free = [...busyUntil.keys()].filter((d) => busyUntil[d]! < at)
    // At most one device off LAN 0 at a time would make moves dull; at most devices-2 keeps LAN 0 alive.
    // NAT homes (indices from `devices` on) cannot move; they lose packets, are cut and killed.
    const candidates = kind === 'move' ? free.filter((d) => d < devices && faults.filter((f) => f.kind === 'move' && f.at + f.forMs > at).length < devices - 2) : free
    if (candidates.length === 0) continue
    const device = prng.pick(candidates)
    const fault: Fault = { at, kind, device, forMs }
    if (kind === 'drop') fault.probability = Math.round(prng.int(10, 40)) / 100
    faults.push(fault)
    busyUntil[device] = at + forMs + 500
  }
  return faults
}

/** One line per fault, for the log and the report: `+12.3s kill d1 for 2.1s`. */
export function describeFault(f: Fault): string {
  const extra = f.probability !== undefined ? ` p=${f.probability}` : ''
  return `+${(f.at / 1000).toFixed(1)}s ${f.kind} d${f.device} for ${(f.forMs / 1000).toFixed(1)}s${extra}`
}

/** Peak resident set of a live process (VmHWM), in kB, or 0 when it is gone. */
function vmHwmKb(pid: number | undefined): number {
  if (pid === undefined) return 0
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) : 0
  } catch {
    return 0
  }
}

/** Runs one soak; resolves with its summary (the caller asserts on it). Cleans up everything it made. */
export async function runSoak(options: SoakOptions): Promise<SoakSummary> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`))
  const started = Date.now()
  const elapsed = (): string => `${((Date.now() - started) / 1000).toFixed(1)}s`
  const lanDevices = options.devices
  const homes = options.webrtc === true ? 2 : 0
  const n = lanDevices + homes
  const schedule = faultSchedule(options.seed, lanDevices, options.minutes, homes)
  log(
    `soak: seed ${options.seed}, ${lanDevices} LAN devices${homes ? ' + a WebRTC pair behind NATs' : ''}, ${options.minutes} min; ` +
      `replay with --seed ${options.seed} --devices ${lanDevices} --minutes ${options.minutes}${homes ? ' --webrtc' : ''}`,
  )
  log(`soak: fault schedule (${schedule.length}):\n${schedule.map((f) => `  ${describeFault(f)}`).join('\n')}`)

  const root = mkdtempSync(join(tmpdir(), 'orbit-soak-'))
  const net = await SoakNetwork.create(lanDevices)
  let nat: NatTopology | undefined
  const daemons: Array<ServeProcess | undefined> = new Array(n).fill(undefined)
  const peakKb = new Array<number>(n).fill(0)
  const problems: string[] = []
  let restarts = 0
  let sampler: ReturnType<typeof setInterval> | undefined
  try {
    if (homes > 0) {
      nat = await createNatTopology()
      // Device 0 gets a public address next to coturn: the homes reach it through their NATs.
      await net.addUplink(0, nat.publicNs, 'soak0', UPLINK.device, UPLINK.gateway, '172.31.0.0/16')
      net.addExternal(nat.a.ns, nat.a.ip)
      net.addExternal(nat.b.ns, nat.b.ip)
    }
    const stun = nat?.stunSpec
    const { dirs, ids } = await members(root, n, (i) => (i >= lanDevices && stun !== undefined ? { [WEBRTC_CONFIG_KEYS.iceServers]: [stun] } : {}))
    const spawnerOf =
      (i: number): Spawner =>
      (cmd, args, spawnOptions) =>
        net.spawnIn(i, cmd, args, spawnOptions)
    const sample = (): void => {
      daemons.forEach((d, i) => {
        peakKb[i] = Math.max(peakKb[i]!, vmHwmKb(d?.child.pid))
      })
    }
    sampler = setInterval(sample, 1000)
    const start = async (i: number): Promise<void> => {
      // 0.0.0.0: the address changes when the device moves LANs; mDNS follows the interfaces.
      // A NAT home has no LAN to browse: it knows device 0's public address.
      const args = i < lanDevices ? ['--listen', `0.0.0.0:${PORT}`] : ['--listen', `${net.devices[i]!.ip}:${PORT}`, '--no-mdns']
      const d = new ServeProcess(dirs[i]!, [...args, '--no-http'], spawnerOf(i))
      daemons[i] = d
      await d.ready
    }
    await Promise.all(dirs.map((_, i) => start(i)))
    log(`soak ${elapsed()}: ${n} daemons ready`)
    const cli = (i: number, args: string[]) => orbit(['--data', dirs[i]!, '--json', ...args], { timeoutMs: 60_000 })
    for (let i = lanDevices; i < n; i++) {
      // Each home syncs once with device 0 through its daemon, which keeps the link and, through
      // device 0's mesh signalling, links the other home over WebRTC by itself.
      for (let attempt = 1; ; attempt++) {
        const r = await cli(i, ['sync', `${UPLINK.device}:${PORT}`])
        if (r.code === 0) break
        if (attempt === 5) throw new Error(`home d${i} could not sync with d0 at ${UPLINK.device}:${PORT}: ${r.stderr}`)
        await sleep(2000)
      }
    }
    // The schedule's clock starts now, with every daemon up.
    const phaseStart = Date.now()

    // ---- logos the writers use (small PNGs, a few distinct ones) ----
    const logoFiles = Array.from({ length: 6 }, (_, k) => {
      const file = join(root, `logo${k}.png`)
      writeFileSync(file, syntheticPng(20_000 + k * 7_000, 100 + k))
      return file
    })

    // ---- writers ----
    const acks: Ack[] = []
    const refused: Record<string, number> = {}
    const refusedSample: Record<string, string> = {}
    const live: string[] = [] // acknowledged contacts not (acknowledgedly) removed
    let lastAck = { at: 0, device: -1 }
    const phaseEnd = phaseStart + Math.round(options.minutes * 60_000)
    let writing = true
    const writer = async (i: number): Promise<void> => {
      const prng = new Prng((options.seed ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0)
      let k = 0
      while (writing && Date.now() < phaseEnd) {
        k++
        const roll = prng.next()
        const target = live.length > 0 ? prng.pick(live) : undefined
        let kind: WriteKind
        let args: string[]
        let token: string | undefined
        if (target === undefined || roll < 0.25) {
          const withLogo = prng.chance(0.25)
          kind = withLogo ? 'add-logo' : 'add'
          args = ['contact', 'add', '--name', `W${i} ${prng.word()} ${k}`, '--email', `w${i}.${k}@example.com`]
          if (withLogo) args.push('--logo', prng.pick(logoFiles))
        } else if (roll < 0.6) {
          kind = 'tag'
          token = `w${i}-${k}`
          args = ['contact', 'edit', target, '--add-tag', token]
        } else if (roll < 0.75) {
          kind = 'note'
          args = ['contact', 'note', target, '--body', `note ${i}.${k} ${prng.word()}`]
        } else if (roll < 0.87) {
          kind = 'title'
          args = ['contact', 'edit', target, '--title', `Title ${i}.${k}`]
        } else if (roll < 0.95) {
          kind = 'logo'
          args = ['contact', 'edit', target, '--logo', prng.pick(logoFiles)]
        } else {
          kind = 'remove'
          args = ['contact', 'remove', target]
        }
        const r = await cli(i, args).catch((error: unknown) => ({ code: -1, stdout: '', stderr: String(error) }))
        if (r.code === 0) {
          const out = JSON.parse(r.stdout) as { id?: string; logo?: string }
          const contactId = kind === 'add' || kind === 'add-logo' ? out.id! : target!
          if (kind === 'note') token = out.id
          if (kind === 'logo' || kind === 'add-logo') token = out.logo
          acks.push({ kind, device: i, contactId, ...(token !== undefined ? { token } : {}) })
          if (kind === 'add' || kind === 'add-logo') live.push(contactId)
          if (kind === 'remove') live.splice(live.indexOf(contactId), 1)
          lastAck = { at: Date.now(), device: i }
        } else {
          const code = /"code":"([A-Z_]+)"/.exec(r.stderr)?.[1] ?? `exit ${r.code}`
          refused[code] = (refused[code] ?? 0) + 1
          refusedSample[code] ??= `${args.slice(0, 2).join(' ')}: ${r.stderr.trim().split('\n').at(-1) ?? ''}`.slice(0, 300)
        }
        await sleep(prng.int(200, 1500))
      }
    }

    // ---- faults ----
    const faultCounts: Record<FaultKind, number> = { cut: 0, drop: 0, kill: 0, move: 0 }
    let lastFaultEnd = Date.now()
    let skipped = 0
    // One fault at a time per device: a fault waits until the previous one on its device is over
    // (a restarted daemon ready), so a slow restart delays the next fault instead of killing a
    // daemon that is still starting.
    const deviceFree: Array<Promise<void>> = dirs.map(() => Promise.resolve())
    const inject = (f: Fault): Promise<void> => {
      const done = deviceFree[f.device]!.then(() => injectNow(f))
      deviceFree[f.device] = done.catch(() => undefined)
      return done
    }
    const injectNow = async (f: Fault): Promise<void> => {
      await sleep(Math.max(0, phaseStart + f.at - Date.now()))
      // On a loaded machine restarts are slow and faults queue up behind them: one that could not
      // start before the writers stop is skipped (and counted), not injected into an idle network.
      if (Date.now() > phaseEnd - f.forMs) {
        skipped++
        log(`soak ${elapsed()}: skipped (its device was busy until the end): ${describeFault(f)}`)
        return
      }
      log(`soak ${elapsed()}: ${describeFault(f)}`)
      faultCounts[f.kind]++
      if (f.kind === 'cut') {
        await net.cut(f.device)
        await sleep(f.forMs)
        await net.restore(f.device)
      } else if (f.kind === 'drop') {
        await net.setDrop(f.device, f.probability!)
        await sleep(f.forMs)
        await net.clearDrop(f.device)
      } else if (f.kind === 'move') {
        await net.move(f.device, 1)
        await sleep(f.forMs)
        await net.move(f.device, 0)
      } else {
        // Mid-sync: just after a write on another device was acknowledged (its daemon is
        // announcing it to the others), up to 3 s of waiting for one.
        const since = Date.now()
        while (Date.now() - since < 3000 && !(lastAck.device !== f.device && Date.now() - lastAck.at < 150)) await sleep(25)
        const d = daemons[f.device]!
        d.child.kill('SIGKILL')
        await d.exited
        await sleep(f.forMs)
        try {
          await start(f.device)
        } catch (error) {
          problems.push(`d${f.device} did not restart after a SIGKILL: ${String(error)}`)
          await sleep(2000)
          await start(f.device)
        }
        restarts++
      }
      lastFaultEnd = Math.max(lastFaultEnd, Date.now())
    }
    const writers = dirs.map((_, i) => writer(i))
    await Promise.all(schedule.map((f) => inject(f)))
    writing = false
    await Promise.all(writers)
    await net.heal()
    lastFaultEnd = Math.max(lastFaultEnd, Date.now())
    log(`soak ${elapsed()}: faults over, network healed; ${acks.length} writes acknowledged; waiting for convergence`)

    // ---- convergence: every device's listing the same and holding every acknowledged edit ----
    const listing = (i: number): Contact[] => {
      const db = openOrbitDatabase(storePath(dirs[i]!), { create: false, readonly: true })
      try {
        return new ContactIndex(db).page({ includeDeleted: true, limit: 1_000_000 })
      } finally {
        db.close()
      }
    }
    const missingOn = (contacts: Contact[]): string[] => {
      const byId = new Map<string, Contact>(contacts.map((c) => [c.id, c]))
      const out: string[] = []
      for (const a of acks) {
        const c = byId.get(a.contactId)
        const what = `${a.kind} by d${a.device} on ${a.contactId}${a.token ? ` (${a.token})` : ''}`
        if (c === undefined) out.push(what)
        else if (a.kind === 'tag' && c.tags[a.token!] !== true) out.push(what)
        else if (a.kind === 'note' && c.notes[a.token!] === undefined) out.push(what)
        else if (a.kind === 'remove' && c.deletedAt === undefined) out.push(what)
      }
      return out
    }
    const logosOf = (contacts: Contact[]): string[] => [...new Set(contacts.flatMap((c) => (c.logo === undefined ? [] : [String(c.logo)])))]
    const blobOk = (i: number, hash: string): boolean => {
      const file = join(blobsPath(dirs[i]!), hash.slice(0, 2), hash)
      return existsSync(file) && sha(readFileSync(file)) === hash
    }
    const deadline = options.convergeDeadlineMs ?? 120_000
    let converged = false
    let lists: Contact[][] = []
    for (;;) {
      lists = dirs.map((_, i) => listing(i))
      const same = lists.every((l) => isDeepStrictEqual(l, lists[0]))
      if (same && missingOn(lists[0]!).length === 0 && dirs.every((_, i) => logosOf(lists[0]!).every((h) => blobOk(i, h)))) {
        converged = true
        break
      }
      if (Date.now() - lastFaultEnd > deadline) break
      await sleep(500)
    }
    const convergeMs = Date.now() - lastFaultEnd
    log(`soak ${elapsed()}: ${converged ? `converged ${(convergeMs / 1000).toFixed(1)} s after the last fault` : `NOT converged after ${(convergeMs / 1000).toFixed(1)} s`}`)
    const lost = new Set<string>()
    lists.forEach((l, i) => missingOn(l).forEach((m) => lost.add(`d${i}: ${m}`)))
    if (!converged) {
      lists.forEach((l, i) => {
        if (!isDeepStrictEqual(l, lists[0])) problems.push(`d${i}'s listing differs from d0's (${l.length} vs ${lists[0]!.length} contacts)`)
      })
    }

    // ---- the WebRTC pair: the homes linked to each other over WebRTC (not only through d0) ----
    let webrtcLinked: boolean | undefined
    if (homes > 0) {
      const linked = async (): Promise<boolean> => {
        const r = await cli(lanDevices, ['peers'])
        if (r.code !== 0) return false
        const peers = (JSON.parse(r.stdout) as { peers: Array<{ deviceId: string; connected: boolean; link?: string }> }).peers
        return peers.some((p) => p.deviceId === ids[lanDevices + 1] && p.connected && p.link === 'webrtc')
      }
      const until = Date.now() + 90_000
      while (!(webrtcLinked = await linked()) && Date.now() < until) await sleep(1000)
      log(`soak ${elapsed()}: the NAT homes ${webrtcLinked ? 'are' : 'are NOT'} linked over WebRTC`)
      if (!webrtcLinked) problems.push('the two NAT homes did not link over WebRTC within 90 s of convergence')
    }

    // ---- the final checks, daemons running: every referenced blob present (the product says so) ----
    for (let i = 0; i < n; i++) {
      const r = await cli(i, ['blobs'])
      if (r.code !== 0) {
        problems.push(`d${i}: orbit blobs exited ${r.code}: ${r.stderr.trim()}`)
        continue
      }
      const s = JSON.parse(r.stdout) as BlobStatus
      if (s.missing !== 0 || s.present !== s.referenced) problems.push(`d${i}: orbit blobs: ${s.present}/${s.referenced} present, ${s.missing} missing`)
      for (const h of logosOf(lists[i]!)) if (!blobOk(i, h)) problems.push(`d${i}: blob ${h} absent or its bytes do not hash to its name`)
    }

    // ---- daemons stopped: every store opens, every listing equals its CRDT, every replica equal ----
    sample()
    for (const [i, d] of daemons.entries()) {
      const code = await d!.stop()
      if (code !== 0) problems.push(`d${i}: orbit serve exited ${code} on SIGTERM: ${d!.stderr.trim().split('\n').slice(-30).join(' | ').slice(0, 3000)}`)
    }
    const stopped = dirs.map((_, i) => listing(i))
    let reference: { heads: string[][]; state: unknown[] } | undefined
    for (let i = 0; i < n; i++) {
      const r = await cli(i, ['status'])
      if (r.code !== 0) problems.push(`d${i}: orbit status exited ${r.code}: ${r.stderr.trim()}`)
      const device = await openDevice(dirs[i]!)
      try {
        const docs = (await device.workspace.allHandles()).map((h) => h.doc() as A.Doc<unknown>)
        const mine = { heads: docs.map((doc) => [...A.getHeads(doc)].sort()), state: docs.map((doc) => A.toJS(doc)) }
        if (reference === undefined) reference = mine
        else if (!isDeepStrictEqual(mine.heads, reference.heads)) problems.push(`d${i}'s document heads differ from d0's`)
        else if (!isDeepStrictEqual(mine.state, reference.state)) problems.push(`d${i}: same heads as d0 but different contents`)
        // The listing the daemon left (read before this open could re-project) equals the CRDT's contacts.
        const truth = new Map<string, Contact>()
        for (const doc of docs.slice(1)) for (const [id, raw] of Object.entries((A.toJS(doc) as ContactShardDoc).contacts)) truth.set(id, readContact(raw))
        const listed = new Map<string, Contact>(stopped[i]!.map((c) => [c.id, c]))
        if (listed.size !== truth.size) problems.push(`d${i} lists ${listed.size} contacts, its documents hold ${truth.size}`)
        for (const [id, c] of truth) if (!isDeepStrictEqual(listed.get(id), c)) problems.push(`d${i} lists ${id} as ${JSON.stringify(listed.get(id))}, its document holds ${JSON.stringify(c)}`)
      } finally {
        await device.close()
      }
    }
    stopped.forEach((l, i) => missingOn(l).forEach((m) => lost.add(`d${i} (stopped): ${m}`)))

    // A refusal is a typed error; a write that hung until the harness killed it, or crashed, is not.
    for (const [code, count] of Object.entries(refused)) {
      if (code.startsWith('exit ')) problems.push(`${count} write(s) ended with no typed error (${code}): ${refusedSample[code] ?? ''}`)
    }
    const acknowledged: Record<WriteKind, number> = { add: 0, 'add-logo': 0, tag: 0, note: 0, title: 0, logo: 0, remove: 0 }
    for (const a of acks) acknowledged[a.kind]++
    const summary: SoakSummary = {
      seed: options.seed,
      devices: n,
      ...(webrtcLinked !== undefined ? { webrtcLinked } : {}),
      minutes: options.minutes,
      faults: faultCounts,
      faultsSkipped: skipped,
      acknowledged,
      acknowledgedTotal: acks.length,
      refused,
      refusedSample,
      lost: [...lost],
      converged,
      convergeMs,
      peakRssMb: peakKb.map((kb) => Math.round(kb / 102.4) / 10),
      restarts,
      contacts: stopped[0]!.length,
      logos: logosOf(stopped[0]!).length,
      problems,
      wallMs: Date.now() - started,
    }
    log(`soak summary: ${JSON.stringify(summary, null, 2)}`)
    return summary
  } finally {
    if (sampler !== undefined) clearInterval(sampler)
    await Promise.all(daemons.map((d) => d?.kill()))
    await net.destroy()
    await nat?.destroy()
    rmSync(root, { recursive: true, force: true })
  }
}

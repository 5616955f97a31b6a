/**
 * The orchestrator's decision logic (src/core/engine/orchestrator.ts): the plan per device, the
 * choice, fallback with skips, hysteresis, and the background loop's backoff and pokes.
 *
 * These are unit tests of decisions, so the tiers here are FAKE tiers (in-memory: which devices
 * "answer" is a set the test flips) and time is vitest's fake clock — the virtual clock makes the
 * backoff schedule exact; nothing here measures real time. The real thing (two `orbit serve`
 * processes on loopback, a daemon redialling by itself) is daemon-redial.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { HandshakeError, WireError } from '../../src/core/errors.js'
import type { DeviceId } from '../../src/core/ids.js'
import { Orchestrator, type LinkingTier } from '../../src/core/engine/orchestrator.js'
import type { SyncReport } from '../../src/core/engine/sync-session.js'
import { tierPriority, type Reachability, type Tier, type TierSessionOptions } from '../../src/core/engine/tier.js'
import type { SyncMethod } from '../../src/core/sync/types.js'

const B = 'device-b' as DeviceId
const C = 'device-c' as DeviceId
const STRANGER = 'device-x' as DeviceId

function report(method: SyncMethod, deviceId: DeviceId, status: 'completed' | 'error' = 'completed'): SyncReport {
  return {
    method,
    status,
    peer: { deviceId },
    changesSent: 1,
    changesReceived: 2,
    bytesSent: 10,
    bytesReceived: 20,
    durationMs: 5,
    documents: 3,
    ...(status === 'error' ? { error: { name: 'WireError', code: 'TIMEOUT', message: 'not in sync' } } : {}),
  }
}

/** A fake tier: `route` says what reach() answers, `answering` which devices a dial reaches. */
class FakeTier implements Tier, LinkingTier {
  readonly priority: number
  readonly route = new Map<DeviceId, string>()
  readonly answering = new Set<DeviceId>()
  readonly links = new Set<DeviceId>()
  readonly connects: Array<{ id: DeviceId; at: number }> = []
  readonly sessions: DeviceId[] = []
  failSession = false
  /** When set, connect() throws it (the device answered but refused us, say). */
  connectError: Error | undefined
  /** When set, connect() waits for it (an attempt held in flight). */
  gate: Promise<void> | undefined
  routesListener: (() => void) | undefined

  constructor(
    readonly method: SyncMethod,
    readonly unrouted: Reachability & { ok: false } = { ok: false, reason: 'no-address', detail: 'no address known' },
    readonly linking = true,
  ) {
    this.priority = tierPriority(method)
    if (!linking) {
      // A tier without kept links (QR): the orchestrator must not find connect/isConnected.
      ;(this as { connect?: unknown }).connect = undefined
      ;(this as { isConnected?: unknown }).isConnected = undefined
    }
  }

  reach(id: DeviceId): Reachability {
    if (this.links.has(id)) return { ok: true, via: 'connected' }
    const via = this.route.get(id)
    return via === undefined ? this.unrouted : { ok: true, via }
  }

  async connect(id: DeviceId): Promise<boolean> {
    this.connects.push({ id, at: Date.now() })
    await (this.gate ?? Promise.resolve())
    if (this.connectError !== undefined) throw this.connectError
    if (!this.answering.has(id)) return false
    this.links.add(id)
    return true
  }

  isConnected(id: DeviceId): boolean {
    return this.links.has(id)
  }

  onRoutesChanged(listener: () => void): () => void {
    this.routesListener = listener
    return () => (this.routesListener = undefined)
  }

  async session(id: DeviceId, _o?: TierSessionOptions): Promise<SyncReport> {
    this.sessions.push(id)
    if (!this.links.has(id) && !this.answering.has(id)) {
      if (this.unrouted.reason === 'needs-code' && !this.route.has(id)) throw new WireError(this.unrouted.detail, { code: 'NEEDS_CODE' })
      throw new WireError(`${id} does not answer`, { code: 'UNREACHABLE' })
    }
    this.links.add(id)
    return report(this.method, id, this.failSession ? 'error' : 'completed')
  }

  async close(): Promise<void> {}
}

function setup(members: DeviceId[] = [B, C]) {
  const lan = new FakeTier('local-network')
  const webrtc = new FakeTier('webrtc', { ok: false, reason: 'needs-code', detail: 'carry an offer (`orbit webrtc offer`)' })
  const qr = new FakeTier('qr-code', { ok: false, reason: 'needs-code', detail: 'carry QR frames' }, false)
  const reports: SyncReport[] = []
  // Given out of order: the orchestrator sorts by priority.
  const orch = new Orchestrator({ tiers: [qr, webrtc, lan], members: () => members, backoff: { baseMs: 100, capMs: 1600 }, random: () => 1, sweepMs: 1000, onReport: (r) => reports.push(r) })
  return { lan, webrtc, qr, orch, reports }
}

describe('plan: the options by priority and the choice', () => {
  it('LAN when it knows an address; the others say why not', () => {
    const { lan, orch } = setup()
    lan.route.set(B, '10.0.0.2:7420')
    const plan = orch.plan(B)
    expect(plan.options.map((o) => o.method)).toEqual(['local-network', 'webrtc', 'qr-code'])
    expect(plan.options[0]).toEqual({ method: 'local-network', ok: true, via: '10.0.0.2:7420' })
    expect(plan.options[1]).toMatchObject({ ok: false, reason: 'needs-code' })
    expect(plan.chosen).toBe('local-network')
    expect(plan.linked).toBeUndefined()
  })

  it('WebRTC when only it reports a route; nothing chosen when only codes would do', () => {
    const { webrtc, orch } = setup()
    expect(orch.plan(B).chosen).toBeUndefined()
    webrtc.route.set(B, 'relay device-c')
    expect(orch.plan(B)).toMatchObject({ chosen: 'webrtc', options: [{ ok: false, reason: 'no-address' }, { ok: true, via: 'relay device-c' }, { ok: false }] })
  })

  it('hysteresis: a live WebRTC link makes the LAN option "linked-elsewhere" even with an address', () => {
    const { lan, webrtc, orch } = setup()
    lan.route.set(B, '10.0.0.2:7420')
    webrtc.links.add(B)
    const plan = orch.plan(B)
    expect(plan.linked).toBe('webrtc')
    expect(plan.chosen).toBe('webrtc')
    expect(plan.options[0]).toMatchObject({ method: 'local-network', ok: false, reason: 'linked-elsewhere' })
  })
})

describe('sync: fallback and skips', () => {
  it('LAN down, WebRTC has a route: served by WebRTC, the LAN skip says offline', async () => {
    const { lan, webrtc, orch } = setup()
    lan.route.set(B, '10.0.0.2:7420')
    webrtc.route.set(B, 'relay device-c')
    webrtc.answering.add(B)
    const r = await orch.sync(B)
    expect(r).toMatchObject({ method: 'webrtc', status: 'completed', via: 'relay device-c' })
    expect(r.skipped).toEqual([{ method: 'local-network', reason: 'offline', detail: 'device-b does not answer' }])
    expect(lan.sessions).toEqual([B])
  })

  it('a session that starts and fails falls back too, with reason "offline" for a timeout', async () => {
    const { lan, webrtc, orch } = setup()
    lan.route.set(B, '10.0.0.2:7420')
    lan.answering.add(B)
    lan.failSession = true
    webrtc.route.set(B, 'relay device-c')
    webrtc.answering.add(B)
    const r = await orch.sync(B)
    expect(r.method).toBe('webrtc')
    expect(r.skipped).toEqual([{ method: 'local-network', reason: 'offline', detail: 'not in sync' }])
  })

  it('LAN first when it answers: nothing skipped before it, reports go to onReport', async () => {
    const { lan, webrtc, orch, reports } = setup()
    lan.route.set(B, '10.0.0.2:7420')
    lan.answering.add(B)
    webrtc.route.set(B, 'relay device-c')
    webrtc.answering.add(B)
    const r = await orch.sync(B)
    expect(r).toMatchObject({ method: 'local-network', status: 'completed', via: '10.0.0.2:7420', skipped: [] })
    expect(webrtc.sessions).toEqual([])
    expect(reports.map((x) => x.method)).toEqual(['local-network'])
  })

  it('no live tier: an error report NO_ROUTE offering QR, every tier skipped with its reason', async () => {
    const { lan, orch } = setup()
    lan.route.set(B, '10.0.0.2:7420')
    const r = await orch.sync(B)
    expect(r).toMatchObject({ status: 'error', method: 'qr-code', peer: { deviceId: B }, error: { name: 'WireError', code: 'NO_ROUTE' } })
    expect(r.skipped!.map((s) => [s.method, s.reason])).toEqual([
      ['local-network', 'offline'],
      ['webrtc', 'needs-code'],
      ['qr-code', 'needs-code'],
    ])
  })

  it('hysteresis in a session: the live WebRTC link serves, LAN is not dialled', async () => {
    const { lan, webrtc, orch } = setup()
    lan.route.set(B, '10.0.0.2:7420')
    lan.answering.add(B)
    webrtc.links.add(B)
    const r = await orch.sync(B)
    expect(r.method).toBe('webrtc')
    expect(r.skipped).toEqual([expect.objectContaining({ method: 'local-network', reason: 'linked-elsewhere' })])
    expect(lan.sessions).toEqual([])
  })

  it('--via one tier: that tier only, its typed error when it cannot start', async () => {
    const { lan, webrtc, orch } = setup()
    webrtc.route.set(B, 'relay device-c')
    webrtc.answering.add(B)
    await expect(orch.sync(B, { via: 'local-network' })).rejects.toMatchObject({ name: 'WireError', code: 'UNREACHABLE' })
    expect(webrtc.sessions).toEqual([])
    await expect(orch.sync(B, { via: 'qr-code' })).rejects.toMatchObject({ name: 'WireError', code: 'NEEDS_CODE' })
    expect(await orch.sync(B, { via: 'webrtc' })).toMatchObject({ method: 'webrtc', status: 'completed', via: 'relay device-c', skipped: [] })
    expect(lan.sessions).toEqual([B])
  })

  it('a non-member is refused before any tier runs', async () => {
    const { lan, orch } = setup()
    await expect(orch.sync(STRANGER)).rejects.toMatchObject({ name: 'WireError', code: 'NOT_MEMBER' })
    expect(lan.sessions).toEqual([])
    expect(orch.condition(STRANGER).reason).toBe('not-member')
  })
})

describe('the background loop', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('redials with capped exponential backoff (full jitter, draw 1 here) and says why in condition()', async () => {
    const { lan, orch } = setup([B])
    lan.route.set(B, '10.0.0.2:7420')
    orch.start()
    await vi.advanceTimersByTimeAsync(0)
    expect(lan.connects.map((c) => c.at - 1_000_000)).toEqual([0])
    const c = orch.condition(B)
    expect(c).toMatchObject({ reason: 'offline', lastError: { name: 'WireError', code: 'UNREACHABLE' }, lastAttemptAt: 1_000_000, nextAttemptAt: 1_000_100 })
    await vi.advanceTimersByTimeAsync(10_000)
    // Ceilings 100, 200, 400, 800, 1600, 1600, ... after each failure (random() = 1: the ceiling itself).
    const gaps = lan.connects.map((x, i, a) => (i === 0 ? 0 : x.at - a[i - 1]!.at))
    expect(gaps.slice(0, 8)).toEqual([0, 100, 200, 400, 800, 1600, 1600, 1600])
    await orch.stop()
  })

  it('a poke dials at once and resets the backoff; the link then gets a session', async () => {
    const { lan, orch, reports } = setup([B])
    lan.route.set(B, '10.0.0.2:7420')
    orch.start()
    await vi.advanceTimersByTimeAsync(3_000) // several failures: the ceiling is 1600 now
    const before = lan.connects.length
    lan.answering.add(B)
    orch.poke(B, 'mdns announcement')
    await vi.advanceTimersByTimeAsync(0)
    expect(lan.connects.length).toBe(before + 1)
    expect(lan.isConnected(B)).toBe(true)
    expect(reports).toEqual([expect.objectContaining({ method: 'local-network', status: 'completed' })])
    expect(orch.condition(B)).toMatchObject({ reason: undefined, linked: 'local-network' })
    expect(orch.condition(B).nextAttemptAt).toBeUndefined()
    // Linked: no more dialling, however long we wait.
    await vi.advanceTimersByTimeAsync(20_000)
    expect(lan.connects.length).toBe(before + 1)
    // The link drops: the sweep finds it and redials from the base ceiling.
    lan.links.delete(B)
    lan.answering.delete(B)
    await vi.advanceTimersByTimeAsync(1000 + 100)
    expect(lan.connects.length).toBe(before + 2)
    await orch.stop()
  })

  it('hysteresis: a device linked on WebRTC is never dialled on the LAN', async () => {
    const { lan, webrtc, orch } = setup([B, C])
    lan.route.set(B, '10.0.0.2:7420')
    lan.route.set(C, '10.0.0.3:7420')
    lan.answering.add(B)
    lan.answering.add(C)
    webrtc.links.add(B)
    orch.start()
    await vi.advanceTimersByTimeAsync(30_000)
    expect(lan.connects.map((c) => c.id)).toEqual([C])
    orch.poke('all', 'interface change')
    await vi.advanceTimersByTimeAsync(0)
    expect(lan.connects.map((c) => c.id)).toEqual([C])
    await orch.stop()
  })

  it('no address and no route: nothing is dialled, the condition says a code is needed', async () => {
    const { lan, webrtc, orch } = setup([B])
    orch.start()
    await vi.advanceTimersByTimeAsync(5_000)
    expect(lan.connects).toEqual([])
    expect(webrtc.connects).toEqual([])
    expect(orch.condition(B)).toMatchObject({ reason: 'needs-code' })
    // A route appears (the mesh's gossip): the tier says so, the orchestrator dials at once.
    webrtc.route.set(B, 'relay device-c')
    webrtc.answering.add(B)
    webrtc.routesListener!()
    await vi.advanceTimersByTimeAsync(0)
    expect(webrtc.connects.map((c) => c.id)).toEqual([B])
    expect(orch.condition(B)).toMatchObject({ reason: undefined, linked: 'webrtc' })
    await orch.stop()
  })

  it('a poke during a failing attempt dials again at once instead of backing off', async () => {
    const { lan, orch } = setup([B])
    lan.route.set(B, '10.0.0.2:7420')
    orch.start()
    orch.poke(B, 'mdns announcement') // before the first attempt ran: still one attempt
    await vi.advanceTimersByTimeAsync(0)
    expect(lan.connects.length).toBe(1)
    await vi.advanceTimersByTimeAsync(3_000) // attempts at 0, 100, 300, 700, 1500; the next at 3100
    expect(lan.connects.length).toBe(5)
    let release: () => void = () => undefined
    lan.gate = new Promise((r) => (release = r))
    await vi.advanceTimersByTimeAsync(100) // the attempt at 3100 starts and is held
    expect(lan.connects.length).toBe(6)
    orch.poke(B, 'mdns announcement')
    lan.gate = undefined
    release()
    await vi.advanceTimersByTimeAsync(0)
    // It failed, but a poke came meanwhile: at once, not after the 1600 ms ceiling.
    expect(lan.connects.length).toBe(7)
    expect(lan.connects[6]!.at).toBe(lan.connects[5]!.at)
    await orch.stop()
  })

  it('a device that answers but refuses us: condition "error" with the typed error, still retried on the backoff', async () => {
    const { lan, orch } = setup([B])
    lan.route.set(B, '10.0.0.2:7420')
    lan.connectError = new HandshakeError('the device at 10.0.0.2:7420 is not device-b', { code: 'UNEXPECTED_DEVICE' })
    orch.start()
    await vi.advanceTimersByTimeAsync(0)
    expect(orch.condition(B)).toMatchObject({ reason: 'error', detail: 'the device at 10.0.0.2:7420 is not device-b', lastError: { name: 'HandshakeError', code: 'UNEXPECTED_DEVICE' } })
    await vi.advanceTimersByTimeAsync(100)
    expect(lan.connects.length).toBe(2)
    await orch.stop()
  })

  it('linkDown: a dropped link is redialled on the base ceiling, not at once', async () => {
    const { lan, orch } = setup([B])
    lan.route.set(B, '10.0.0.2:7420')
    lan.answering.add(B)
    orch.start()
    await vi.advanceTimersByTimeAsync(0)
    expect(lan.connects.length).toBe(1)
    lan.links.delete(B)
    orch.linkDown(B)
    await vi.advanceTimersByTimeAsync(99)
    expect(lan.connects.length).toBe(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(lan.connects.length).toBe(2)
    expect(lan.isConnected(B)).toBe(true)
    await orch.stop()
  })

  it('stop: no more dialling; pokes are ignored', async () => {
    const { lan, orch } = setup([B])
    lan.route.set(B, '10.0.0.2:7420')
    orch.start()
    await vi.advanceTimersByTimeAsync(0)
    await orch.stop()
    const n = lan.connects.length
    orch.poke('all', 'after stop')
    await vi.advanceTimersByTimeAsync(60_000)
    expect(lan.connects.length).toBe(n)
    expect(orch.running).toBe(false)
  })
})

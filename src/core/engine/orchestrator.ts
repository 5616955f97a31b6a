/**
 * The sync orchestrator (docs/architecture.md, "The orchestrator"): over a node's tiers, per
 * paired device — which tiers can reach it now and why not, which one to use, a session with
 * fallback in priority order (each skip with its reason), the device's condition for the peers
 * view, and the background loop that keeps a live link to every member.
 *
 * - **Choice.** LAN when the device is discovered or a known address answers; WebRTC when the
 *   tier reports a route (a relay member, the mesh); QR (or a WebRTC code) offered when no live
 *   tier works — it needs a person to carry something, so the orchestrator never runs it itself.
 * - **Hysteresis.** A device with a live link on any tier is not dialled on another tier, and a
 *   session uses that link: a link that works is kept. There is no switch to a "better" tier, so
 *   two devices can never fight over which link to keep.
 * - **One owner of redial.** The background loop is the only thing that redials: tiers are built
 *   without their own reconnect (the LAN transport's redial is off in a node that has one). Each
 *   device without a live link is retried with capped exponential backoff and full jitter
 *   (backoff.ts); `poke` (an mDNS announcement, an interface change, a route that appeared)
 *   resets its backoff and dials at once.
 *
 * Platform-free: timers, clock and random draw are injected (defaults: the global ones).
 */
import { OrbitError, ValidationError, WireError } from '../errors.js'
import type { DeviceId } from '../ids.js'
import { silentLogger, type Logger } from '../log.js'
import type { SyncMethod } from '../sync/types.js'
import { Backoff } from './backoff.js'
import type { SyncReport } from './sync-session.js'
import type { Tier, UnreachableReason } from './tier.js'

/** One tier's answer for one device, in a {@link SyncPlan}. */
export interface TierOption {
  method: SyncMethod
  ok: boolean
  /** How it would reach the device (`host:port`, `relay <deviceId>`, `connected`). */
  via?: string
  /** Why not: the tier's own reason, or `linked-elsewhere` (another tier holds a live link: hysteresis). */
  reason?: UnreachableReason | 'linked-elsewhere'
  detail?: string
}

/** What the orchestrator would do for a device now. */
export interface SyncPlan {
  deviceId: DeviceId
  /** Every tier's option, by priority. */
  options: TierOption[]
  /** The tier a session would use: the linked one, else the first that can reach it; undefined when none can. */
  chosen: SyncMethod | undefined
  /** The tier holding a live link to the device, if any. */
  linked: SyncMethod | undefined
}

/** Why a device is not in live contact, for the peers view (`orbit peers`, `orbit status`). */
export interface PeerCondition {
  /**
   * undefined: a live link is up. `offline`: a live tier has an address or route but it did not
   * answer. `no-route`: no tier can reach it at all. `needs-code`: only a carried session (a WebRTC
   * code, QR frames) can. `error`: the device was reached but the link or session failed.
   * `not-member`: not a current member (unknown or revoked).
   */
  reason: 'offline' | 'no-route' | 'needs-code' | 'error' | 'not-member' | undefined
  detail?: string
  /** When the background loop dials it next (ms since the epoch), when it is scheduled. */
  nextAttemptAt?: number
  lastError?: { name: string; code?: string; message: string }
  lastAttemptAt?: number
  /** The tier holding the live link, when there is one. */
  linked?: SyncMethod
}

/** A tier skipped by a session, and why (in {@link SyncReport.skipped}). */
export interface SkippedTier {
  method: SyncMethod
  reason: string
  detail: string
}

/**
 * What the orchestrator uses of a tier beyond the {@link Tier} port, when the tier has it: a kept
 * link (`connect`: the LAN dials its addresses; WebRTC through a relay member), whether one is up,
 * and a signal that routes changed. Checked at run time (`typeof tier.connect === 'function'`),
 * so tiers without them still take part (sessions only).
 */
export interface LinkingTier {
  connect?(deviceId: DeviceId, options?: { timeoutMs?: number; signal?: AbortSignal }): Promise<unknown>
  isConnected?(deviceId: DeviceId): boolean
  onRoutesChanged?(listener: () => void): () => void
}

/** Timers, injectable (tests, platforms without the globals). */
export interface OrchestratorTimers {
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

export interface OrchestratorOptions {
  /** The node's tiers (any order: sorted by priority). */
  tiers: readonly Tier[]
  /** Current members other than this device (the background loop keeps a link to each). */
  members: () => readonly DeviceId[]
  /** Whether a device is a current member; default: listed by `members`. */
  isMember?: (deviceId: DeviceId) => boolean
  /** Backoff ceilings of the loop, ms. Defaults 500 and 30 000. */
  backoff?: { baseMs?: number; capMs?: number }
  /**
   * How often the loop looks for members without a live link and nothing scheduled (a link that
   * dropped, a device that just became a member). Default 2000 ms. A poke does not wait for it.
   */
  sweepMs?: number
  /** Bound on a background connect plus its first session. Default 30 000 ms. */
  sessionTimeoutMs?: number
  /** Called with the report of every session the orchestrator ran (background ones included). */
  onReport?: (report: SyncReport) => void
  timers?: OrchestratorTimers
  random?: () => number
  now?: () => number
  logger?: Logger
}

/** Per device: the loop's schedule and what the last attempt said. */
interface DeviceState {
  backoff: Backoff
  timer: unknown
  nextAttemptAt: number | undefined
  inFlight: Promise<void> | undefined
  /** A poke arrived during an attempt: dial again at once when it fails. */
  again: boolean
  lastAttemptAt: number | undefined
  lastError: { name: string; code?: string; message: string } | undefined
  /** The condition the last attempt ended in (reason undefined: it linked). */
  lastReason: PeerCondition['reason'] | 'pending'
  lastDetail: string | undefined
}

const CONNECTIVITY_CODES = new Set(['UNREACHABLE', 'CONNECTION', 'CONNECT_TIMEOUT', 'CLOSED', 'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'TIMEOUT', 'IDLE_TIMEOUT'])

const errorBody = (error: unknown): { name: string; code?: string; message: string } => {
  const e = error instanceof OrbitError ? error : new WireError(String(error), { code: 'SYNC' })
  return { name: e.name, code: e.code, message: e.message }
}

/** Why a tier's attempt failed, as a skip or condition reason. */
function failureReason(error: { name: string; code?: string }): 'offline' | 'needs-code' | 'not-member' | 'error' {
  if (error.code === 'NEEDS_CODE') return 'needs-code'
  if (error.code === 'NOT_MEMBER') return 'not-member'
  if (error.name === 'WireError' && error.code !== undefined && CONNECTIVITY_CODES.has(error.code)) return 'offline'
  if (error.name === 'AbortedError' && error.code === 'TIMEOUT') return 'offline'
  return 'error'
}

const defaultTimers: OrchestratorTimers = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as Parameters<typeof globalThis.clearTimeout>[0]),
}

const METHOD_NAMES: Record<SyncMethod, string> = { 'local-network': 'LAN', webrtc: 'WebRTC', 'qr-code': 'QR' }

/**
 * @example
 * const orchestrator = new Orchestrator({ tiers: [lan, webrtc, qr], members: () => policy.peers(me) })
 * orchestrator.start()
 * const report = await orchestrator.sync(deviceId) // report.method, report.via, report.skipped
 * discovery.on('peer', (p) => orchestrator.poke(p.deviceId, 'mdns announcement'))
 */
export class Orchestrator {
  readonly #tiers: ReadonlyArray<Tier & LinkingTier>
  readonly #o: OrchestratorOptions
  readonly #timers: OrchestratorTimers
  readonly #now: () => number
  readonly #log: Logger
  readonly #devices = new Map<DeviceId, DeviceState>()
  readonly #aborts = new Set<AbortController>()
  readonly #off: Array<() => void> = []
  #sweep: unknown
  #running = false

  constructor(options: OrchestratorOptions) {
    this.#o = options
    this.#tiers = [...options.tiers].sort((a, b) => a.priority - b.priority) as Array<Tier & LinkingTier>
    this.#timers = options.timers ?? defaultTimers
    this.#now = options.now ?? Date.now
    this.#log = (options.logger ?? silentLogger).forComponent('orbit:orchestrator')
  }

  /** Whether the background loop runs. */
  get running(): boolean {
    return this.#running
  }

  #isMember(deviceId: DeviceId): boolean {
    return this.#o.isMember?.(deviceId) ?? this.#o.members().includes(deviceId)
  }

  /** The tier holding a live link to the device, if any (the first by priority). */
  linked(deviceId: DeviceId): SyncMethod | undefined {
    return this.#tiers.find((t) => typeof t.isConnected === 'function' && t.isConnected(deviceId))?.method
  }

  plan(deviceId: DeviceId): SyncPlan {
    const linked = this.linked(deviceId)
    const options: TierOption[] = this.#tiers.map((tier) => {
      const r = tier.reach(deviceId)
      if (linked !== undefined && tier.method !== linked && r.ok) {
        // Hysteresis: another tier's live link serves this device; no second link is opened.
        return { method: tier.method, ok: false, reason: 'linked-elsewhere', detail: `a live ${METHOD_NAMES[linked]} link to ${deviceId} is up; it is kept` }
      }
      return r.ok ? { method: tier.method, ok: true, via: r.via } : { method: tier.method, ok: false, reason: r.reason, detail: r.detail }
    })
    const chosen = linked ?? options.find((o) => o.ok)?.method
    return { deviceId, options, chosen, linked }
  }

  condition(deviceId: DeviceId): PeerCondition {
    const state = this.#devices.get(deviceId)
    const extra = {
      ...(state?.nextAttemptAt === undefined ? {} : { nextAttemptAt: state.nextAttemptAt }),
      ...(state?.lastError === undefined ? {} : { lastError: state.lastError }),
      ...(state?.lastAttemptAt === undefined ? {} : { lastAttemptAt: state.lastAttemptAt }),
    }
    if (!this.#isMember(deviceId)) return { reason: 'not-member', detail: `${deviceId} is not a member of this workspace`, ...extra }
    const linked = this.linked(deviceId)
    if (linked !== undefined) return { reason: undefined, linked, ...extra }
    // An attempt said what is wrong: that wins over what the tiers guess without dialling.
    if (state !== undefined && state.lastReason !== 'pending' && state.lastReason !== undefined) {
      return { reason: state.lastReason, ...(state.lastDetail === undefined ? {} : { detail: state.lastDetail }), ...extra }
    }
    return { ...this.#staticCondition(deviceId), ...extra }
  }

  /** The condition by the tiers' reachability alone (no attempt yet, or the last one linked). */
  #staticCondition(deviceId: DeviceId): { reason: PeerCondition['reason']; detail: string } {
    const options = this.plan(deviceId).options
    const live = options.find((o) => o.ok)
    if (live !== undefined) return { reason: 'offline', detail: `not connected; ${METHOD_NAMES[live.method]} will try ${live.via ?? 'it'}` }
    const carried = options.find((o) => o.reason === 'needs-code')
    if (carried !== undefined) {
      const why = options.filter((o) => o.reason !== 'needs-code' && o.detail !== undefined).map((o) => `${METHOD_NAMES[o.method]}: ${o.detail}`)
      return { reason: 'needs-code', detail: ['no live tier reaches it; carry a code (WebRTC) or QR frames', ...why].join('; ') }
    }
    return { reason: 'no-route', detail: options.map((o) => `${METHOD_NAMES[o.method]}: ${o.detail ?? o.reason ?? 'unavailable'}`).join('; ') }
  }

  /**
   * One session with a member. `via: 'auto'` (default) uses the live link if there is one, else
   * tries the tiers that can reach the device in priority order, falling back on failure; the
   * report says which tier served (`method`, `via`) and why each other was skipped (`skipped`).
   * When none served, the report has `status: 'error'`, error code `NO_ROUTE`, and `method` the
   * carried tier offered instead (QR, or WebRTC by code): what the user must run by hand.
   * `via: <method>` runs that tier only (its typed error when it cannot start).
   * @throws WireError `NOT_MEMBER`; ValidationError for a method no tier serves.
   */
  async sync(deviceId: DeviceId, o: { via?: 'auto' | SyncMethod; timeoutMs?: number } = {}): Promise<SyncReport> {
    if (!this.#isMember(deviceId)) throw new WireError(`${deviceId} is not a member of this workspace`, { code: 'NOT_MEMBER' })
    const via = o.via ?? 'auto'
    const session = { ...(o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs }) }
    if (via !== 'auto') {
      const tier = this.#tiers.find((t) => t.method === via)
      if (tier === undefined) throw new ValidationError(`no ${via} tier on this node`, { field: 'via' })
      const r = tier.reach(deviceId)
      const report = await this.#run(tier, deviceId, session)
      return { ...report, ...(r.ok ? { via: r.via } : {}), skipped: [] }
    }
    const started = this.#now()
    const plan = this.plan(deviceId)
    const skipped: SkippedTier[] = []
    let last: SyncReport | undefined
    for (const option of plan.options) {
      const tier = this.#tiers.find((t) => t.method === option.method)!
      if (!option.ok) {
        skipped.push({ method: option.method, reason: option.reason ?? 'unavailable', detail: option.detail ?? '' })
        continue
      }
      try {
        const report = await this.#run(tier, deviceId, session)
        if (report.status === 'completed') {
          this.#linkedNow(deviceId)
          return { ...report, ...(option.via === undefined ? {} : { via: option.via }), skipped }
        }
        last = report
        skipped.push({ method: option.method, reason: failureReason(report.error ?? { name: 'WireError' }), detail: report.error?.message ?? 'the session did not complete' })
      } catch (error) {
        const e = errorBody(error)
        skipped.push({ method: option.method, reason: failureReason(e), detail: e.message })
      }
    }
    // Nothing live served: offer the carried tiers, most preferred first (QR is always possible).
    const offered = [...skipped].reverse().find((s) => s.reason === 'needs-code')?.method ?? 'qr-code'
    const summary = skipped.map((s) => `${METHOD_NAMES[s.method]}: ${s.detail || s.reason}`).join('; ')
    return {
      method: offered,
      status: 'error',
      peer: { deviceId },
      changesSent: last?.changesSent ?? 0,
      changesReceived: last?.changesReceived ?? 0,
      bytesSent: last?.bytesSent ?? 0,
      bytesReceived: last?.bytesReceived ?? 0,
      durationMs: this.#now() - started,
      documents: 0,
      error: { name: 'WireError', code: 'NO_ROUTE', message: `no live tier reaches ${deviceId}; carry a code or QR frames (${summary})` },
      skipped,
    }
  }

  /** Runs one session on a tier, reported to `onReport`. */
  async #run(tier: Tier, deviceId: DeviceId, o: { timeoutMs?: number; signal?: AbortSignal }): Promise<SyncReport> {
    const report = await tier.session(deviceId, o)
    this.#o.onReport?.(report)
    return report
  }

  /**
   * Dial now: an mDNS announcement, an interface or address change, a route that appeared. Resets
   * the device's backoff (each, for `'all'`). A device with a live link is left alone.
   */
  poke(deviceId: DeviceId | 'all', why: string): void {
    if (!this.#running) return
    const ids = deviceId === 'all' ? this.#o.members() : [deviceId]
    for (const id of ids) {
      if (!this.#isMember(id) || this.linked(id) !== undefined) continue
      this.#log.debug('poke', { deviceId: id, why })
      const state = this.#state(id)
      state.backoff.reset()
      if (state.inFlight !== undefined) {
        state.again = true
        continue
      }
      this.#schedule(id, 0)
    }
  }

  /**
   * A tier's live link to the device dropped: it is redialled on its backoff (from the base
   * ceiling after a link that worked), not at once — a peer that went away rarely answers within
   * milliseconds, and its own loop or announcement will poke us when it is back.
   */
  linkDown(deviceId: DeviceId): void {
    if (!this.#running || !this.#isMember(deviceId) || this.linked(deviceId) !== undefined) return
    const s = this.#state(deviceId)
    if (s.timer === undefined && s.inFlight === undefined) this.#schedule(deviceId, s.backoff.delay())
  }

  /** Starts the background loop: every member without a live link is dialled now. */
  start(): void {
    if (this.#running) return
    this.#running = true
    for (const tier of this.#tiers) {
      if (typeof tier.onRoutesChanged === 'function') this.#off.push(tier.onRoutesChanged(() => this.poke('all', 'routes changed')))
    }
    this.poke('all', 'start')
    this.#tick()
  }

  /** Stops the loop: no more dialling; background sessions in flight are aborted. */
  async stop(): Promise<void> {
    this.#running = false
    if (this.#sweep !== undefined) this.#timers.clearTimeout(this.#sweep)
    this.#sweep = undefined
    for (const off of this.#off.splice(0)) off()
    for (const state of this.#devices.values()) {
      if (state.timer !== undefined) this.#timers.clearTimeout(state.timer)
      state.timer = undefined
      state.nextAttemptAt = undefined
    }
    for (const a of this.#aborts) a.abort()
    // Sessions end on the abort; a dial in flight may not take a signal (the LAN's connect waits
    // for its TCP and handshake timeouts), so wait a moment at most — once it settles it sees the
    // loop stopped and does nothing more.
    let timer: unknown
    const grace = new Promise<void>((resolve) => (timer = this.#timers.setTimeout(resolve, 1000)))
    await Promise.race([Promise.allSettled([...this.#devices.values()].map((s) => s.inFlight)), grace])
    this.#timers.clearTimeout(timer)
  }

  /** The sweep: members without a live link and nothing scheduled get a (backed-off) attempt. */
  #tick(): void {
    if (!this.#running) return
    for (const id of this.#o.members()) {
      const state = this.#state(id)
      if (this.linked(id) !== undefined) {
        this.#linkedNow(id)
        continue
      }
      // A link that dropped, or a new member: on the current ceiling (reset by the last success).
      if (state.timer === undefined && state.inFlight === undefined) this.#schedule(id, state.backoff.delay())
    }
    this.#sweep = this.#timers.setTimeout(() => this.#tick(), this.#o.sweepMs ?? 2000)
  }

  #state(deviceId: DeviceId): DeviceState {
    let s = this.#devices.get(deviceId)
    if (s === undefined) {
      s = {
        backoff: new Backoff({ ...this.#o.backoff, ...(this.#o.random === undefined ? {} : { random: this.#o.random }), now: this.#now }),
        timer: undefined,
        nextAttemptAt: undefined,
        inFlight: undefined,
        again: false,
        lastAttemptAt: undefined,
        lastError: undefined,
        lastReason: 'pending',
        lastDetail: undefined,
      }
      this.#devices.set(deviceId, s)
    }
    return s
  }

  /** A live link is up: the backoff starts over and nothing is scheduled. */
  #linkedNow(deviceId: DeviceId): void {
    const s = this.#state(deviceId)
    s.backoff.succeed()
    if (s.timer !== undefined) this.#timers.clearTimeout(s.timer)
    s.timer = undefined
    s.nextAttemptAt = undefined
    s.lastReason = undefined
    s.lastDetail = undefined
  }

  #schedule(deviceId: DeviceId, delayMs: number): void {
    const s = this.#state(deviceId)
    if (s.timer !== undefined) this.#timers.clearTimeout(s.timer)
    s.nextAttemptAt = this.#now() + delayMs
    s.timer = this.#timers.setTimeout(() => {
      s.timer = undefined
      s.nextAttemptAt = undefined
      if (!this.#running || s.inFlight !== undefined) return
      s.inFlight = this.#attempt(deviceId).finally(() => (s.inFlight = undefined))
      void s.inFlight.then(() => this.#afterAttempt(deviceId))
    }, delayMs)
  }

  #afterAttempt(deviceId: DeviceId): void {
    const s = this.#state(deviceId)
    if (!this.#running) return
    if (this.linked(deviceId) !== undefined) {
      this.#linkedNow(deviceId)
      s.again = false
      return
    }
    if (s.again) {
      s.again = false
      this.#schedule(deviceId, 0)
      return
    }
    const next = s.backoff.fail()
    this.#schedule(deviceId, next.delayMs)
    this.#log.debug('redial scheduled', { deviceId, inMs: next.delayMs, attempt: s.backoff.attempt })
  }

  /**
   * One background attempt: unless a tier holds a live link already (hysteresis), the tiers that
   * can keep one (`connect`) and reach the device now are tried in priority order; the first link
   * up wins, and a session over it brings both sides level (its report goes to `onReport`).
   */
  async #attempt(deviceId: DeviceId): Promise<void> {
    const s = this.#state(deviceId)
    if (!this.#isMember(deviceId) || this.linked(deviceId) !== undefined) return
    s.lastAttemptAt = this.#now()
    const abort = new AbortController()
    this.#aborts.add(abort)
    const timeoutMs = this.#o.sessionTimeoutMs ?? 30_000
    let tried = false
    try {
      for (const tier of this.#tiers) {
        if (typeof tier.connect !== 'function' || !this.#running) continue
        const r = tier.reach(deviceId)
        if (!r.ok) continue
        tried = true
        try {
          const result = await tier.connect(deviceId, { timeoutMs, signal: abort.signal })
          if (result === false) throw new WireError(`${METHOD_NAMES[tier.method]}: ${deviceId} did not answer at ${r.via}`, { code: 'UNREACHABLE' })
          const first = isReport(result) ? result : undefined
          if (first !== undefined) this.#o.onReport?.(first)
          if (first?.status === 'error') throw new WireError(first.error?.message ?? 'the first session failed', { code: first.error?.code ?? 'SYNC' })
          this.#log.info('linked', { deviceId, method: tier.method, via: r.via })
          s.lastError = undefined
          this.#linkedNow(deviceId)
          // The LAN's connect only links: a session over the new link reports when both sides are level.
          if (first === undefined && this.#running) {
            const report = await this.#run(tier, deviceId, { timeoutMs, signal: abort.signal }).catch((error: unknown) => failedFrom(tier.method, deviceId, error))
            if (report.status !== 'completed') s.lastError = report.error
            this.#log.info('background sync', { deviceId, method: report.method, status: report.status, durationMs: report.durationMs, changesSent: report.changesSent, changesReceived: report.changesReceived })
          }
          return
        } catch (error) {
          s.lastError = errorBody(error)
          s.lastReason = failureReason(s.lastError)
          s.lastDetail = s.lastError.message
          this.#log.info('dial failed', { deviceId, method: tier.method, via: r.via, code: s.lastError.code, message: s.lastError.message })
        }
      }
      if (!tried) {
        // Nothing live to dial: the condition is what the tiers say (no address, needs a code).
        const c = this.#staticCondition(deviceId)
        s.lastReason = c.reason
        s.lastDetail = c.detail
      }
    } finally {
      this.#aborts.delete(abort)
    }
  }
}

const isReport = (x: unknown): x is SyncReport => typeof x === 'object' && x !== null && 'status' in x && 'method' in x

function failedFrom(method: SyncMethod, deviceId: DeviceId, error: unknown): SyncReport {
  return { method, status: 'error', peer: { deviceId }, changesSent: 0, changesReceived: 0, bytesSent: 0, bytesReceived: 0, durationMs: 0, documents: 0, error: errorBody(error) }
}

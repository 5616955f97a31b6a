/**
 * One link host's budget for inbound bytes held in reassembly and decode at once, across all its
 * links (docs/protocol/link.md, "Limits"). Per link the secure channel already bounds a message
 * (64 MiB); without a shared bound, N members each sending one such message at once cost N times
 * that. Platform-free: a transport counts what it reassembles and stops reading a link that must
 * wait (backpressure), the budget decides who may go on.
 *
 * The budget is cut into *slots* of one whole message (`messageBytes`) and a *reserve* of
 * `reserveFrames` frames (`frameBytes` each):
 *
 * - A link without a slot may read one frame if a reserve unit is free. A frame that completes a
 *   message is decoded and handed on synchronously, and its unit is free again at once; a frame
 *   that starts a longer message keeps its unit and asks for a slot. A link that finds no unit
 *   free waits.
 * - A link with a slot reads its message to the end (the channel stops it at `messageBytes`), then
 *   gives the slot back. Slot holders never wait for each other, so the budget cannot deadlock;
 *   waiters are served first come, first served (a link parked on a partial message first, since
 *   it already holds bytes).
 * - A slot held longer than `slotHoldMs` while another link waits is taken back (when its time is
 *   up, or when a link starts waiting after it): the holder is closed (`WireError LINK_SLOW`), so
 *   members that drip a message cannot lock an honest one out for longer.
 *
 * Invariant: `held ≤ slots × messageBytes + reserveFrames × frameBytes ≤ budgetBytes`.
 */
import { ValidationError, WireError } from '../errors.js'
import type { LinkTimers } from './link-adapter.js'

/**
 * Default budget per link host: 65 MiB, one message at the channel's 64 MiB limit in a slot and
 * the 1 MiB reserve. Chosen from the daemon's stated peak RSS bound of 512 MB
 * (docs/protocol/lan.md, "Limits"): about 150 MB at rest, and a 64 MiB change costs about 200 MB
 * while it is joined and decoded. With two slots, three members sending one each at once peaked at
 * 475–500 MB in the hostile suite, too close to the bound; with one, 374 MB, as one change alone. Decoding
 * is synchronous, one message at a time, so a second slot would only overlap one link's transfer
 * with another's decoding.
 */
export const DEFAULT_INBOUND_BUDGET_BYTES = 65 * 1024 * 1024
/** Default reserve: frames that links without a slot may hold at once (16 frames, about 1 MiB). */
export const DEFAULT_RESERVE_FRAMES = 16
/** Default longest a slot is kept while another link waits for one. */
export const DEFAULT_SLOT_HOLD_MS = 30_000

/** Options of an {@link InboundBudget}. */
export interface InboundBudgetOptions {
  /** Bytes held in reassembly/decode at once, across links. Default {@link DEFAULT_INBOUND_BUDGET_BYTES}. */
  budgetBytes?: number
  /** The largest message one link may reassemble (the secure channel's limit). */
  messageBytes: number
  /** The largest payload one frame adds. */
  frameBytes: number
  /** Default {@link DEFAULT_RESERVE_FRAMES}. */
  reserveFrames?: number
  /** Default {@link DEFAULT_SLOT_HOLD_MS}. */
  slotHoldMs?: number
  timers: LinkTimers
}

/** What a budget reports (`orbit status`-style numbers, and what the tests measure). */
export interface InboundBudgetStats {
  budgetBytes: number
  slots: number
  /** Bytes held now / at most so far. */
  held: number
  peak: number
  /** Links waiting to read. */
  waiting: number
  /** Slot holders closed for holding a slot too long while others waited. */
  evicted: number
}

/** One link's share of an {@link InboundBudget}; see {@link InboundBudget.holder}. */
export interface BudgetHolder {
  /**
   * May the link read (decrypt) its next frame now? When false it must stop reading;
   * `onReady` is called (on a later microtask) when it may ask again.
   */
  admit(): boolean
  /**
   * The frame just read added `bytes` to the link's message. `complete`: the message is whole
   * (hand it on, then call {@link BudgetHolder.done}). Otherwise returns false when the link must
   * stop reading until `onReady` (its message needs a slot and none is free).
   */
  received(bytes: number, complete: boolean): boolean
  /** The link's message was handed on: its bytes, unit and slot are given back. */
  done(): void
  /** The link closed: everything it held is given back, it waits no more. Idempotent. */
  close(): void
}

interface Holder {
  state: 'none' | 'unit' | 'slot'
  bytes: number
  /** Parked: holds a unit and a partial message, waits for a slot. */
  parked: boolean
  /** Waiting for a unit or a slot to read its first frame. */
  queued: boolean
  /** Given a unit or slot while waiting: its next `admit()` succeeds. */
  granted: boolean
  closed: boolean
  slotTimer: unknown
  /** Held its slot longer than `slotHoldMs` while nobody waited: taken back as soon as someone does. */
  overdue: boolean
  onReady: () => void
  onEvict: (error: WireError) => void
}

/**
 * @example
 * const budget = new InboundBudget({ messageBytes: MAX_MESSAGE_BYTES, frameBytes: 65_518, timers })
 * const share = budget.holder(() => socket.resume(), (error) => link.close(error))
 * // per frame: if (!share.admit()) pause; decrypt; if (!share.received(n, whole)) pause; … share.done()
 */
export class InboundBudget {
  readonly budgetBytes: number
  readonly slots: number
  readonly #messageBytes: number
  readonly #frameBytes: number
  readonly #units: number
  readonly #slotHoldMs: number
  readonly #timers: LinkTimers
  #slotsUsed = 0
  #unitsUsed = 0
  #held = 0
  #peak = 0
  #evicted = 0
  readonly #parked: Holder[] = []
  readonly #queue: Holder[] = []
  readonly #slotHolders = new Set<Holder>()

  constructor(options: InboundBudgetOptions) {
    this.budgetBytes = options.budgetBytes ?? DEFAULT_INBOUND_BUDGET_BYTES
    this.#messageBytes = options.messageBytes
    this.#frameBytes = options.frameBytes
    this.#units = options.reserveFrames ?? DEFAULT_RESERVE_FRAMES
    this.#slotHoldMs = options.slotHoldMs ?? DEFAULT_SLOT_HOLD_MS
    this.#timers = options.timers
    const valid = (n: number): boolean => Number.isSafeInteger(n) && n > 0
    if (!valid(this.budgetBytes) || !valid(this.#messageBytes) || !valid(this.#frameBytes) || !valid(this.#units)) {
      throw new ValidationError('inbound budget: sizes must be positive integers', { field: 'budgetBytes' })
    }
    this.slots = Math.floor((this.budgetBytes - this.#units * this.#frameBytes) / this.#messageBytes)
    if (this.slots < 1) {
      throw new ValidationError(`inbound budget of ${this.budgetBytes} bytes holds no message of ${this.#messageBytes} bytes beside its reserve`, { field: 'budgetBytes' })
    }
  }

  /** Current numbers. */
  stats(): InboundBudgetStats {
    return { budgetBytes: this.budgetBytes, slots: this.slots, held: this.#held, peak: this.#peak, waiting: this.#queue.length + this.#parked.length, evicted: this.#evicted }
  }

  /**
   * A share for one link. `onReady`: the link may read again (resume it). `onEvict`: it held a
   * slot too long while others waited; close it with the error.
   */
  holder(onReady: () => void, onEvict: (error: WireError) => void): BudgetHolder {
    const h: Holder = { state: 'none', bytes: 0, parked: false, queued: false, granted: false, closed: false, slotTimer: undefined, overdue: false, onReady, onEvict }
    return {
      admit: () => this.#admit(h),
      received: (bytes, complete) => this.#received(h, bytes, complete),
      done: () => this.#done(h),
      close: () => this.#close(h),
    }
  }

  #admit(h: Holder): boolean {
    if (h.closed) return false
    if (h.state === 'slot' || h.granted) {
      h.granted = false
      return true
    }
    if (h.parked || h.queued) return false
    if (h.state === 'none' && this.#unitsUsed < this.#units && this.#queue.length === 0) {
      h.state = 'unit'
      this.#unitsUsed++
      return true
    }
    // Holding a unit after a whole message is not possible (done() gave it back): queue.
    h.queued = true
    this.#queue.push(h)
    this.#evictOverdue()
    return false
  }

  #received(h: Holder, bytes: number, complete: boolean): boolean {
    if (h.closed) return true
    h.bytes += bytes
    this.#held += bytes
    if (this.#held > this.#peak) this.#peak = this.#held
    if (complete || h.state === 'slot') return true
    // A frame read on a unit started a longer message: it needs a slot to go on.
    if (this.#slotsUsed < this.slots && this.#parked.length === 0) {
      this.#toSlot(h)
      return true
    }
    h.parked = true
    this.#parked.push(h)
    this.#evictOverdue()
    return false
  }

  #done(h: Holder): void {
    this.#giveBack(h)
    this.#serve()
  }

  #close(h: Holder): void {
    if (h.closed) return
    h.closed = true
    remove(this.#queue, h)
    remove(this.#parked, h)
    h.queued = h.parked = false
    this.#giveBack(h)
    this.#serve()
  }

  #giveBack(h: Holder): void {
    this.#held -= h.bytes
    h.bytes = 0
    if (h.state === 'unit') this.#unitsUsed--
    if (h.state === 'slot') {
      this.#slotsUsed--
      this.#slotHolders.delete(h)
      if (h.slotTimer !== undefined) this.#timers.clearTimeout(h.slotTimer)
      h.slotTimer = undefined
      h.overdue = false
    }
    h.state = 'none'
    h.granted = false
  }

  #toSlot(h: Holder): void {
    if (h.state === 'unit') this.#unitsUsed--
    h.state = 'slot'
    this.#slotsUsed++
    this.#slotHolders.add(h)
    this.#armSlotTimer(h)
  }

  /** Hands free slots and units to waiters: parked partial messages first, then the queue in order. */
  #serve(): void {
    while (this.#slotsUsed < this.slots && this.#parked.length > 0) {
      const h = this.#parked.shift()!
      h.parked = false
      this.#toSlot(h)
      this.#wake(h)
    }
    while (this.#queue.length > 0 && this.#unitsUsed < this.#units) {
      const h = this.#queue.shift()!
      h.queued = false
      h.state = 'unit'
      this.#unitsUsed++
      h.granted = true
      this.#wake(h)
    }
  }

  #wake(h: Holder): void {
    // Not from inside another link's frame handling: the woken link reads on its own turn.
    queueMicrotask(() => {
      if (!h.closed) h.onReady()
    })
  }

  #armSlotTimer(h: Holder): void {
    h.slotTimer = this.#timers.setTimeout(() => {
      h.slotTimer = undefined
      if (h.closed || h.state !== 'slot') return
      // Nobody waits: a slow honest sender may keep it, until someone does.
      if (!this.#someoneWaits()) h.overdue = true
      else this.#evict(h)
    }, this.#slotHoldMs)
  }

  #someoneWaits(): boolean {
    return this.#queue.length > 0 || this.#parked.length > 0
  }

  /** A link started waiting: overdue slot holders go (on a later microtask, not inside its frame handling). */
  #evictOverdue(): void {
    if (![...this.#slotHolders].some((h) => h.overdue)) return
    queueMicrotask(() => {
      for (const h of [...this.#slotHolders]) if (h.overdue && !h.closed && this.#someoneWaits()) this.#evict(h)
    })
  }

  #evict(h: Holder): void {
    this.#evicted++
    const error = new WireError(`a message held a reassembly slot for more than ${this.#slotHoldMs} ms while other links waited: link closed`, { code: 'LINK_SLOW' })
    this.#close(h)
    h.onEvict(error)
  }
}

function remove<T>(list: T[], item: T): void {
  const i = list.indexOf(item)
  if (i >= 0) list.splice(i, 1)
}

/**
 * The inbound budget's rules (src/core/link/inbound-budget.ts; docs/protocol/link.md, "Limits"),
 * deterministically: slots and the reserve bound what links hold, waiters are served in order (a
 * parked partial message first), a slot held too long while others wait is taken back
 * (`LINK_SLOW`), and a closed link gives everything back.
 */
import { describe, expect, it } from 'vitest'
import type { WireError } from '../../src/core/errors.js'
import { InboundBudget } from '../../src/core/link/inbound-budget.js'
import type { LinkTimers } from '../../src/core/link/link-adapter.js'

const MESSAGE = 1000
const FRAME = 100
const flush = (): Promise<void> => new Promise((r) => setTimeout(r, 0))

/** Timers fired by hand. */
function manualTimers(): LinkTimers & { fire(): void; pending(): number } {
  const timers = new Map<number, () => void>()
  let next = 0
  return {
    setTimeout: (fn) => {
      timers.set(++next, fn)
      return next
    },
    clearTimeout: (handle) => void timers.delete(handle as number),
    fire: () => {
      const due = [...timers.entries()]
      timers.clear()
      for (const [, fn] of due) fn()
    },
    pending: () => timers.size,
  }
}

function setup(budgetBytes: number, reserveFrames = 2) {
  const timers = manualTimers()
  const budget = new InboundBudget({ budgetBytes, messageBytes: MESSAGE, frameBytes: FRAME, reserveFrames, slotHoldMs: 1000, timers })
  const events: string[] = []
  const link = (name: string) => {
    const evicted: WireError[] = []
    const share = budget.holder(
      () => events.push(`ready ${name}`),
      (e) => {
        evicted.push(e)
        events.push(`evicted ${name}`)
      },
    )
    return { share, evicted }
  }
  return { budget, timers, events, link }
}

describe('the inbound budget', () => {
  it('cuts the budget into whole-message slots beside the reserve; refuses a budget with room for none', () => {
    expect(setup(2 * MESSAGE + 2 * FRAME).budget.slots).toBe(2)
    expect(setup(2 * MESSAGE + 2 * FRAME - 1).budget.slots).toBe(1)
    expect(() => setup(MESSAGE)).toThrow(expect.objectContaining({ name: 'ValidationError' }))
    expect(() => setup(Number.NaN)).toThrow(expect.objectContaining({ name: 'ValidationError' }))
  })

  it('single-frame messages pass on the reserve; a partial message takes a slot; beyond the slots links wait, and held bytes stay within the budget', async () => {
    const { budget, events, link } = setup(MESSAGE + 2 * FRAME)
    const a = link('a')
    const b = link('b')
    const c = link('c')
    // A whole small message: admitted, held while decoded, given back.
    expect(a.share.admit()).toBe(true)
    expect(a.share.received(FRAME, true)).toBe(true)
    expect(budget.stats().held).toBe(FRAME)
    a.share.done()
    expect(budget.stats().held).toBe(0)
    // a starts a long message: its first frame moves it to the only slot.
    expect(a.share.admit()).toBe(true)
    expect(a.share.received(FRAME, false)).toBe(true)
    // b starts one too: it reads its first frame on the reserve, then must wait for the slot.
    expect(b.share.admit()).toBe(true)
    expect(b.share.received(FRAME, false)).toBe(false)
    // c reads on the last reserve unit; it also starts a long message and parks behind b.
    expect(c.share.admit()).toBe(true)
    expect(c.share.received(FRAME, false)).toBe(false)
    expect(budget.stats()).toMatchObject({ held: 3 * FRAME, waiting: 2 })
    // a reads to the end of its message: 10 frames, never more than the slot.
    for (let i = 1; i < 9; i++) {
      expect(a.share.admit()).toBe(true)
      expect(a.share.received(FRAME, false)).toBe(true)
    }
    expect(a.share.admit()).toBe(true)
    expect(a.share.received(FRAME, true)).toBe(true)
    expect(budget.stats().held).toBe(MESSAGE + 2 * FRAME)
    a.share.done()
    await flush()
    // The slot went to b, the first parked, whose reserve unit is free again: a's next long
    // message reads its first frame on it and parks behind c.
    expect(events).toEqual(['ready b'])
    expect(a.share.admit()).toBe(true)
    expect(a.share.received(FRAME, false)).toBe(false)
    expect(b.share.admit()).toBe(true)
    expect(b.share.received(FRAME, true)).toBe(true)
    b.share.done()
    await flush()
    expect(events).toEqual(['ready b', 'ready c'])
    expect(c.share.admit()).toBe(true)
    expect(c.share.received(FRAME, true)).toBe(true)
    c.share.done()
    await flush()
    expect(events).toEqual(['ready b', 'ready c', 'ready a'])
    expect(budget.stats()).toMatchObject({ held: FRAME, waiting: 0 })
    expect(budget.stats().peak).toBeLessThanOrEqual(budget.budgetBytes)
  })

  it('a slot held longer than slotHoldMs while another link waits is taken back: LINK_SLOW', async () => {
    const { budget, timers, events, link } = setup(MESSAGE + 2 * FRAME, 1)
    const slow = link('slow')
    const honest = link('honest')
    expect(slow.share.admit()).toBe(true)
    expect(slow.share.received(FRAME, false)).toBe(true)
    // Its time is up but nobody waits: a slow sender may keep its slot…
    timers.fire()
    await flush()
    expect(slow.evicted).toEqual([])
    // …until a link waits for it.
    expect(honest.share.admit()).toBe(true)
    expect(honest.share.received(FRAME, false)).toBe(false)
    await flush()
    expect(slow.evicted.map((e) => `${e.name} ${e.code}`)).toEqual(['WireError LINK_SLOW'])
    await flush()
    expect(events).toEqual(['evicted slow', 'ready honest'])
    expect(budget.stats()).toMatchObject({ held: FRAME, evicted: 1, waiting: 0 })
    expect(honest.share.admit()).toBe(true)
    // A waiter that comes first: the holder keeps the slot until its time is up.
    const next = link('next')
    expect(next.share.admit()).toBe(true)
    expect(next.share.received(FRAME, false)).toBe(false)
    await flush()
    expect(honest.evicted).toEqual([])
    timers.fire()
    expect(honest.evicted.map((e) => e.code)).toEqual(['LINK_SLOW'])
    await flush()
    expect(events).toEqual(['evicted slow', 'ready honest', 'evicted honest', 'ready next'])
    expect(budget.stats()).toMatchObject({ held: FRAME, evicted: 2, waiting: 0 })
  })

  it('a closed link gives back its bytes, its slot and its place in the queue', async () => {
    const { budget, events, link } = setup(MESSAGE + FRAME, 1)
    const a = link('a')
    const b = link('b')
    const c = link('c')
    expect(a.share.admit()).toBe(true)
    expect(a.share.received(FRAME, false)).toBe(true)
    expect(b.share.admit()).toBe(true)
    expect(b.share.received(FRAME, false)).toBe(false)
    expect(c.share.admit()).toBe(false)
    c.share.close()
    a.share.close()
    a.share.close()
    await flush()
    expect(events).toEqual(['ready b'])
    b.share.close()
    expect(budget.stats()).toMatchObject({ held: 0, waiting: 0 })
  })
})

import type { Channel, MemoryHub } from './hub.js'

/** Relative weights of the actions {@link chaosStep} picks from. */
export interface ChaosWeights {
  /** Deliver the oldest queued message. */
  inOrder: number
  /** Deliver a random queued message (out of order). */
  reorder: number
  /** Deliver a copy of a random queued message and keep it queued (it will arrive twice). */
  duplicate: number
}

const DEFAULT_WEIGHTS: ChaosWeights = { inOrder: 6, reorder: 2, duplicate: 1 }

/**
 * One seeded step of a hostile network: picks a direction with queued messages among the
 * `manual` links of `hub` and delivers one message in order, out of order, or twice, by `weights`
 * (one set for all, or per direction, e.g. to give each link the behaviour of a different tier).
 * Returns what it did, or `undefined` when no manual link has anything queued.
 *
 * `random` returns floats in [0, 1) — pass a seeded generator so a failing run can be replayed.
 */
export function chaosStep(
  hub: MemoryHub,
  random: () => number,
  weights: ChaosWeights | ((channel: Channel) => ChaosWeights) = DEFAULT_WEIGHTS,
): { action: keyof ChaosWeights; channel: Channel; index: number } | undefined {
  const busy = hub.busyChannels().filter(ch => ch.link.mode === 'manual')
  if (busy.length === 0) return undefined
  const channel = busy[Math.floor(random() * busy.length)] as Channel
  const w = typeof weights === 'function' ? weights(channel) : weights
  const total = w.inOrder + w.reorder + w.duplicate
  let r = random() * total
  const n = channel.queue.length
  if ((r -= w.inOrder) < 0 || (n === 1 && w.duplicate === 0)) {
    channel.deliver(0)
    return { action: 'inOrder', channel, index: 0 }
  }
  const index = Math.floor(random() * n)
  if ((r -= w.reorder) < 0) {
    channel.deliver(index)
    return { action: 'reorder', channel, index }
  }
  channel.duplicate(index)
  return { action: 'duplicate', channel, index }
}

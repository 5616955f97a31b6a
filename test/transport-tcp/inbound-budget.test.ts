/**
 * The inbound budget across links (docs/protocol/link.md, "Limits") over real sockets on
 * 127.0.0.1: several members send large messages at once to one device; the bytes that device
 * holds in reassembly and decode at once (its own counter) never exceed the budget, and every
 * message arrives whole. Sizes are scaled down (1 MiB messages, a 1-slot budget) so the test is fast.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { Message, PeerId } from '@automerge/automerge-repo'
import { makeDevices, type TestDevice } from './setup.js'

const MESSAGE_LIMIT = 1024 * 1024
const RESERVE_FRAMES = 4
// One slot of one message, and the reserve (frames of 65 518 payload bytes): without the budget,
// the six members' messages are reassembled side by side (peaks of 1.8 MB measured here).
const BUDGET = MESSAGE_LIMIT + RESERVE_FRAMES * 65_518
const SENDERS = 6
const MESSAGES_EACH = 3
const DATA_BYTES = MESSAGE_LIMIT - 4096

describe('the inbound budget across members', () => {
  let devices: TestDevice[] = []
  afterEach(() => {
    for (const d of devices) d.adapter.disconnect()
    devices = []
  })

  it('six members sending 1 MiB messages at once: held bytes stay within the budget and every message arrives', async () => {
    devices = await makeDevices(1 + SENDERS, {
      perDevice: (i) => (i === 0 ? { maxMessageBytes: MESSAGE_LIMIT, inboundBudgetBytes: BUDGET, inboundReserveFrames: RESERVE_FRAMES } : {}),
    })
    const [receiver, ...senders] = devices
    const target = receiver!.identity.deviceId as unknown as PeerId
    receiver!.adapter.connect(target, {})
    expect(receiver!.adapter.inboundBudget()).toMatchObject({ budgetBytes: BUDGET, slots: 1, held: 0 })
    const received: Message[] = []
    receiver!.adapter.on('message', (m) => received.push(m))

    // Every sender joins first, then all send at once.
    await Promise.all(
      senders.map(async (s) => {
        const joined = new Promise<void>((resolve) => s.adapter.once('peer-candidate', () => resolve()))
        s.adapter.connect(s.identity.deviceId as unknown as PeerId, {})
        await s.adapter.dial('127.0.0.1', receiver!.port)
        await joined
      }),
    )
    let peak = 0
    const sampler = setInterval(() => (peak = Math.max(peak, receiver!.adapter.inboundBudget().held)), 1)
    for (const [i, s] of senders.entries()) {
      for (let k = 0; k < MESSAGES_EACH; k++) {
        const data = new Uint8Array(DATA_BYTES).fill(i * MESSAGES_EACH + k)
        s.adapter.send({ type: 'sync', senderId: s.identity.deviceId as unknown as PeerId, targetId: target, documentId: 'doc' as never, data } as Message)
      }
    }
    while (received.length < SENDERS * MESSAGES_EACH) await new Promise((r) => setTimeout(r, 20))
    clearInterval(sampler)

    const stats = receiver!.adapter.inboundBudget()
    // The counter saw the messages (at least one whole one held at once) and never went over.
    expect(stats.peak).toBeGreaterThanOrEqual(DATA_BYTES)
    expect(stats.peak).toBeLessThanOrEqual(BUDGET)
    expect(peak).toBeLessThanOrEqual(BUDGET)
    expect(stats).toMatchObject({ held: 0, waiting: 0, evicted: 0 })
    // Every message whole, in order per sender.
    const bySender = new Map<string, number[]>()
    for (const m of received) {
      const data = (m as { data: Uint8Array }).data
      expect(data.length).toBe(DATA_BYTES)
      expect(data.every((b) => b === data[0])).toBe(true)
      bySender.set(m.senderId, [...(bySender.get(m.senderId) ?? []), data[0]!])
    }
    expect(bySender.size).toBe(SENDERS)
    for (const [i, s] of senders.entries()) {
      expect(bySender.get(s.identity.deviceId)).toEqual(Array.from({ length: MESSAGES_EACH }, (_, k) => i * MESSAGES_EACH + k))
    }
  }, 30_000)
})

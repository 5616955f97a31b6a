/**
 * The inbound budget across links (docs/protocol/link.md, "Limits") over real sockets on
 * 127.0.0.1: several members send large messages at once to one device; the bytes that device
 * holds in reassembly and decode at once (its own counter) never exceed the budget, and every
 * message arrives whole; a member that starts a message and stalls is closed (`LINK_SLOW`) once
 * it held the slot too long while another waited, and the other's message then arrives. Sizes
 * and times are scaled down (1 MiB messages, a 1-slot budget, 300 ms) so the test is fast.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { connect } from 'node:net'
import type { Message, PeerId } from '@automerge/automerge-repo'
import { performHandshake } from '../../src/core/crypto/channel.js'
import { generateIdentity } from '../../src/core/crypto/identity.js'
import type { OrbitError } from '../../src/core/errors.js'
import type { DeviceId } from '../../src/core/ids.js'
import { FramedSocket } from '../../src/adapters/transport-tcp/framed-socket.js'
import { DEFAULT_MAX_FRAME_BYTES } from '../../src/adapters/transport-tcp/frames.js'
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

  it('a member that starts a large message and stalls is closed with LINK_SLOW; the waiting member’s message then arrives', async () => {
    const stallerIdentity = generateIdentity()
    // Members (read at each handshake): the two devices and the staller.
    const members = new Set<DeviceId>([stallerIdentity.deviceId])
    devices = await makeDevices(2, {
      perDevice: (i) => (i === 0 ? { maxMessageBytes: MESSAGE_LIMIT, inboundBudgetBytes: BUDGET, inboundReserveFrames: RESERVE_FRAMES, slotHoldMs: 300 } : {}),
      members,
    })
    for (const d of devices) members.add(d.identity.deviceId)
    const [receiver, honest] = devices
    const target = receiver!.identity.deviceId as unknown as PeerId
    receiver!.adapter.connect(target, {})
    const errors: OrbitError[] = []
    receiver!.adapter.on2('connection-error', (e) => errors.push(e.error))
    const received: Message[] = []
    receiver!.adapter.on('message', (m) => received.push(m))

    // The staller: the real handshake, then the first half of a message's frames, then nothing.
    const socket = connect({ host: '127.0.0.1', port: receiver!.port })
    socket.on('error', () => undefined)
    await new Promise((r) => socket.once('connect', r))
    const framed = new FramedSocket(socket, DEFAULT_MAX_FRAME_BYTES)
    const session = await performHandshake(framed.io, { identity: stallerIdentity, role: 'initiator', authorize: () => 'member', timeoutMs: 5000 })
    framed.onFrame = () => undefined
    const frames = session.encrypt(new Uint8Array(DATA_BYTES))
    for (const f of frames.slice(0, frames.length >> 1)) framed.send(f)
    while (receiver!.adapter.inboundBudget().held === 0) await new Promise((r) => setTimeout(r, 10))

    // The honest member's large message waits for the slot, then arrives.
    const joined = new Promise<void>((resolve) => honest!.adapter.once('peer-candidate', () => resolve()))
    honest!.adapter.connect(honest!.identity.deviceId as unknown as PeerId, {})
    await honest!.adapter.dial('127.0.0.1', receiver!.port)
    await joined
    honest!.adapter.send({ type: 'sync', senderId: honest!.identity.deviceId as unknown as PeerId, targetId: target, documentId: 'doc' as never, data: new Uint8Array(DATA_BYTES).fill(7) } as Message)
    while (received.length === 0) await new Promise((r) => setTimeout(r, 20))
    expect((received[0] as { data: Uint8Array }).data.length).toBe(DATA_BYTES)
    expect(errors.map((e) => `${e.name} ${e.code}`)).toContain('WireError LINK_SLOW')
    expect(receiver!.adapter.inboundBudget()).toMatchObject({ evicted: 1, held: 0, waiting: 0 })
    while (framed.closedReason === undefined) await new Promise((r) => setTimeout(r, 10))
  }, 30_000)
})

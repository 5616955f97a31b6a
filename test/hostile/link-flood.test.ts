/**
 * The link's flood bound (docs/protocol/link.md, "Limits") with an injected clock, in memory: a
 * burst up to the bucket passes, one more closes the link with LINK_FLOOD and nothing after it
 * reaches the Repo; a remote that keeps to the rate is never closed; envelopes queued behind an
 * asynchronous authorization answer are bounded too; a closed flooder's new links are refused
 * for a cooldown that grows on repeat, and it is told so (`LINK_COOLDOWN`).
 */
import { describe, expect, it } from 'vitest'
import type { PeerId } from '@automerge/automerge-repo'
import type { OrbitError } from '../../src/core/errors.js'
import type { DeviceId } from '../../src/core/ids.js'
import { decodeControl, decodeEnvelope, encodeHello, encodeSync } from '../../src/core/link/envelope.js'
import { LinkCooldown } from '../../src/core/link/cooldown.js'
import { MAX_INBOX_ENVELOPES } from '../../src/core/link/link.js'
import type { LinkAdapterOptions } from '../../src/core/link/link-adapter.js'
import { MemoryLinkAdapter, memoryPipePair } from '../link/memory.js'

const me = 'aaaa-device' as DeviceId
const them = 'zzzz-device' as DeviceId
const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 5))
const sync = (i: number): Uint8Array => encodeSync(1, { type: 'ephemeral', senderId: them, targetId: me, documentId: 'd', sessionId: 's', count: i, data: Uint8Array.of(i & 0xff) } as never)

function host(options: LinkAdapterOptions) {
  const host = new MemoryLinkAdapter({ localDeviceId: me, ...options })
  const errors: OrbitError[] = []
  const messages: unknown[] = []
  host.on2('link-error', (e) => errors.push(e.error))
  host.on('message', (m) => messages.push(m))
  host.connect(me as unknown as PeerId, {})
  /** A new raw link from `them`, hello sent; `received` collects what the host sends on it. */
  const open = () => {
    const [hostEnd, raw] = memoryPipePair(me, them)
    const received: Uint8Array[] = []
    raw.onBytes((b) => received.push(b))
    host.attach(hostEnd, 'remote')
    raw.send(encodeHello({ versions: [1], peerId: them as unknown as PeerId, peerMetadata: {}, features: [1, 2, 5] }))
    return { raw, received }
  }
  const { raw, received } = open()
  return { host, raw, received, errors, messages, open }
}

/** The control envelopes among `bytes`. */
const controls = (bytes: Uint8Array[]) => bytes.map((b) => decodeEnvelope(b)).filter((e) => e.kind === 5).map((e) => decodeControl(e.payload))

describe('the link’s flood bound', () => {
  it('a burst beyond the bucket closes the link with LINK_FLOOD; nothing after it reaches the Repo', async () => {
    let now = 1000
    const { raw, errors, messages } = host({ maxEnvelopesPerSecond: 10, envelopeBurst: 50, now: () => now })
    await tick()
    // The hello took one token: 49 more pass, the 50th sync envelope is one too many.
    for (let i = 0; i < 60; i++) raw.send(sync(i))
    await tick()
    expect(messages).toHaveLength(49)
    expect(errors.map((e) => `${e.name} ${e.code}`)).toEqual(['WireError LINK_FLOOD'])
    expect(raw.closed).toBe(true)
    now += 60_000
    raw.send(sync(99))
    await tick()
    expect(messages).toHaveLength(49)
  })

  it('a remote that keeps to the rate is never closed, however long it sends', async () => {
    let now = 1000
    const { raw, errors, messages } = host({ maxEnvelopesPerSecond: 10, envelopeBurst: 50, now: () => now })
    await tick()
    for (let second = 0; second < 100; second++) {
      for (let i = 0; i < 10; i++) raw.send(sync(i))
      await tick()
      now += 1000
    }
    expect(errors).toEqual([])
    expect(messages).toHaveLength(1000)
    expect(raw.closed).toBe(false)
  })

  it('at most MAX_INBOX_ENVELOPES wait behind an asynchronous authorization answer', async () => {
    let allow: (ok: boolean) => void = () => undefined
    const { raw, errors, messages } = host({ authorize: () => new Promise<boolean>((r) => (allow = r)) })
    await tick()
    for (let i = 0; i < MAX_INBOX_ENVELOPES + 10; i++) raw.send(sync(i))
    await tick()
    allow(true)
    await tick()
    expect(errors.map((e) => e.code)).toEqual(['LINK_FLOOD'])
    expect(messages).toEqual([])
  })

  it('a closed flooder’s new links are refused for a cooldown that doubles on repeat; it is told LINK_COOLDOWN and when to retry', async () => {
    let now = 1000
    const { host: h, raw, errors, messages, open } = host({ maxEnvelopesPerSecond: 10, envelopeBurst: 20, floodCooldownMs: 10_000, now: () => now })
    await tick()
    for (let i = 0; i < 30; i++) raw.send(sync(i))
    await tick()
    expect(raw.closed).toBe(true)
    expect(h.coolingDown(them)).toBe(10_000)
    // At once: refused before any hello, told why and for how long; nothing reaches the Repo.
    now += 4000
    const again = open()
    await tick()
    expect(again.raw.closed).toBe(true)
    expect(controls(again.received)).toEqual([{ type: 'goodbye', reason: 'cooldown', retryAfterMs: 6000 }])
    again.raw.send(sync(100))
    await tick()
    expect(errors.map((e) => e.code)).toEqual(['LINK_FLOOD', 'LINK_COOLDOWN'])
    // After the cooldown: a new link carries the Repo again, with a fresh bucket.
    now += 6000
    const later = open()
    await tick()
    expect(later.raw.closed).toBe(false)
    later.raw.send(sync(200))
    await tick()
    expect(messages).toHaveLength(20)
    // A second flood: twice as long.
    for (let i = 0; i < 30; i++) later.raw.send(sync(i))
    await tick()
    expect(later.raw.closed).toBe(true)
    expect(h.coolingDown(them)).toBe(20_000)
  })

  it('the refused device’s own link host reports LINK_COOLDOWN and keeps the time to wait', async () => {
    const now = 1000
    const { host: h, raw } = host({ maxEnvelopesPerSecond: 10, envelopeBurst: 5, now: () => now })
    await tick()
    for (let i = 0; i < 10; i++) raw.send(sync(i))
    await tick()
    expect(raw.closed).toBe(true)
    // The flooder, as a real link host this time.
    const flooder = new MemoryLinkAdapter({ localDeviceId: them })
    const seen: OrbitError[] = []
    flooder.on2('link-error', (e) => seen.push(e.error))
    flooder.connect(them as unknown as PeerId, {})
    const [hostEnd, flooderEnd] = memoryPipePair(me, them)
    h.attach(hostEnd, 'remote')
    const link = flooder.attach(flooderEnd, 'local')
    await tick()
    expect(seen.map((e) => `${e.name} ${e.code}`)).toEqual(['WireError LINK_COOLDOWN'])
    expect(link.closed).toBe(true)
    expect(link.retryAfterMs).toBe(10_000)
  })

  it('the cooldown table is bounded: the device struck longest ago is forgotten first', () => {
    let now = 0
    const cooldown = new LinkCooldown({ baseMs: 1000, maxMs: 4000, maxDevices: 3, now: () => now })
    expect(cooldown.strike('a')).toEqual({ ms: 1000, strikes: 1 })
    expect(cooldown.strike('a')).toEqual({ ms: 2000, strikes: 2 })
    expect(cooldown.strike('a')).toEqual({ ms: 4000, strikes: 3 })
    expect(cooldown.strike('a')).toEqual({ ms: 4000, strikes: 4 })
    for (const id of ['b', 'c', 'd']) cooldown.strike(id)
    expect(cooldown.size).toBe(3)
    expect(cooldown.remaining('a')).toBe(0)
    expect(cooldown.remaining('b')).toBe(1000)
    now += 600
    expect(cooldown.remaining('b')).toBe(400)
    // Strikes are forgotten after a quiet hour: the next one starts over.
    now += 60 * 60_000
    expect(cooldown.strike('b')).toEqual({ ms: 1000, strikes: 1 })
    expect(cooldown.size).toBe(1)
  })
})

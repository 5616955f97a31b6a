/**
 * The link's flood bound (docs/protocol/link.md, "Limits") with an injected clock, in memory: a
 * burst up to the bucket passes, one more closes the link with LINK_FLOOD and nothing after it
 * reaches the Repo; a remote that keeps to the rate is never closed; envelopes queued behind an
 * asynchronous authorization answer are bounded too.
 */
import { describe, expect, it } from 'vitest'
import type { PeerId } from '@automerge/automerge-repo'
import type { OrbitError } from '../../src/core/errors.js'
import type { DeviceId } from '../../src/core/ids.js'
import { encodeHello, encodeSync } from '../../src/core/link/envelope.js'
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
  const [hostEnd, raw] = memoryPipePair(me, them)
  host.attach(hostEnd)
  raw.send(encodeHello({ versions: [1], peerId: them as unknown as PeerId, peerMetadata: {}, features: [1, 2, 5] }))
  return { raw, errors, messages }
}

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
})

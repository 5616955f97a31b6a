/**
 * The acceptance suite for "a byte pipe carries the link" (docs/protocol/link.md): whatever moves
 * the bytes — memory, TCP, a WebRTC data channel — two link hosts on either end must exchange
 * hellos and summaries, carry the Repo, and answer every kind of bad input the same way.
 * test/link/acceptance-*.test.ts run it per transport.
 */
import { describe, expect, it } from 'vitest'
import { Repo, type DocHandle, type PeerId } from '@automerge/automerge-repo'
import type { OrbitError } from '../../src/core/errors.js'
import type { DeviceId } from '../../src/core/ids.js'
import { EnvelopeKind, encodeEnvelope, type DocSummary } from '../../src/core/link/envelope.js'
import type { NetworkAdapter } from '@automerge/automerge-repo'
import type { LinkNetworkAdapter } from '../../src/core/link/link-adapter.js'
import type { Link, LinkAuthorize } from '../../src/core/link/link.js'

/** What the suite uses of a link host (TCP's and WebRTC's add their own events). */
export type LinkHost = NetworkAdapter & Pick<LinkNetworkAdapter, 'on2' | 'connectedDevices'>

/** One end of a pair under test. */
export interface LinkSide {
  adapter: LinkHost
  deviceId: DeviceId
  /** This side's link to the other (for raw writes), once it exists. */
  link(): Link | undefined
}

export interface LinkPair {
  left: LinkSide
  right: LinkSide
  /** Opens the pipe (dial, offer/answer, attach) once both Repos exist. Never redials. */
  open(): Promise<void>
  close(): Promise<void>
}

/** What the suite varies per side. */
export interface SideOptions {
  summary?: () => DocSummary | undefined
  authorize?: LinkAuthorize
  versions?: number[]
  /** The Repo's peer id on this side when it is not the device id (a spoofing peer). */
  peerId?: string
}

export type PairFactory = (left: SideOptions, right: SideOptions) => Promise<LinkPair>

const head = (n: number): string => n.toString(16).padStart(64, '0')

/** Resolves with the first `link-error` on `adapter` whose code is `code`. */
function linkError(adapter: LinkHost, code: string): Promise<{ error: OrbitError; closing: boolean }> {
  return new Promise((resolve) => {
    const off = adapter.on2('link-error', (e) => {
      if (e.error.code !== code) return
      off()
      resolve(e)
    })
  })
}

function once(emitter: NetworkAdapter | Repo['networkSubsystem'], event: 'peer-candidate' | 'peer-disconnected'): Promise<unknown> {
  return new Promise((resolve) => (emitter as NetworkAdapter).once(event, resolve))
}

async function until(condition: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

interface Live {
  pair: LinkPair
  leftRepo: Repo
  rightRepo: Repo
}

/** Builds a pair, puts a Repo on each side, opens the pipe and waits until both peers are announced. */
async function live(makePair: PairFactory, left: SideOptions = {}, right: SideOptions = {}, wait = true): Promise<Live> {
  const pair = await makePair(left, right)
  const leftRepo = new Repo({ network: [pair.left.adapter], peerId: (left.peerId ?? pair.left.deviceId) as PeerId })
  const rightRepo = new Repo({ network: [pair.right.adapter], peerId: (right.peerId ?? pair.right.deviceId) as PeerId })
  const announced = Promise.all([once(pair.left.adapter, 'peer-candidate'), once(pair.right.adapter, 'peer-candidate')])
  const opened = pair.open().catch(() => undefined)
  if (wait) await Promise.all([announced, opened])
  return { pair, leftRepo, rightRepo }
}

async function shared(l: Live): Promise<[DocHandle<{ n: number; note?: string }>, DocHandle<{ n: number; note?: string }>]> {
  const a = l.leftRepo.create<{ n: number; note?: string }>({ n: 1 })
  const b = await l.rightRepo.find<{ n: number; note?: string }>(a.url)
  await until(() => b.doc()?.n === 1, 'the document to reach the right side')
  return [a, b]
}

async function stop(l: Live): Promise<void> {
  await l.pair.close()
  await Promise.allSettled([l.leftRepo.shutdown(), l.rightRepo.shutdown()])
}

export function runLinkPipeSuite(name: string, makePair: PairFactory, options: { timeoutMs?: number } = {}): void {
  const t = options.timeoutMs ?? 30_000
  describe(`a byte pipe carries the link (${name})`, () => {
    it('exchanges hellos: each side hears the other’s summary (peer-summary) before peer-candidate', async () => {
      const summary = { docA: [head(1), head(2)] }
      const pair = await makePair({ summary: () => summary }, {})
      const order: string[] = []
      const got: unknown[] = []
      pair.right.adapter.on2('peer-summary', (info) => {
        order.push('summary')
        got.push(info)
      })
      pair.right.adapter.on('peer-candidate', () => order.push('candidate'))
      const leftSummaries: unknown[] = []
      pair.left.adapter.on2('peer-summary', (info) => leftSummaries.push(info.summary))
      const l = await live(async () => pair)
      try {
        expect(order).toEqual(['summary', 'candidate'])
        expect(got).toEqual([{ deviceId: pair.left.deviceId, peerId: pair.left.deviceId, summary }])
        expect(leftSummaries).toEqual([undefined])
        expect(pair.left.adapter.connectedDevices()).toEqual([{ deviceId: pair.right.deviceId, peerId: pair.right.deviceId }])
      } finally {
        await stop(l)
      }
    }, t)

    it('carries the Repo’s sync both ways', async () => {
      const l = await live(makePair)
      try {
        const [a, b] = await shared(l)
        b.change((d) => (d.note = 'from the right'))
        await until(() => a.doc()?.note === 'from the right', 'the change to reach the left side')
      } finally {
        await stop(l)
      }
    }, t)

    it('drops an unknown kind (LINK_UNKNOWN_KIND), tells the sender, and keeps the link usable', async () => {
      const l = await live(makePair)
      try {
        const [a, b] = await shared(l)
        const dropped = linkError(l.pair.left.adapter, 'LINK_UNKNOWN_KIND')
        const told = linkError(l.pair.right.adapter, 'LINK_PEER_UNSUPPORTED')
        l.pair.right.link()!.sendRaw(encodeEnvelope(1, 0x63, Uint8Array.of(1, 2, 3)))
        expect((await dropped).closing).toBe(false)
        expect((await told).error.message).toContain('kind 99')
        b.change((d) => (d.note = 'after the unknown kind'))
        await until(() => a.doc()?.note === 'after the unknown kind', 'a change after the unknown kind')
      } finally {
        await stop(l)
      }
    }, t)

    it('carries blob envelopes to the host, naming the link-authenticated sender; a malformed one closes (BLOB_MALFORMED)', async () => {
      const l = await live(makePair)
      try {
        await shared(l)
        const got = new Promise<{ deviceId: DeviceId; message: unknown }>((resolve) => {
          const off = l.pair.left.adapter.on2('blob', (e) => {
            off()
            resolve(e)
          })
        })
        const right = l.pair.right.adapter as unknown as LinkNetworkAdapter
        expect(right.blobPeers()).toEqual([l.pair.left.deviceId])
        const piece = new Uint8Array(64 * 1024).fill(9)
        const hash = 'c'.repeat(64)
        expect(right.sendBlob(l.pair.left.deviceId, { type: 'data', id: 1, hash: hash as never, offset: 0, bytes: piece })).toBe(true)
        const e = await got
        expect(e.deviceId).toBe(l.pair.right.deviceId)
        expect(e.message).toEqual({ type: 'data', id: 1, hash, offset: 0, bytes: piece })
        const failed = linkError(l.pair.left.adapter, 'BLOB_MALFORMED')
        l.pair.right.link()!.sendRaw(encodeEnvelope(1, EnvelopeKind.Blob, new Uint8Array(64)))
        expect((await failed).closing).toBe(true)
      } finally {
        await stop(l)
      }
    }, t)

    it('carries signal envelopes to the host, naming the link-authenticated sender; a malformed one closes (LINK_BAD_SIGNAL)', async () => {
      const l = await live(makePair)
      try {
        await shared(l)
        const got = new Promise<{ deviceId: DeviceId; signal: unknown }>((resolve) => {
          const off = l.pair.left.adapter.on2('signal', (e) => {
            off()
            resolve(e)
          })
        })
        const right = l.pair.right.adapter as unknown as LinkNetworkAdapter
        expect(right.signalPeers()).toEqual([l.pair.left.deviceId])
        const member = 'a'.repeat(32)
        expect(right.sendSignal(l.pair.left.deviceId, { type: 'routes', members: [member] })).toBe(true)
        const e = await got
        expect(e.deviceId).toBe(l.pair.right.deviceId)
        expect(e.signal).toEqual({ type: 'routes', members: [member] })
        const failed = linkError(l.pair.left.adapter, 'LINK_BAD_SIGNAL')
        l.pair.right.link()!.sendRaw(encodeEnvelope(1, EnvelopeKind.Signal, new Uint8Array(64)))
        expect((await failed).closing).toBe(true)
      } finally {
        await stop(l)
      }
    }, t)

    it('drops an envelope of a version the link did not negotiate (LINK_VERSION) and stays up', async () => {
      const l = await live(makePair)
      try {
        const [a, b] = await shared(l)
        const dropped = linkError(l.pair.left.adapter, 'LINK_VERSION')
        l.pair.right.link()!.sendRaw(encodeEnvelope(9, EnvelopeKind.Sync, Uint8Array.of(0xa0)))
        expect((await dropped).closing).toBe(false)
        b.change((d) => (d.note = 'after the stray version'))
        await until(() => a.doc()?.note === 'after the stray version', 'a change after the stray version')
      } finally {
        await stop(l)
      }
    }, t)

    it('closes on a truncated or malformed envelope; nothing of it reaches the Repo', async () => {
      for (const bytes of [Uint8Array.of(1), encodeEnvelope(1, EnvelopeKind.Sync, Uint8Array.of(0xa1, 0x61)), encodeEnvelope(1, EnvelopeKind.Hello, Uint8Array.of(1))]) {
        const l = await live(makePair)
        try {
          const messages: unknown[] = []
          l.pair.left.adapter.on('message', (m) => messages.push(m))
          const closed = once(l.pair.left.adapter, 'peer-disconnected')
          const failed = new Promise<OrbitError>((resolve) => l.pair.left.adapter.on2('link-error', (e) => e.closing && resolve(e.error)))
          l.pair.right.link()!.sendRaw(bytes)
          const error = await failed
          expect(error.name).toBe('WireError')
          expect(['LINK_TRUNCATED', 'LINK_BAD_SYNC', 'LINK_UNEXPECTED_HELLO', 'LINK_BAD_HELLO']).toContain(error.code)
          await closed
          expect(messages).toEqual([])
        } finally {
          await stop(l)
        }
      }
    }, t * 2)

    it('a device revoked mid-link: its next envelope is dropped (LINK_REVOKED), the link closed, nothing written', async () => {
      let member = true
      const l = await live(makePair, { authorize: () => member })
      try {
        const [a, b] = await shared(l)
        const messages: unknown[] = []
        l.pair.left.adapter.on('message', (m) => messages.push(m))
        const revoked = linkError(l.pair.left.adapter, 'LINK_REVOKED')
        const gone = once(l.pair.left.adapter, 'peer-disconnected')
        member = false
        b.change((d) => (d.note = 'written after the revocation'))
        expect((await revoked).closing).toBe(true)
        await gone
        expect(messages).toEqual([])
        expect(a.doc()?.note).toBeUndefined()
      } finally {
        await stop(l)
      }
    }, t)

    it('refuses a hello whose peer id is not the authenticated device (PEER_ID_MISMATCH); the Repo hears nothing', async () => {
      const pair = await makePair({}, { peerId: 'someone-else' })
      let candidates = 0
      pair.left.adapter.on('peer-candidate', () => candidates++)
      const refused = new Promise<{ error: OrbitError; closing: boolean }>((resolve) => pair.left.adapter.on2('link-error', (e) => e.error.code === 'PEER_ID_MISMATCH' && resolve(e)))
      const l = await live(async () => pair, {}, { peerId: 'someone-else' }, false)
      try {
        const e = await refused
        expect(e.error.name).toBe('HandshakeError')
        expect(e.closing).toBe(true)
        expect(candidates).toBe(0)
        expect(pair.left.adapter.connectedDevices()).toEqual([])
      } finally {
        await stop(l)
      }
    }, t)

    it('no common version: both close with LINK_VERSION naming what the other speaks, before the Repo hears of the peer', async () => {
      const pair = await makePair({ versions: [1] }, { versions: [2, 3] })
      let candidates = 0
      pair.left.adapter.on('peer-candidate', () => candidates++)
      pair.right.adapter.on('peer-candidate', () => candidates++)
      const older = linkError(pair.left.adapter, 'LINK_VERSION')
      const newer = linkError(pair.right.adapter, 'LINK_VERSION')
      const l = await live(async () => pair, {}, {}, false)
      try {
        const [o, n] = await Promise.all([older, newer])
        expect(o.closing && n.closing).toBe(true)
        expect(o.error.message).toMatch(/2, 3/)
        expect(n.error.message).toMatch(/\b1\b/)
        expect(candidates).toBe(0)
      } finally {
        await stop(l)
      }
    }, t)

    it('tells the other side when one side’s Repo goes (goodbye or leave): peer-disconnected at once', async () => {
      const l = await live(makePair)
      try {
        const gone = once(l.pair.left.adapter, 'peer-disconnected')
        l.pair.right.adapter.disconnect()
        await gone
        expect(l.pair.left.adapter.connectedDevices()).toEqual([])
      } finally {
        await stop(l)
      }
    }, t)
  })
}

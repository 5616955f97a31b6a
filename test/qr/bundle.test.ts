import * as Automerge from '@automerge/automerge'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { generateIdentity, type DeviceIdentity } from '../../src/core/crypto/identity.js'
import { applyBundle, createBundle, openBundle, peekBundleWorkspace } from '../../src/core/qr/bundle.js'
import { FrameDecoder, encodeFrames } from '../../src/core/qr/frame.js'

type Doc = { items: string[] }
const WS = 'ws_aaaaaaaaaaaaaaaaaaaaaaaaaa'

function devices(): { a: DeviceIdentity; b: DeviceIdentity; keys: Map<string, Uint8Array> } {
  const a = generateIdentity()
  const b = generateIdentity()
  return { a, b, keys: new Map([[a.deviceId, a.publicKey], [b.deviceId, b.publicKey]]) }
}

function docWith(...items: string[]): Automerge.Doc<Doc> {
  return Automerge.change(Automerge.init<Doc>(), (d) => {
    d.items = items
  })
}

describe('QR sync bundle (sealed)', () => {
  it('round trip: export, frames, import, apply; the reply is minimal and completes a bidirectional sync', () => {
    const { a, b, keys } = devices()
    const resolveSender = (id: string) => keys.get(id)
    let docA = docWith('from a')
    const bundle = createBundle({
      workspaceId: WS,
      sender: a,
      recipients: [{ deviceId: b.deviceId, publicKey: b.publicKey }],
      docs: [{ documentId: 'doc1', doc: docA }],
      pendingBlobs: ['f'.repeat(64)],
    })
    expect(peekBundleWorkspace(bundle)).toBe(WS)
    const dec = new FrameDecoder()
    for (const f of encodeFrames(bundle)) dec.push(f)
    const opened = openBundle(dec.result()!, { me: b, resolveSender, workspaceId: WS })
    expect(opened.senderId).toBe(a.deviceId)
    expect(opened.pendingBlobs).toEqual(['f'.repeat(64)])
    const atB = applyBundle<Doc>(opened, () => undefined, [])
    expect(atB.status).toBe('applied')
    const docB = Automerge.change(atB.docs[0]!.doc, (d) => {
      d.items.push('from b')
    })

    const reply = createBundle({
      workspaceId: WS,
      sender: b,
      recipients: [{ deviceId: a.deviceId, publicKey: a.publicKey }],
      docs: [{ documentId: 'doc1', doc: docB }],
      knownHeads: atB.senderHeads,
    })
    const replyFrames = encodeFrames(reply)
    expect(replyFrames).toHaveLength(1)
    const atA = applyBundle<Doc>(openBundle(reply, { me: a, resolveSender, workspaceId: WS }), () => docA, ['doc1'])
    docA = atA.docs[0]!.doc
    expect(docA.items).toEqual(['from a', 'from b'])
    expect(Automerge.getHeads(docA)).toEqual(Automerge.getHeads(docB))
  })

  it('one edit each way fits one frame each way', () => {
    const { a, b, keys } = devices()
    const resolveSender = (id: string) => keys.get(id)
    // A CRM-sized shared history: 300 items, both sides in sync.
    const shared = docWith(...Array.from({ length: 300 }, (_, i) => `contact ${i} with some text`))
    let docA = Automerge.clone(shared)
    let docB = Automerge.clone(shared)
    const known = { d: Automerge.getHeads(shared) }
    docA = Automerge.change(docA, (d) => {
      d.items[5] = 'edited on a'
    })
    const toB = createBundle({ workspaceId: WS, sender: a, recipients: [{ deviceId: b.deviceId, publicKey: b.publicKey }], docs: [{ documentId: 'd', doc: docA }], knownHeads: known })
    expect(encodeFrames(toB)).toHaveLength(1)
    const atB = applyBundle<Doc>(openBundle(toB, { me: b, resolveSender, workspaceId: WS }), () => docB, ['d'])
    docB = Automerge.change(atB.docs[0]!.doc, (d) => {
      d.items[7] = 'edited on b'
    })
    const toA = createBundle({ workspaceId: WS, sender: b, recipients: [{ deviceId: a.deviceId, publicKey: a.publicKey }], docs: [{ documentId: 'd', doc: docB }], knownHeads: atB.senderHeads })
    expect(encodeFrames(toA)).toHaveLength(1)
    docA = applyBundle<Doc>(openBundle(toA, { me: a, resolveSender, workspaceId: WS }), () => docA, ['d']).docs[0]!.doc
    expect(docA.items[5]).toBe('edited on a')
    expect(docA.items[7]).toBe('edited on b')
  })

  it('a bundle of another workspace is refused before decryption', () => {
    const { a, b, keys } = devices()
    const bundle = createBundle({ workspaceId: 'ws_other', sender: a, recipients: [{ deviceId: b.deviceId, publicKey: b.publicKey }], docs: [{ documentId: 'd', doc: docWith('x') }] })
    expect(() => openBundle(bundle, { me: b, resolveSender: (id) => keys.get(id), workspaceId: WS })).toThrow(
      expect.objectContaining({ name: 'QrError', code: 'QR_FOREIGN_WORKSPACE' }),
    )
  })

  it('a forged header (workspace id swapped) fails the seal', () => {
    const { a, b, keys } = devices()
    const bundle = createBundle({ workspaceId: 'ws_bbbbbbbbbbbbbbbbbbbbbbbbbb', sender: a, recipients: [{ deviceId: b.deviceId, publicKey: b.publicKey }], docs: [{ documentId: 'd', doc: docWith('x') }] })
    const forged = bundle.slice()
    forged.set(new TextEncoder().encode(WS), 5)
    expect(() => openBundle(forged, { me: b, resolveSender: (id) => keys.get(id), workspaceId: WS })).toThrow(
      expect.objectContaining({ name: 'QrError', code: 'QR_SEAL' }),
    )
  })

  it('unknown senders, non-recipients and tampering are refused', () => {
    const { a, b, keys } = devices()
    const c = generateIdentity()
    const bundle = createBundle({ workspaceId: WS, sender: a, recipients: [{ deviceId: b.deviceId, publicKey: b.publicKey }], docs: [{ documentId: 'd', doc: docWith('x') }] })
    const qr = expect.objectContaining({ name: 'QrError', code: 'QR_SEAL' })
    expect(() => openBundle(bundle, { me: b, resolveSender: () => undefined, workspaceId: WS })).toThrow(qr)
    expect(() => openBundle(bundle, { me: c, resolveSender: (id) => keys.get(id), workspaceId: WS })).toThrow(qr)
    const tampered = bundle.slice()
    tampered[tampered.length - 100]! ^= 1
    expect(() => openBundle(tampered, { me: b, resolveSender: (id) => keys.get(id), workspaceId: WS })).toThrow(qr)
  })

  it('a replay after newer changes is reported as nothing new and changes nothing', () => {
    const { a, b, keys } = devices()
    const v1 = docWith('one')
    const old = createBundle({ workspaceId: WS, sender: a, recipients: [{ deviceId: b.deviceId, publicKey: b.publicKey }], docs: [{ documentId: 'd', doc: v1 }] })
    const newer = Automerge.change(Automerge.clone(v1), (d) => {
      d.items.push('two')
    })
    const result = applyBundle<Doc>(openBundle(old, { me: b, resolveSender: (id) => keys.get(id), workspaceId: WS }), () => newer)
    expect(result.status).toBe('nothing-new')
    expect(result.docs[0]!.doc).toBe(newer)
    expect(newer.items).toEqual(['one', 'two'])
  })

  it('openBundle throws only QrError on arbitrary bytes (fuzz)', () => {
    const { a, b, keys } = devices()
    const good = createBundle({ workspaceId: WS, sender: a, recipients: [{ deviceId: b.deviceId, publicKey: b.publicKey }], docs: [{ documentId: 'd', doc: docWith('x') }] })
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 400 }),
          fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })).map(([pos, x]) => {
            const g = good.slice()
            g[pos % g.length]! ^= x
            return g
          }),
          fc.nat().map((cut) => good.slice(0, cut % good.length)),
        ),
        (input) => {
          try {
            openBundle(input, { me: b, resolveSender: (id) => keys.get(id), workspaceId: WS })
          } catch (error) {
            expect((error as Error).name).toBe('QrError')
          }
        },
      ),
      { numRuns: 500 },
    )
  })
})

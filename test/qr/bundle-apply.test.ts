import * as Automerge from '@automerge/automerge'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { applyChanges, collectChanges, type Heads } from '../../src/core/qr/apply.js'
import { decodePayload, encodePayload } from '../../src/core/qr/bundle-codec.js'

type Doc = { items: string[]; title?: string }

function edit(doc: Automerge.Doc<Doc>, fn: (d: Doc) => void): Automerge.Doc<Doc> {
  return Automerge.change(doc, fn)
}

function base(): Automerge.Doc<Doc> {
  return Automerge.change(Automerge.init<Doc>(), (d) => {
    d.items = []
  })
}

describe('bundle payload codec', () => {
  it('round-trips docs, heads and pending blobs', () => {
    const doc = edit(base(), (d) => d.items.push('a'))
    const payload = {
      workspaceId: 'ws_x',
      docs: [{ documentId: 'doc-1', changes: Automerge.save(doc), heads: Automerge.getHeads(doc) }],
      pendingBlobs: ['a'.repeat(64)],
      unchanged: { count: 3, digest: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]) },
    }
    expect(decodePayload(encodePayload(payload))).toEqual(payload)
  })

  it('throws only QrError on damaged payloads (fuzz)', () => {
    const doc = edit(base(), (d) => d.items.push('hello'))
    const good = encodePayload({
      workspaceId: 'ws_y',
      docs: [{ documentId: 'd', changes: Automerge.save(doc), heads: Automerge.getHeads(doc) }],
      pendingBlobs: [],
    })
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })).map(([pos, x]) => {
            const g = good.slice()
            g[pos % g.length]! ^= x
            return g
          }),
          fc.nat().map((cut) => good.slice(0, cut % good.length)),
        ),
        (input) => {
          try {
            decodePayload(input)
          } catch (error) {
            expect((error as Error).name).toBe('QrError')
          }
        },
      ),
      { numRuns: 1500 },
    )
  })

  it('refuses a lying uncompressed length', () => {
    const good = encodePayload({ workspaceId: 'w', docs: [], pendingBlobs: [] })
    const bad = good.slice()
    bad[3] = bad[3]! + 1
    expect(() => decodePayload(bad)).toThrow(expect.objectContaining({ name: 'QrError' }))
  })
})

describe('collect and apply', () => {
  it('sends every change since the known heads (not only the first) and applies them all', () => {
    let a = base()
    const b0 = Automerge.clone(a)
    const known: Record<string, Heads> = { d: Automerge.getHeads(a) }
    for (let i = 0; i < 5; i++) a = edit(a, (d) => d.items.push(`item ${i}`))
    const docs = collectChanges([{ documentId: 'd', doc: a }], known).docs
    expect(docs).toHaveLength(1)
    const result = applyChanges<Doc>(docs, (id) => (id === 'd' ? b0 : undefined))
    expect(result.status).toBe('applied')
    expect(result.docs[0]!.doc.items).toEqual(['item 0', 'item 1', 'item 2', 'item 3', 'item 4'])
    expect(result.senderHeads).toEqual({ d: Automerge.getHeads(a) })
    // The receiver's own document object was not touched.
    expect(b0.items).toEqual([])
  })

  it('without known heads sends everything; unknown documents are created', () => {
    const a = edit(base(), (d) => d.items.push('x'))
    const docs = collectChanges([{ documentId: 'new', doc: a }]).docs
    const result = applyChanges<Doc>(docs, () => undefined)
    expect(result.docs[0]).toMatchObject({ created: true, changed: true })
    expect(result.docs[0]!.doc.items).toEqual(['x'])
  })

  it('leaves out documents the receiver has in full', () => {
    const a = edit(base(), (d) => d.items.push('x'))
    expect(collectChanges([{ documentId: 'd', doc: a }], { d: Automerge.getHeads(a) }).docs).toEqual([])
  })

  it('a replayed bundle after newer changes brings nothing new and changes nothing', () => {
    const a1 = edit(base(), (d) => d.items.push('one'))
    const old = collectChanges([{ documentId: 'd', doc: a1 }]).docs
    const b = edit(Automerge.clone(a1), (d) => d.items.push('two'))
    const result = applyChanges<Doc>(old, () => b)
    expect(result.status).toBe('nothing-new')
    expect(result.docs[0]!.doc).toBe(b)
    expect(result.docs[0]!.changed).toBe(false)
  })

  it('all or nothing: one document that does not load means none is applied', () => {
    const a = edit(base(), (d) => d.items.push('fine'))
    const good = collectChanges([{ documentId: 'good', doc: a }]).docs[0]!
    const broken = { documentId: 'broken', heads: Automerge.getHeads(a), changes: new Uint8Array([1, 2, 3, 4]) }
    const b = base()
    expect(() => applyChanges<Doc>([good, broken], (id) => (id === 'good' ? b : undefined))).toThrow(
      expect.objectContaining({ name: 'QrError' }),
    )
    expect(b.items).toEqual([])
  })

  it('refuses changes built on heads the receiver lacks', () => {
    let a = base()
    const receiver = Automerge.clone(a)
    a = edit(a, (d) => d.items.push('1'))
    const mid = Automerge.getHeads(a)
    a = edit(a, (d) => d.items.push('2'))
    // The sender wrongly believes the receiver has `mid`.
    const docs = collectChanges([{ documentId: 'd', doc: a }], { d: mid }).docs
    expect(() => applyChanges<Doc>(docs, () => receiver)).toThrow(expect.objectContaining({ name: 'QrError' }))
  })

  it('concurrent edits merge both ways', () => {
    const a0 = base()
    let a = Automerge.clone(a0)
    let b = Automerge.clone(a0)
    a = edit(a, (d) => d.items.push('from a'))
    b = edit(b, (d) => {
      d.title = 'from b'
    })
    const toB = collectChanges([{ documentId: 'd', doc: a }], { d: Automerge.getHeads(a0) }).docs
    const atB = applyChanges<Doc>(toB, () => b)
    b = atB.docs[0]!.doc
    const toA = collectChanges([{ documentId: 'd', doc: b }], atB.senderHeads).docs
    a = applyChanges<Doc>(toA, () => a).docs[0]!.doc
    expect(Automerge.getHeads(a).sort()).toEqual(Automerge.getHeads(b).sort())
    expect(a.items).toEqual(['from a'])
    expect(a.title).toBe('from b')
  })

  it('documents left out as unchanged are confirmed by digest, so the next bundle stays minimal', () => {
    let a1 = edit(base(), (d) => d.items.push('one'))
    let a2 = edit(base(), (d) => d.items.push('two'))
    const ids = ['d1', 'd2']
    // A → B: everything (B is new).
    const first = collectChanges([{ documentId: 'd1', doc: a1 }, { documentId: 'd2', doc: a2 }])
    const atB = applyChanges<Doc>(first.docs, () => undefined)
    let b1 = atB.docs[0]!.doc
    const b2 = atB.docs[1]!.doc
    b1 = edit(b1, (d) => d.items.push('b edit'))
    // B → A: only d1 changed; d2 is left out and summarised.
    const reply = collectChanges([{ documentId: 'd1', doc: b1 }, { documentId: 'd2', doc: b2 }], atB.senderHeads)
    expect(reply.docs.map((d) => d.documentId)).toEqual(['d1'])
    expect(reply.unchanged.count).toBe(1)
    const docsA = new Map([['d1', a1], ['d2', a2]])
    const atA = applyChanges<Doc>(reply.docs, (id) => docsA.get(id), { ...reply.unchanged, documentIds: ids })
    expect(Object.keys(atA.senderHeads).sort()).toEqual(ids)
    a1 = atA.docs[0]!.doc
    // A edits d2 only: the next bundle to B holds d2's one change, and d1 not at all.
    a2 = edit(a2, (d) => d.items.push('a edit'))
    const next = collectChanges([{ documentId: 'd1', doc: a1 }, { documentId: 'd2', doc: a2 }], atA.senderHeads)
    expect(next.docs.map((d) => d.documentId)).toEqual(['d2'])
    // A stale digest (A changed d2 since) teaches nothing, rather than something wrong.
    const stale = applyChanges<Doc>([], (id) => (id === 'd1' ? a1 : a2), { ...reply.unchanged, documentIds: ids })
    expect(stale.senderHeads).toEqual({})
  })
})

/**
 * `qr export` and `qr import` of one bundle count its documents the same way: the export says how
 * many documents the bundle carries; the import says that number too, and how many of them changed
 * anything on the receiving device. (The export used to say "17 documents with changes" for a full
 * bundle whose import changed one or sixteen: it cannot know what the receiver lacks.)
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { orbit, orbitJson, requireBuiltCli, tempDir } from './helpers.js'

interface Exported {
  documents: number
}
interface Imported {
  status: string
  documents: number
  changedDocuments: number
}

describe('qr export / import: one count of documents', () => {
  let root: string
  let a: string
  let b: string
  let bId: string
  let contactId: string
  beforeAll(() => {
    requireBuiltCli()
    root = tempDir()
    a = join(root, 'a')
    b = join(root, 'b')
    orbitJson(a, ['init', '--name', 'A'])
    orbitJson(b, ['init', '--name', 'B'])
    contactId = orbitJson<{ id: string }>(a, ['contact', 'add', '--name', 'Ada']).id
    // Offline pairing, then the first bundle (the whole workspace) and its reply.
    const invite = orbitJson<{ code: string }>(a, ['pair', 'invite', '--offline'])
    const joined = orbitJson<{ code: string; deviceId: string }>(b, ['pair', 'join', invite.code, '--offline'])
    bId = joined.deviceId
    orbitJson(a, ['pair', 'accept', joined.code])
    orbitJson(a, ['qr', 'export', '--out', join(root, 'first'), '--for', bId])
    orbitJson(b, ['qr', 'import', join(root, 'first'), '--reply', join(root, 'first-reply')])
    orbitJson(a, ['qr', 'import', join(root, 'first-reply')])
  }, 180_000)
  afterAll(() => rmSync(root, { recursive: true, force: true }))

  it('a full bundle (no --for): both say how many documents it carries; the import says how few changed', () => {
    orbitJson(a, ['contact', 'edit', contactId, '--title', 'Countess'])
    const out = join(root, 'full')
    const exported = orbitJson<Exported>(a, ['qr', 'export', '--out', out])
    const imported = orbitJson<Imported>(b, ['qr', 'import', out])
    // Everything: the root and every shard, of which B lacked only the edited shard.
    expect(exported.documents).toBeGreaterThan(1)
    expect(imported).toMatchObject({ status: 'applied', documents: exported.documents, changedDocuments: 1 })

    // The human lines say the same numbers.
    orbitJson(a, ['contact', 'edit', contactId, '--title', 'Lady'])
    const out2 = join(root, 'full-2')
    const human = orbit(['--data', a, 'qr', 'export', '--out', out2]).stdout
    expect(human).toContain(`${exported.documents} documents, for ${bId}`)
    expect(human).not.toMatch(/with changes/)
    const read = orbit(['--data', b, 'qr', 'import', out2]).stdout
    expect(read).toContain(`the bundle's ${exported.documents} documents, 1 changed here (this device already had the other ${exported.documents - 1})`)
  })

  it('a bundle for one device (--for) carries what it lacks: the same number on both sides', () => {
    orbitJson(a, ['contact', 'edit', contactId, '--title', 'Analyst'])
    const out = join(root, 'for-b')
    const exported = orbitJson<Exported>(a, ['qr', 'export', '--out', out, '--for', bId])
    const imported = orbitJson<Imported>(b, ['qr', 'import', out])
    expect(exported.documents).toBe(1)
    expect(imported).toMatchObject({ status: 'applied', documents: 1, changedDocuments: 1 })
    // Replayed: nothing new, and still the bundle's one document.
    expect(orbitJson<Imported>(b, ['qr', 'import', out])).toMatchObject({ status: 'nothing-new', documents: 1, changedDocuments: 0 })
    expect(orbit(['--data', b, 'qr', 'import', out]).stdout).toContain("already had all of the bundle's 1 document.")
  })
})

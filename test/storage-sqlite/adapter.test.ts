import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openOrbitDatabase, type OrbitDatabase } from '../../src/adapters/storage-sqlite/database.js'
import { decodeKey, encodeKey } from '../../src/adapters/storage-sqlite/key-codec.js'
import { SqliteStorageAdapter } from '../../src/adapters/storage-sqlite/storage-adapter.js'

let dir: string
let db: OrbitDatabase
let adapter: SqliteStorageAdapter
const bytes = (...b: number[]) => new Uint8Array(b)

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'orbit-sqlite-adapter-'))
  db = openOrbitDatabase(join(dir, 'store.sqlite'), { create: true })
  adapter = new SqliteStorageAdapter(db)
})
afterEach(() => {
  db.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('SqliteStorageAdapter keys', () => {
  it('matches prefixes on whole segments only', async () => {
    await adapter.save(['doc', 'snapshot', 'a'], bytes(1))
    await adapter.save(['docX', 'snapshot', 'b'], bytes(2))
    await adapter.save(['doc'], bytes(3))
    await adapter.save(['do', 'c'], bytes(4))
    expect((await adapter.loadRange(['doc'])).map((c) => c.key)).toEqual([['doc', 'snapshot', 'a'], ['doc']])
    await adapter.removeRange(['doc'])
    expect((await adapter.loadRange([])).map((c) => c.key)).toEqual([['docX', 'snapshot', 'b'], ['do', 'c']])
  })

  it('round-trips any segment content and never confuses distinct keys', () => {
    const segment = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('', ',', '"', '\\', '\u0000', '\ud800', '-', ']'))
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 4 }), fc.array(segment, { maxLength: 4 }), (a, b) => {
        expect(decodeKey(encodeKey(a))).toEqual(a)
        const isPrefix = a.length <= b.length && a.every((s, i) => s === b[i])
        expect(encodeKey(b).startsWith(encodeKey(a))).toBe(isPrefix)
        const eb = encodeKey(b)
        const ea = encodeKey(a)
        // The range query [ea, ea with ','->'-') selects exactly the keys under the prefix.
        const inRange = ea === '' || (eb >= ea && eb < ea.slice(0, -1) + '-')
        expect(inRange).toBe(isPrefix)
      }),
      { numRuns: 1000 },
    )
  })

  it('refuses a key segment that is not a string, writing nothing', async () => {
    await expect(adapter.save(['doc', undefined as unknown as string], bytes(1))).rejects.toThrow(TypeError)
    expect(await adapter.loadRange([])).toEqual([])
  })

  it('stores and ranges over awkward segments', async () => {
    const keys = [['a"b', ',', ''], ['a"b', '\u0000'], ['\ud800x', 'snapshot'], ['a"b']]
    for (const [i, k] of keys.entries()) await adapter.save(k, bytes(i))
    for (const [i, k] of keys.entries()) expect(await adapter.load(k)).toStrictEqual(bytes(i))
    expect((await adapter.loadRange(['a"b'])).map((c) => c.key)).toEqual([['a"b', ',', ''], ['a"b', '\u0000'], ['a"b']])
    expect((await adapter.loadRange(['\ud800x'])).map((c) => c.key)).toEqual([['\ud800x', 'snapshot']])
  })
})

describe('SqliteStorageAdapter against a model', () => {
  it('agrees with an in-memory map on random operations over awkward keys', async () => {
    const segment = fc.constantFrom('d', 'dX', 'd"', 'd,', '', '\u0000', '\ud800', 'snapshot', 'incremental', 'é', '𝄞')
    const key = fc.array(segment, { maxLength: 3 })
    const op = fc.oneof(
      fc.record({ t: fc.constant('save' as const), key, v: fc.nat(255) }),
      fc.record({ t: fc.constant('remove' as const), key }),
      fc.record({ t: fc.constant('removeRange' as const), key }),
    )
    const isPrefix = (p: string[], k: string[]) => p.length <= k.length && p.every((s, i) => s === k[i])
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 30 }), key, async (ops, probe) => {
        await adapter.removeRange([])
        const model = new Map<string, { key: string[]; v: number }>()
        for (const o of ops) {
          const id = JSON.stringify(o.key)
          if (o.t === 'save') {
            await adapter.save(o.key, bytes(o.v))
            model.set(id, { key: o.key, v: o.v })
          } else if (o.t === 'remove') {
            await adapter.remove(o.key)
            model.delete(id)
          } else {
            await adapter.removeRange(o.key)
            for (const [k, e] of model) if (isPrefix(o.key, e.key)) model.delete(k)
          }
        }
        const expected = [...model.values()].filter((e) => isPrefix(probe, e.key))
        const actual = await adapter.loadRange(probe)
        const sortById = <T extends { key: string[] }>(xs: T[]) => xs.map((x) => JSON.stringify(x.key)).sort()
        expect(sortById(actual)).toEqual(sortById(expected))
        for (const e of expected) expect(await adapter.load(e.key)).toStrictEqual(bytes(e.v))
      }),
      { numRuns: 150 },
    )
  })
})

describe('document generations', () => {
  it('bump with each content save/remove of a document, not with sync states', async () => {
    expect(adapter.docGeneration('d')).toBe(0)
    await adapter.save(['d', 'incremental', 'h1'], bytes(1))
    await adapter.save(['d', 'snapshot', 'h2'], bytes(2))
    expect(adapter.docGeneration('d')).toBe(2)
    await adapter.save(['d', 'sync-state', 'peer'], bytes(3))
    await adapter.save(['storage-adapter-id'], bytes(4))
    await adapter.remove(['d', 'incremental', 'missing'])
    expect(adapter.docGeneration('d')).toBe(2)
    await adapter.removeRange(['d', 'incremental'])
    expect(adapter.docGeneration('d')).toBe(3)
    await adapter.removeRange(['d'])
    expect(adapter.docGeneration('d')).toBe(4)
    expect(adapter.docGeneration('other')).toBe(0)
  })
})

describe('SqliteStorageAdapter after close', () => {
  it('drops a late sync-state save (repo.shutdown does not wait for them) but refuses document chunks', async () => {
    await adapter.save(['doc', 'sync-state', 'storage-a'], bytes(1))
    db.close()
    await expect(adapter.save(['doc', 'sync-state', 'storage-a'], bytes(2))).resolves.toBeUndefined()
    await expect(adapter.save(['doc', 'incremental', 'h'], bytes(3))).rejects.toThrow()
    db = openOrbitDatabase(join(dir, 'store.sqlite'), { create: false })
    const reopened = new SqliteStorageAdapter(db)
    expect(await reopened.load(['doc', 'sync-state', 'storage-a'])).toEqual(bytes(1))
    expect(await reopened.load(['doc', 'incremental', 'h'])).toBeUndefined()
  })
})

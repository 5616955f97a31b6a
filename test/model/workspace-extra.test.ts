import { afterEach, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { Repo } from '@automerge/automerge-repo'
import { CrmWorkspace, type RootChangedEvent } from '../../src/core/model/workspace.js'
import { cloneWorkspace, device, fakeClock, mergeInto, newWorkspace, syncBoth } from './helpers.js'

const repos: Repo[] = []
afterEach(async () => {
  await Promise.all(repos.splice(0).map((r) => r.shutdown()))
})

async function errorOf(p: Promise<unknown>): Promise<{ name: string; field?: string }> {
  try {
    await p
  } catch (error) {
    return error as { name: string; field?: string }
  }
  throw new Error('expected an error')
}

describe('CrmWorkspace edges', () => {
  it('open refuses a document that is not a workspace root', async () => {
    const repo = new Repo({})
    repos.push(repo)
    const foreign = repo.create({ hello: 'world' })
    expect((await errorOf(CrmWorkspace.open(repo, foreign.url))).name).toBe('StoreError')
    expect((await errorOf(CrmWorkspace.open(repo, 'not-a-url' as never))).name).toBe('ValidationError')
  })

  it('create validates its options', async () => {
    const repo = new Repo({})
    repos.push(repo)
    const founder = device('devA')
    expect((await errorOf(CrmWorkspace.create(repo, { name: ' ', founder }))).field).toBe('name')
    expect((await errorOf(CrmWorkspace.create(repo, { name: 'x', founder, shardCount: 0 }))).field).toBe('shardCount')
    expect((await errorOf(CrmWorkspace.create(repo, { name: 'x', founder: { ...founder, publicKey: '' } }))).field).toBe(
      'publicKey',
    )
  })

  it('bulk add names the failing input by index', async () => {
    const { repo, ws } = await newWorkspace()
    repos.push(repo)
    const err = await errorOf(ws.addContacts([{ name: 'ok' }, { name: 'ok', emails: ['x'] }]))
    expect(err).toMatchObject({ name: 'ValidationError', field: '[1].emails[0]' })
    expect(await ws.listContacts()).toEqual([])
  })

  it('timestamps come from the injected clock', async () => {
    const repo = new Repo({})
    repos.push(repo)
    const ws = await CrmWorkspace.create(repo, { name: 'x', founder: device('devA'), now: () => 42 })
    const c = await ws.addContact({ name: 'Ada' })
    expect([c.createdAt, c.updatedAt]).toEqual([42, 42])
    expect((await ws.addNote(c.id, { body: 'hi' })).at).toBe(42)
  })

  it('onRootChanged reports orgs and devices, local and remote', async () => {
    const { repo, ws: a } = await newWorkspace()
    const { repo: repoB, ws: b } = await cloneWorkspace(repo, a)
    repos.push(repo, repoB)
    const events: RootChangedEvent[] = []
    b.onRootChanged((e) => events.push(e))
    const org = await b.addOrg({ name: 'Initech' })
    await a.addDevice(device('devC', 'devA'))
    await mergeInto(b, a)
    expect(events).toEqual([
      { orgs: [org.id], devices: [], workspace: false, source: 'local' },
      { orgs: [], devices: ['devC'], workspace: false, source: 'remote' },
    ])
  })

  it('a throwing listener does not break the change', async () => {
    const { repo, ws } = await newWorkspace()
    repos.push(repo)
    await ws.loadAllShards()
    ws.onContactsChanged(() => {
      throw new Error('listener bug')
    })
    const c = await ws.addContact({ name: 'Ada' })
    expect((await ws.getContact(c.id))?.name).toBe('Ada')
  })

  it('close stops events', async () => {
    const { repo, ws } = await newWorkspace()
    repos.push(repo)
    let n = 0
    ws.onContactsChanged(() => n++)
    ws.close()
    await ws.addContact({ name: 'Ada' })
    expect(n).toBe(0)
  })
})

type Op =
  | { side: 0 | 1; kind: 'edit'; who: number; name: string; title: string | null }
  | { side: 0 | 1; kind: 'tag'; who: number; tag: string; add: boolean }
  | { side: 0 | 1; kind: 'remove' | 'restore' | 'note'; who: number }
  | { side: 0 | 1; kind: 'sync'; both: boolean }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    side: fc.constantFrom(0 as const, 1 as const),
    kind: fc.constant('edit' as const),
    who: fc.nat(2),
    name: fc.constantFrom('Ada', 'Bea', 'Cy'),
    title: fc.constantFrom('CEO', 'CTO', null),
  }),
  fc.record({
    side: fc.constantFrom(0 as const, 1 as const),
    kind: fc.constant('tag' as const),
    who: fc.nat(2),
    tag: fc.constantFrom('red', 'blue', 'green'),
    add: fc.boolean(),
  }),
  fc.record({
    side: fc.constantFrom(0 as const, 1 as const),
    kind: fc.constantFrom('remove' as const, 'restore' as const, 'note' as const),
    who: fc.nat(2),
  }),
  fc.record({ side: fc.constantFrom(0 as const, 1 as const), kind: fc.constant('sync' as const), both: fc.boolean() }),
)

describe('convergence property (two replicas)', () => {
  it('after syncing both ways, replicas are equal whatever the interleaving', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 25 }), async (ops) => {
        const repo = new Repo({})
        const a = await CrmWorkspace.create(repo, { name: 'P', founder: device('devA'), shardCount: 2, now: fakeClock() })
        const ids = (await a.addContacts([{ name: 'x' }, { name: 'y' }, { name: 'z' }])).map((c) => c.id)
        const { repo: repoB, ws: b } = await cloneWorkspace(repo, a)
        const sides = [a, b]
        try {
          for (const op of ops) {
            const ws = sides[op.side]!
            if (op.kind === 'sync') {
              if (op.both) await syncBoth(a, b)
              else await mergeInto(ws, sides[1 - op.side]!)
              continue
            }
            const id = ids[op.who]!
            const live = (await ws.getContact(id)) !== undefined
            if (op.kind === 'edit' && live) await ws.editContact(id, { name: op.name, title: op.title })
            else if (op.kind === 'tag' && live)
              await ws.editContact(id, op.add ? { addTags: [op.tag] } : { removeTags: [op.tag] })
            else if (op.kind === 'note' && live) await ws.addNote(id, { body: 'n' })
            else if (op.kind === 'remove' && live) await ws.removeContact(id)
            else if (op.kind === 'restore' && !live) await ws.restoreContact(id)
          }
          await syncBoth(a, b)
          const la = await a.listContacts({ includeDeleted: true })
          const lb = await b.listContacts({ includeDeleted: true })
          expect(la).toEqual(lb)
          expect(la).toHaveLength(3)
          const ha = (await a.allHandles()).map((h) => h.heads())
          const hb = (await b.allHandles()).map((h) => h.heads())
          expect(ha.map((h) => [...h].sort())).toEqual(hb.map((h) => [...h].sort()))
        } finally {
          await Promise.all([repo.shutdown(), repoB.shutdown()])
        }
      }),
      { numRuns: 40 },
    )
  })
})

describe('remote changes over a live network', () => {
  it('onContactsChanged reports synced changes even for shards this object never loaded', async () => {
    const { MemoryHub } = await import('../../src/adapters/network-memory/index.js')
    const { repo: seed, ws: origin } = await newWorkspace({ shardCount: 4 })
    repos.push(seed)
    const hub = new MemoryHub()
    const makeRepo = async () => {
      const { repo } = await cloneWorkspace(seed, origin)
      repos.push(repo)
      return repo
    }
    // Two devices holding the workspace, joined by an in-order in-memory link.
    const repoA = await makeRepo()
    const repoB = await makeRepo()
    repoA.networkSubsystem.addNetworkAdapter(hub.createAdapter('a'))
    repoB.networkSubsystem.addNetworkAdapter(hub.createAdapter('b'))
    const a = await CrmWorkspace.open(repoA, origin.rootUrl)
    const b = await CrmWorkspace.open(repoB, origin.rootUrl)
    const seen: { ids: string[]; source: string }[] = []
    const arrived = new Promise<void>((resolve) => {
      b.onContactsChanged((e) => {
        seen.push({ ids: e.ids, source: e.source })
        resolve()
      })
    })
    expect([0, 1, 2, 3].some((n) => b.isShardLoaded(n))).toBe(false)
    const c = await a.addContact({ name: 'Over the wire' })
    await arrived
    expect(seen).toContainEqual({ ids: [c.id], source: 'remote' })
    expect((await b.getContact(c.id))?.name).toBe('Over the wire')
  })

  it('a shard that arrives whole by sync reports every contact in it, once per update', async () => {
    const { MemoryHub } = await import('../../src/adapters/network-memory/index.js')
    const { parseAutomergeUrl } = await import('@automerge/automerge-repo')
    const { repo: repoA, ws: a } = await newWorkspace({ shardCount: 1 })
    repos.push(repoA)
    const added = await a.addContacts([{ name: 'One' }, { name: 'Two' }, { name: 'Three' }])
    // B holds only the root (as a device that has just joined): the shard comes over the wire whole.
    const repoB = new Repo({})
    repos.push(repoB)
    repoB.import((await repoA.export(a.rootUrl))!, { docId: parseAutomergeUrl(a.rootUrl).documentId })
    const b = await CrmWorkspace.open(repoB, a.rootUrl)
    const events: { ids: string[]; source: string }[] = []
    b.onContactsChanged((e) => events.push({ ids: e.ids, source: e.source }))
    const hub = new MemoryHub()
    repoA.networkSubsystem.addNetworkAdapter(hub.createAdapter('a'))
    repoB.networkSubsystem.addNetworkAdapter(hub.createAdapter('b'))
    expect(await b.listContacts()).toHaveLength(3)
    expect(events.flatMap((e) => e.ids).sort()).toEqual(added.map((c) => c.id).sort())
    expect(events.every((e) => e.source === 'remote')).toBe(true)
    // A later edit is reported alone (a diff against the heads B already had, not the whole shard).
    events.length = 0
    const renamed = new Promise<void>((resolve) => b.onContactsChanged(() => resolve()))
    await a.editContact(added[1]!.id, { name: 'Two, renamed' })
    await renamed
    expect(events).toEqual([{ ids: [added[1]!.id], source: 'remote' }])
  })
})

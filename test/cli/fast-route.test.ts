/**
 * The CLI's fast route (src/apps/cli/fast-route.ts) recognises only argv forms it parses exactly as
 * commander does, and hands every other form to the full CLI; where a daemon puts a new contact
 * (src/apps/node/api.ts, shardForNewContact) keeps the shards balanced. In-process, no children.
 */
import { describe, expect, it } from 'vitest'
import { parseFastCommand } from '../../src/apps/cli/fast-route.js'
import { shardForNewContact } from '../../src/apps/node/api.js'

describe('parseFastCommand', () => {
  it('parses contact add with globals before or after, repeated options collected, the last single value kept', () => {
    expect(parseFastCommand(['--data', '/d', 'contact', 'add', '--name', 'A', '--name', 'Ada', '--email', 'a@x.org', '--email', 'b@x.org', '--tag', 'vip', '--json'])).toEqual({
      kind: 'contact add',
      dataFlag: '/d',
      json: true,
      input: { name: 'Ada', emails: ['a@x.org', 'b@x.org'], tags: ['vip'] },
    })
    expect(parseFastCommand(['contact', 'add', '--title', 'Dr', '--phone', '+1 555', '--name', 'Grace'])).toEqual({
      kind: 'contact add',
      dataFlag: undefined,
      json: false,
      input: { name: 'Grace', title: 'Dr', phones: ['+1 555'] },
    })
  })

  it('parses contact list with its defaults and options', () => {
    expect(parseFastCommand(['contact', 'list'])).toEqual({ kind: 'contact list', dataFlag: undefined, json: false, query: { limit: 50, offset: 0, all: false, includeRemoved: false } })
    expect(parseFastCommand(['--json', 'contact', 'list', '--limit', '5', '--offset', '10', '--query', 'acme', '--all', '--include-removed'])).toEqual({
      kind: 'contact list',
      dataFlag: undefined,
      json: true,
      query: { limit: 5, offset: 10, all: true, includeRemoved: true, query: 'acme' },
    })
  })

  it('leaves to the full CLI every form it does not parse exactly', () => {
    const full: string[][] = [
      [],
      ['contact'],
      ['contact', 'add'], // --name is required: commander says so
      ['contact', 'add', '--name=Ada'],
      ['contact', 'add', '--name', 'Ada', '--org', 'org_abcdefghijklmnop'],
      ['contact', 'add', '--name', 'Ada', '--logo', 'a.png'],
      ['contact', 'add', '--name', 'Ada', '--help'],
      ['contact', 'add', '--name', 'Ada', '--'],
      ['contact', 'add', '--name', '-x'],
      ['contact', 'add', '--name'],
      ['contact', 'add', 'extra', '--name', 'Ada'],
      ['--name', 'Ada', 'contact', 'add'],
      ['contact', 'add', '--name', 'Ada', '--data'],
      ['contact', 'list', '--limit', '0'],
      ['contact', 'list', '--limit', 'x', '--limit', '5'],
      ['contact', 'list', '--offset', '-1'],
      ['contact', 'list', '--name', 'Ada'],
      ['contact', 'show', 'ct_abcdefghijklmnop'],
      ['org', 'add', '--name', 'Acme'],
      ['status'],
    ]
    for (const argv of full) expect(parseFastCommand(argv), argv.join(' ')).toBeUndefined()
  })
})

describe('shardForNewContact', () => {
  const workspace = (loaded: number[]) => ({ shardCount: 4, isShardLoaded: (n: number) => loaded.includes(n) })

  it('prefers the emptiest loaded shard', () => {
    const counts = new Map([[0, 100], [1, 98], [2, 103], [3, 99]])
    expect(shardForNewContact(workspace([0, 2]), counts)).toBe(0)
    expect(shardForNewContact(workspace([0, 1, 2]), counts)).toBe(1)
  })

  it('prefers none when nothing is loaded, or when every loaded shard is fuller than random ids would make it', () => {
    expect(shardForNewContact(workspace([]), new Map([[0, 1]]))).toBeUndefined()
    // Average 250, √250 ≈ 15.8: a loaded shard may hold up to 250 + 31.6.
    expect(shardForNewContact(workspace([3]), new Map([[0, 240], [1, 240], [2, 238], [3, 282]]))).toBeUndefined()
    expect(shardForNewContact(workspace([3]), new Map([[0, 240], [1, 240], [2, 239], [3, 281]]))).toBe(3)
  })

  it('keeps shards balanced: adding many contacts through a preferred shard stops at the bound', () => {
    const counts = new Map([[0, 1000], [1, 1000], [2, 1000], [3, 1000]])
    const ws = workspace([1])
    let added = 0
    for (let shard = shardForNewContact(ws, counts); shard !== undefined; shard = shardForNewContact(ws, counts)) {
      counts.set(shard, (counts.get(shard) ?? 0) + 1)
      added++
    }
    // (1000·3 + x) / 4 + 2·√mean ≥ x stops near x = 1000 + 4/3 · 2·√1010 ≈ 1085.
    expect(counts.get(1)).toBeGreaterThan(1050)
    expect(counts.get(1)).toBeLessThan(1100)
    expect(added).toBe((counts.get(1) ?? 0) - 1000)
  })
})

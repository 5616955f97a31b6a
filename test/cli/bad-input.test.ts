import { mkdirSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TINY_PNG, fingerprint, jsonError, orbit, orbitJson, requireBuiltCli, storeDigest, tempDir } from './helpers.js'

describe('orbit CLI: bad input changes nothing', () => {
  let root: string
  let data: string
  let adaId: string
  let digest: string
  beforeAll(async () => {
    requireBuiltCli()
    root = tempDir()
    data = join(root, 'data')
    orbitJson(data, ['init', '--name', 'Victim'])
    adaId = orbitJson<{ id: string }>(data, ['contact', 'add', '--name', 'Ada', '--email', 'ada@example.com']).id
    writeFileSync(join(root, 'notes.txt'), 'this is not an image')
    writeFileSync(join(root, 'tiny.png'), TINY_PNG)
    // A PNG header followed by 11 MiB: over the default 10 MB image limit.
    writeFileSync(join(root, 'huge.png'), Buffer.concat([TINY_PNG, Buffer.alloc(11 * 1024 * 1024)]))
    digest = await storeDigest(data)
  })
  afterAll(() => rmSync(root, { recursive: true, force: true }))

  const usageErrors: [string, string[]][] = [
    ['no command', []],
    ['unknown command', ['frobnicate']],
    ['unknown subcommand', ['contact', 'frobnicate']],
    ['missing required option', ['contact', 'add']],
    ['option without its value', ['contact', 'add', '--name']],
    ['unknown option', ['contact', 'add', '--name', 'X', '--bogus']],
    ['missing argument', ['contact', 'show']],
    ['too many arguments', ['contact', 'remove', 'ct_aaaaaaaaaaaaaaaa', 'extra']],
    ['non-numeric --limit', ['contact', 'list', '--limit', 'ten']],
    ['negative --offset', ['contact', 'list', '--offset', '-3']],
    ['unknown note kind', ['contact', 'note', 'ct_aaaaaaaaaaaaaaaa', '--body', 'x', '--kind', 'lunch']],
    ['conflicting options', ['contact', 'edit', 'ct_aaaaaaaaaaaaaaaa', '--title', 'CTO', '--clear-title']],
    ['edit with nothing to change', ['contact', 'edit', 'ct_aaaaaaaaaaaaaaaa']],
    ['init without --name', ['init']],
  ]
  it.each(usageErrors)('%s: exit 2 with a pointer to --help, JSON error with --json', async (_label, args) => {
    const human = orbit(['--data', data, ...args])
    expect(human.code).toBe(2)
    expect(human.stdout).toBe('')
    expect(human.stderr).toMatch(/--help/)
    const json = orbit([...args, '--data', data, '--json'])
    expect(json.code).toBe(2)
    expect(jsonError(json)).toMatchObject({ name: 'UsageError', code: 'USAGE', message: expect.any(String) })
    expect(await storeDigest(data)).toBe(digest)
  })

  const validationErrors: [string, string[], string, string?][] = [
    ['an invalid email', ['contact', 'add', '--name', 'Bob', '--email', 'bob-at-example'], 'emails[0]'],
    ['an invalid second email', ['contact', 'add', '--name', 'Bob', '--email', 'bob@example.com', '--email', 'nope'], 'emails[1]'],
    ['an invalid phone', ['contact', 'add', '--name', 'Bob', '--phone', 'call me'], 'phones[0]'],
    ['an empty name', ['contact', 'add', '--name', '   '], 'name'],
    ['a malformed org id', ['contact', 'add', '--name', 'Bob', '--org', 'acme'], 'orgId'],
    ['a logo that is not an image', ['contact', 'add', '--name', 'Bob', '--logo', 'NOTES'], 'logo', 'NOT_IMAGE'],
    ['an oversized logo', ['contact', 'add', '--name', 'Bob', '--logo', 'HUGE'], 'logo', 'TOO_LARGE'],
    ['a logo file that does not exist', ['contact', 'add', '--name', 'Bob', '--logo', 'MISSING'], 'logo'],
    ['an org logo that is not an image', ['org', 'add', '--name', 'Acme', '--logo', 'NOTES'], 'logo', 'NOT_IMAGE'],
    ['a malformed contact id', ['contact', 'show', 'bob'], 'id'],
    ['a malformed id to edit', ['contact', 'edit', 'ct_!!', '--title', 'x'], 'id'],
    ['an invalid email in an edit', ['contact', 'edit', 'ADA', '--email', 'x@'], 'emails[0]'],
    ['an empty note', ['contact', 'note', 'ADA', '--body', ' '], 'body'],
    ['an empty device name', ['init', '--name', ''], 'name'],
  ]
  it.each(validationErrors)('%s: exit 1, the field is named, nothing written', async (_label, rawArgs, field, code = 'VALIDATION') => {
    const args = rawArgs.map((a) => (a === 'NOTES' ? join(root, 'notes.txt') : a === 'MISSING' ? join(root, 'missing.png') : a === 'HUGE' ? join(root, 'huge.png') : a === 'ADA' ? adaId : a))
    const human = orbit(['--data', data, ...args])
    expect(human.code).toBe(1)
    expect(human.stderr).toContain(field)
    const json = orbit(['--data', data, '--json', ...args])
    expect(json.code).toBe(1)
    expect(json.stdout).toBe('')
    expect(jsonError(json)).toEqual({ name: 'ValidationError', code, message: expect.any(String), field })
    expect(await storeDigest(data)).toBe(digest)
  })

  it.each([
    ['show', ['contact', 'show', 'ct_aaaaaaaaaaaaaaaa']],
    ['edit', ['contact', 'edit', 'ct_aaaaaaaaaaaaaaaa', '--title', 'CTO']],
    ['remove', ['contact', 'remove', 'ct_aaaaaaaaaaaaaaaa']],
    ['restore', ['contact', 'restore', 'ct_aaaaaaaaaaaaaaaa']],
    ['note', ['contact', 'note', 'ct_aaaaaaaaaaaaaaaa', '--body', 'hello']],
    ['add with an unknown org', ['contact', 'add', '--name', 'Bob', '--org', 'org_aaaaaaaaaaaaaaaa']],
    ['add with an unknown org and a logo', ['contact', 'add', '--name', 'Bob', '--org', 'org_aaaaaaaaaaaaaaaa', '--logo', 'PNG']],
  ])('an unknown id (%s): exit 1, UnknownIdError, nothing written', async (_label, rawArgs) => {
    const args = rawArgs.map((a) => (a === 'PNG' ? join(root, 'tiny.png') : a))
    const r = orbit(['--data', data, '--json', ...args])
    expect(r.code).toBe(1)
    expect(jsonError(r)).toMatchObject({ name: 'UnknownIdError', code: 'UNKNOWN_ID' })
    expect(orbit(['--data', data, ...args]).stderr).toMatch(/orbit contact list/)
    expect(await storeDigest(data)).toBe(digest)
    expect(existsSync(join(data, 'blobs')) ? readdirSync(join(data, 'blobs')) : []).toEqual([])
  })
})

describe('orbit CLI: data dirs that are not usable', () => {
  let root: string
  beforeAll(() => {
    requireBuiltCli()
    root = tempDir()
  })
  afterAll(() => rmSync(root, { recursive: true, force: true }))

  const readers = [['contact', 'list'], ['contact', 'show', 'ct_aaaaaaaaaaaaaaaa'], ['org', 'list'], ['status']]
  const writers = [['contact', 'add', '--name', 'Bob'], ['contact', 'edit', 'ct_aaaaaaaaaaaaaaaa', '--title', 'x'], ['org', 'add', '--name', 'Acme'], ['contact', 'note', 'ct_aaaaaaaaaaaaaaaa', '--body', 'x']]

  it('a data dir that was never initialised: says to run `orbit init`, creates nothing', () => {
    const missing = join(root, 'never')
    const empty = join(root, 'empty')
    mkdirSync(empty)
    for (const dir of [missing, empty]) {
      for (const args of [...readers, ...writers]) {
        const human = orbit(['--data', dir, ...args])
        expect(human.code, args.join(' ')).toBe(1)
        expect(human.stderr).toContain('orbit init')
        const json = orbit([...args, '--json'], { env: { ORBIT_HOME: dir } })
        expect(json.code).toBe(1)
        expect(jsonError(json)).toMatchObject({ name: 'StoreError', code: 'NOT_INITIALISED' })
      }
    }
    expect(existsSync(missing)).toBe(false)
    expect(readdirSync(empty)).toEqual([])
  })

  function refusals(dir: string, code: string): void {
    const before = fingerprint(dir)
    for (const args of [...readers, ...writers, ['init', '--name', 'Over']]) {
      const r = orbit(['--data', dir, '--json', ...args])
      expect(r.code, args.join(' ')).toBe(1)
      expect(jsonError(r), args.join(' ')).toMatchObject({ name: 'StoreError', code })
      expect(orbit(['--data', dir, ...args]).stderr).toMatch(/^error: /)
    }
    // Byte for byte: no -wal, no -shm, no key file, no blobs.
    expect(fingerprint(dir)).toBe(before)
  }

  it('a corrupt store file: CORRUPT_STORE, the file untouched', () => {
    const dir = join(root, 'corrupt')
    mkdirSync(dir)
    writeFileSync(join(dir, 'orbit.sqlite'), Buffer.concat([Buffer.from('SQLite format 3\0'), Buffer.alloc(4000, 0xab)]))
    refusals(dir, 'CORRUPT_STORE')
    const text = join(root, 'text')
    mkdirSync(text)
    writeFileSync(join(text, 'orbit.sqlite'), 'just some text, not a database\n'.repeat(50))
    refusals(text, 'CORRUPT_STORE')
  })

  it("another application's SQLite file: FOREIGN_STORE, the file untouched", () => {
    const dir = join(root, 'foreign')
    mkdirSync(dir)
    const db = new Database(join(dir, 'orbit.sqlite'))
    db.exec(`CREATE TABLE recipes (id INTEGER PRIMARY KEY, title TEXT); INSERT INTO recipes (title) VALUES ('soup')`)
    db.close()
    refusals(dir, 'FOREIGN_STORE')
  })

  it('init refuses an initialised data dir and leaves it as it was', async () => {
    const dir = join(root, 'twice')
    const first = orbitJson<{ deviceId: string }>(dir, ['init', '--name', 'First'])
    const digest = await storeDigest(dir)
    const again = orbit(['--data', dir, '--json', 'init', '--name', 'Second'])
    expect(again.code).toBe(1)
    expect(jsonError(again)).toMatchObject({ name: 'StoreError', code: 'ALREADY_INITIALISED' })
    expect(await storeDigest(dir)).toBe(digest)
    expect(orbitJson<{ device: { id: string } }>(dir, ['status']).device.id).toBe(first.deviceId)
  })
})

import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { TINY_PNG, orbit, orbitJson, requireBuiltCli, tempDir } from './helpers.js'

interface ContactJson {
  id: string
  name: string
  emails: string[]
  phones: string[]
  title?: string
  orgId?: string
  tags: Record<string, true>
  notes: Record<string, { id: string; kind: string; body: string }>
  logo?: string
  deletedAt?: number
}

describe('orbit CLI: the happy path (real child processes)', () => {
  let root: string
  let data: string
  beforeAll(requireBuiltCli)
  beforeEach(() => {
    root = tempDir()
    data = join(root, 'data')
  })
  afterEach(() => rmSync(root, { recursive: true, force: true }))

  it('init, org add, contact add/list/show/edit/note/remove/restore, status', () => {
    const init = orbitJson<{ deviceId: string; deviceName: string; workspaceId: string; dataDir: string }>(data, ['init', '--name', 'My laptop'])
    expect(init).toMatchObject({ deviceName: 'My laptop', dataDir: data })
    expect(init.deviceId).toMatch(/^[a-z2-7]{32}$/)
    expect(init.workspaceId).toMatch(/^ws_/)
    expect(statSync(data).mode & 0o777).toBe(0o700)
    expect(statSync(join(data, 'identity.key')).mode & 0o777).toBe(0o600)

    const org = orbitJson<{ id: string; name: string }>(data, ['org', 'add', '--name', 'Acme Corp'])
    expect(org.id).toMatch(/^org_/)
    expect(orbitJson<{ orgs: { id: string; name: string }[] }>(data, ['org', 'list']).orgs).toEqual([
      expect.objectContaining({ id: org.id, name: 'Acme Corp' }),
    ])

    const logo = join(root, 'ada.png')
    writeFileSync(logo, TINY_PNG)
    // Human mode prints only the id, for scripts.
    const add = orbit(['--data', data, 'contact', 'add', '--name', 'Ada Lovelace', '--email', 'ada@example.com', '--email', 'ada@acme.test',
      '--phone', '+44 20 7946 0000', '--title', 'Analyst', '--org', org.id, '--tag', 'vip', '--tag', 'math', '--logo', logo])
    expect(add.code).toBe(0)
    const adaId = add.stdout.trim()
    expect(adaId).toMatch(/^ct_[a-z2-7]{16}$/)
    const grace = orbitJson<ContactJson>(data, ['contact', 'add', '--name', 'Grace Hopper'])

    const list = orbitJson<{ total: number; offset: number; limit: number; contacts: ContactJson[] }>(data, ['contact', 'list'])
    expect(list).toMatchObject({ total: 2, offset: 0, limit: 50 })
    expect(list.contacts.map((c) => c.name)).toEqual(['Ada Lovelace', 'Grace Hopper'])

    const ada = orbitJson<ContactJson>(data, ['contact', 'show', adaId])
    expect(ada).toMatchObject({
      id: adaId,
      name: 'Ada Lovelace',
      emails: ['ada@example.com', 'ada@acme.test'],
      phones: ['+44 20 7946 0000'],
      title: 'Analyst',
      orgId: org.id,
      tags: { vip: true, math: true },
    })
    // The logo is stored content-addressed under blobs/.
    expect(ada.logo).toMatch(/^[0-9a-f]{64}$/)
    expect(readFileSync(join(data, 'blobs', ada.logo!.slice(0, 2), ada.logo!))).toEqual(TINY_PNG)

    const human = orbit(['--data', data, 'contact', 'show', adaId])
    expect(human.code).toBe(0)
    expect(human.stdout).toContain('Acme Corp')

    const edited = orbitJson<ContactJson>(data, ['contact', 'edit', adaId, '--clear-title', '--add-tag', 'board', '--remove-tag', 'math', '--email', 'ada@new.test'])
    expect(edited.title).toBeUndefined()
    expect(edited.tags).toEqual({ vip: true, board: true })
    expect(edited.emails).toEqual(['ada@new.test'])

    const note = orbitJson<{ contactId: string; id: string; kind: string }>(data, ['contact', 'note', adaId, '--kind', 'call', '--body', 'Discussed the engine'])
    expect(note).toMatchObject({ contactId: adaId, kind: 'call' })
    expect(orbitJson<ContactJson>(data, ['contact', 'show', adaId]).notes[note.id]).toMatchObject({ body: 'Discussed the engine' })

    const removed = orbitJson<ContactJson>(data, ['contact', 'remove', grace.id])
    expect(removed.deletedAt).toEqual(expect.any(Number))
    expect(orbitJson<{ total: number }>(data, ['contact', 'list']).total).toBe(1)
    expect(orbitJson<{ total: number }>(data, ['contact', 'list', '--include-removed']).total).toBe(2)
    const restored = orbitJson<ContactJson>(data, ['contact', 'restore', grace.id])
    expect(restored.deletedAt).toBeUndefined()

    const status = orbitJson<{ device: { id: string; name: string }; counts: Record<string, number>; dataDir: string; store: { bytes: number } }>(data, ['status'])
    expect(status.device).toEqual({ id: init.deviceId, name: 'My laptop' })
    expect(status.counts).toEqual({ contacts: 2, removedContacts: 0, orgs: 1, devices: 1 })
    expect(status.dataDir).toBe(data)
    expect(status.store.bytes).toBeGreaterThan(0)
  })

  it('paginates and searches the listing', () => {
    orbitJson(data, ['init', '--name', 'Pager'])
    for (const name of ['Carol', 'alice', 'Bob', 'dave']) orbitJson(data, ['contact', 'add', '--name', name, '--email', `${name.toLowerCase()}@example.com`])
    const page = orbitJson<{ total: number; contacts: ContactJson[] }>(data, ['contact', 'list', '--limit', '2', '--offset', '1'])
    expect(page.total).toBe(4)
    expect(page.contacts.map((c) => c.name)).toEqual(['Bob', 'Carol'])
    expect(orbitJson<{ contacts: ContactJson[] }>(data, ['contact', 'list', '--query', 'DAVE@']).contacts.map((c) => c.name)).toEqual(['dave'])
    expect(orbitJson<{ limit: null; contacts: ContactJson[] }>(data, ['contact', 'list', '--all', '--limit', '1'])).toMatchObject({ limit: null })
    const human = orbit(['--data', data, 'contact', 'list', '--limit', '2'])
    expect(human.stdout).toContain('Next page: --offset 2')
  })

  it('takes global options before or after the command, and $ORBIT_HOME as the default', () => {
    orbitJson(data, ['init', '--name', 'Flags'])
    const before = orbit(['--data', data, '--json', 'contact', 'add', '--name', 'Before'])
    const after = orbit(['contact', 'add', '--name', 'After', '--data', data, '--json'])
    expect([before.code, after.code]).toEqual([0, 0])
    expect(JSON.parse(after.stdout)).toMatchObject({ name: 'After' })
    const viaEnv = orbit(['contact', 'list', '--json'], { env: { ORBIT_HOME: data } })
    expect(viaEnv.code).toBe(0)
    expect((JSON.parse(viaEnv.stdout) as { contacts: ContactJson[] }).contacts.map((c) => c.name)).toEqual(['After', 'Before'])
    // A relative --data resolves against the working directory.
    const relative = orbit(['contact', 'list', '--json', '--data', 'data'], { cwd: root })
    expect(JSON.parse(relative.stdout)).toMatchObject({ total: 2 })
  })

  it('prints help with examples for every command, exit 0', () => {
    for (const cmd of [[], ['init'], ['contact'], ['contact', 'add'], ['contact', 'list'], ['contact', 'show'], ['contact', 'edit'],
      ['contact', 'remove'], ['contact', 'restore'], ['contact', 'note'], ['org'], ['org', 'add'], ['org', 'list'], ['status']]) {
      const r = orbit([...cmd, '--help'])
      expect(r.code, cmd.join(' ')).toBe(0)
      expect(r.stdout, cmd.join(' ')).toMatch(/Usage: orbit/)
      if (cmd.length > 0 && !(cmd.length === 1 && ['contact', 'org'].includes(cmd[0]!))) expect(r.stdout, cmd.join(' ')).toContain('Examples:')
    }
  })

  it('never prints the private key', () => {
    const init = orbit(['--data', data, 'init', '--name', 'Secretive'])
    const key = JSON.parse(readFileSync(join(data, 'identity.key'), 'utf8')) as { secret: string }
    const outputs = [init, orbit(['--data', data, 'status']), orbit(['--data', data, 'status', '--json']), orbit(['--data', data, 'init', '--name', 'again', '--json'])]
    for (const r of outputs) expect(r.stdout + r.stderr).not.toContain(key.secret)
  })
})

import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as A from '@automerge/automerge'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { initDevice, openDevice, withDevice } from '../../src/apps/node/device.js'
import { openReadView } from '../../src/apps/node/read-view.js'
import { newContactId } from '../../src/core/ids.js'
import { buildContact } from '../../src/core/model/records.js'
import type { ContactShardDoc } from '../../src/core/model/types.js'

describe('device wiring (initDevice / openDevice / the listing projection)', () => {
  let root: string
  let dir: string
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'orbit-device-'))
    dir = join(root, 'data')
  })
  afterEach(() => rmSync(root, { recursive: true, force: true }))

  it('initialises once: owner-only dir and key, the device as founding member, then refuses', async () => {
    const info = await initDevice(dir, { name: 'Laptop', workspaceName: 'Acme', shardCount: 4, now: () => 1_000 })
    expect(statSync(dir).mode & 0o777).toBe(0o700)
    expect(statSync(join(dir, 'identity.key')).mode & 0o777).toBe(0o600)
    expect(info).toMatchObject({ deviceName: 'Laptop', workspaceName: 'Acme', dataDir: dir })
    await expect(initDevice(dir, { name: 'Again' })).rejects.toMatchObject({ name: 'StoreError', code: 'ALREADY_INITIALISED' })

    const device = await openDevice(dir)
    try {
      expect(device.identity.deviceId).toBe(info.deviceId)
      expect(device.workspace.listDevices()).toEqual([expect.objectContaining({ id: info.deviceId, name: 'Laptop', addedAt: 1_000 })])
      expect(device.workspace.shardCount).toBe(4)
    } finally {
      await device.close()
      await device.close() // idempotent
    }
  })

  it('refuses a data dir that was never initialised, creating nothing', async () => {
    await expect(openDevice(dir)).rejects.toMatchObject({ name: 'StoreError', code: 'NOT_INITIALISED' })
    await expect(openReadView(dir)).rejects.toMatchObject({ name: 'StoreError', code: 'NOT_INITIALISED' })
    expect(existsSync(dir)).toBe(false)
  })

  it('an acknowledged change is in SQLite and in the listing when withDevice resolves', async () => {
    await initDevice(dir, { name: 'Laptop', shardCount: 4 })
    const added = await withDevice(dir, (d) => d.workspace.addContact({ name: 'Ada', emails: ['ada@example.com'] }))
    const view = await openReadView(dir)
    try {
      expect(view.refreshed).toBe(false)
      expect(view.getContact(added.id)).toEqual(added)
      expect(view.listContacts({ offset: 0, limit: 10 })).toEqual({ total: 1, offset: 0, contacts: [added] })
    } finally {
      view.close()
    }
  })

  it('projects remote changes (merged from another replica) as well as local ones', async () => {
    await initDevice(dir, { name: 'Laptop', shardCount: 4 })
    const device = await openDevice(dir)
    const id = newContactId()
    try {
      const shard = await device.workspace.shardHandle(device.workspace.shardOfContact(id))
      // Another device's replica of the same shard adds a contact; the merge arrives as a remote change.
      const remote = A.change(A.load<ContactShardDoc>(A.save(shard.doc())), (d) => {
        d.contacts[id] = buildContact(id, { name: 'From afar', emails: [], phones: [], tags: ['remote'] }, 42)
      })
      shard.update((d) => A.merge(d, remote))
      await device.flush()
      expect(device.index.get(id)).toMatchObject({ id, name: 'From afar', tags: { remote: true } })
    } finally {
      await device.close()
    }
    const view = await openReadView(dir)
    try {
      expect(view.refreshed).toBe(false)
      expect(view.getContact(id)?.name).toBe('From afar')
    } finally {
      view.close()
    }
  })

  it('keeps organizations and workspace facts projected for the fast path', async () => {
    await initDevice(dir, { name: 'Laptop', workspaceName: 'Acme', shardCount: 2 })
    const org = await withDevice(dir, (d) => d.workspace.addOrg({ name: 'Initech' }))
    const view = await openReadView(dir)
    try {
      expect(view.listOrgs()).toEqual([org])
      expect(view.status()).toMatchObject({
        device: { name: 'Laptop' },
        workspace: { name: 'Acme' },
        counts: { contacts: 0, removedContacts: 0, orgs: 1, devices: 1 },
      })
    } finally {
      view.close()
    }
  })
})

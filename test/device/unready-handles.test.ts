/**
 * A document the Repo asked for and never got stays in its cache as a handle that is not ready
 * (`unavailable`). automerge-repo's own `flush()` and `shutdown()` reject on such a handle with
 * "DocHandle is not ready"; a `pair join` hit it when the inviter answered "unavailable" for a
 * document at the wrong moment, and failed after a complete sync. The device flushes and closes
 * with one present, and what it wrote is on disk.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateAutomergeUrl } from '@automerge/automerge-repo'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { initDevice, openDevice } from '../../src/apps/node/device.js'

describe('a device holding a handle that never became ready', () => {
  let root: string
  let dir: string
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'orbit-unready-'))
    dir = join(root, 'data')
  })
  afterEach(() => rmSync(root, { recursive: true, force: true }))

  it('flushes and closes, and keeps what was written', async () => {
    await initDevice(dir, { name: 'Laptop' })
    const device = await openDevice(dir)
    const { id } = await device.workspace.addContact({ name: 'Ada Lovelace' })
    // No peer and nothing stored: the handle ends `unavailable`, and stays in the Repo's cache.
    await expect(device.repo.find(generateAutomergeUrl())).rejects.toThrow(/unavailable/i)
    const unready = Object.values(device.repo.handles).filter((h) => !h.isReady())
    expect(unready).toHaveLength(1)
    await device.flush()
    await device.close()

    const again = await openDevice(dir)
    try {
      expect((await again.workspace.getContact(id))?.name).toBe('Ada Lovelace')
    } finally {
      await again.close()
    }
  })
})

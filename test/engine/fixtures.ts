/**
 * Two member devices of one workspace in temp data dirs, opened in this process (real SQLite,
 * real Repos): A initialised, B made a member the way pairing leaves it (A's documents, its own
 * key, both in the member list). For the tier acceptance suite and the engine tests.
 */
import { cpSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { toBase64Url } from '../../src/core/crypto/bytes.js'
import { generateIdentity } from '../../src/core/crypto/identity.js'
import { saveIdentity } from '../../src/adapters/identity-fs/index.js'
import { ConfigStore, openOrbitDatabase } from '../../src/adapters/storage-sqlite/index.js'
import { CONFIG_KEYS, storePath } from '../../src/apps/node/data-dir.js'
import { initDevice, openDevice, type OrbitDevice } from '../../src/apps/node/device.js'

export interface TwoMembers {
  root: string
  a: OrbitDevice
  b: OrbitDevice
  /** Closes both devices and removes the temp dirs. */
  close(): Promise<void>
}

/** Makes `to` a member copy of the device in `from` named `name`; returns its device id. */
export async function addMemberCopy(from: string, to: string, name: string): Promise<string> {
  const identity = generateIdentity()
  const device = await openDevice(from)
  try {
    await device.workspace.addDevice({ id: identity.deviceId, publicKey: toBase64Url(identity.publicKey), name, addedAt: Date.now(), addedBy: device.identity.deviceId })
  } finally {
    await device.close()
  }
  cpSync(from, to, { recursive: true })
  unlinkSync(join(to, 'identity.key'))
  saveIdentity(to, identity)
  const db = openOrbitDatabase(storePath(to), { create: false })
  try {
    const config = new ConfigStore(db)
    config.set(CONFIG_KEYS.deviceId, identity.deviceId)
    config.set(CONFIG_KEYS.deviceName, name)
  } finally {
    db.close()
  }
  return identity.deviceId
}

/** A and B, open, with every shard loaded. */
export async function twoMembers(): Promise<TwoMembers> {
  const root = mkdtempSync(join(tmpdir(), 'orbit-engine-'))
  const [da, db] = [join(root, 'a'), join(root, 'b')]
  await initDevice(da, { name: 'Alpha' })
  await addMemberCopy(da, db, 'Beta')
  const a = await openDevice(da)
  const b = await openDevice(db)
  await a.workspace.loadAllShards()
  await b.workspace.loadAllShards()
  return {
    root,
    a,
    b,
    async close() {
      await a.close()
      await b.close()
      rmSync(root, { recursive: true, force: true })
    },
  }
}

/**
 * Data dirs for the soak: one workspace with `n` member devices (device 0 founded it; the others
 * were added to its member list before the copies, as pairing leaves them). The n-device form of
 * test/mesh/helpers.ts `threeMembers`.
 */
import { cpSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { toBase64Url } from '../../src/core/crypto/bytes.js'
import { generateIdentity } from '../../src/core/crypto/identity.js'
import { saveIdentity } from '../../src/adapters/identity-fs/index.js'
import { ConfigStore, openOrbitDatabase } from '../../src/adapters/storage-sqlite/index.js'
import { CONFIG_KEYS, storePath } from '../../src/apps/node/data-dir.js'
import { initDevice, openDevice } from '../../src/apps/node/device.js'

/**
 * Creates `n` member devices in `root`/d0 … d(n-1); returns their data dirs and device ids.
 * `configOf(i)` adds config rows to device `i`'s store (e.g. its STUN servers).
 */
export async function members(root: string, n: number, configOf: (i: number) => Record<string, unknown> = () => ({})): Promise<{ dirs: string[]; ids: string[] }> {
  const first = join(root, 'd0')
  await initDevice(first, { name: 'Device 0' })
  const others = Array.from({ length: n - 1 }, (_, k) => ({ name: `Device ${k + 1}`, identity: generateIdentity() }))
  const device = await openDevice(first)
  const firstId = device.identity.deviceId
  try {
    for (const o of others) {
      await device.workspace.addDevice({ id: o.identity.deviceId, publicKey: toBase64Url(o.identity.publicKey), name: o.name, addedAt: Date.now(), addedBy: firstId })
    }
    await device.flush()
  } finally {
    await device.close()
  }
  const firstConfig = Object.entries(configOf(0))
  if (firstConfig.length > 0) {
    const db = openOrbitDatabase(storePath(first), { create: false })
    try {
      const store = new ConfigStore(db)
      for (const [key, value] of firstConfig) store.set(key, value)
    } finally {
      db.close()
    }
  }
  const dirs = [first]
  others.forEach((o, k) => {
    const dir = join(root, `d${k + 1}`)
    cpSync(first, dir, { recursive: true })
    unlinkSync(join(dir, 'identity.key'))
    saveIdentity(dir, o.identity)
    const db = openOrbitDatabase(storePath(dir), { create: false })
    try {
      const store = new ConfigStore(db)
      store.set(CONFIG_KEYS.deviceId, o.identity.deviceId)
      store.set(CONFIG_KEYS.deviceName, o.name)
      for (const [key, value] of Object.entries(configOf(k + 1))) store.set(key, value)
    } finally {
      db.close()
    }
    dirs.push(dir)
  })
  return { dirs, ids: [firstId, ...others.map((o) => o.identity.deviceId)] }
}

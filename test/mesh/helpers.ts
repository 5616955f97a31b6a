/**
 * Data dirs for mesh tests: one workspace with three member devices (A founded it; B and C were
 * added to A's member list before the copies, as pairing leaves them), and ways to wait.
 */
import { cpSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { toBase64Url } from '../../src/core/crypto/bytes.js'
import { generateIdentity } from '../../src/core/crypto/identity.js'
import { saveIdentity } from '../../src/adapters/identity-fs/index.js'
import { ConfigStore, openOrbitDatabase } from '../../src/adapters/storage-sqlite/index.js'
import { CONFIG_KEYS, storePath } from '../../src/apps/node/data-dir.js'
import { initDevice, openDevice } from '../../src/apps/node/device.js'
import { WEBRTC_CONFIG_KEYS } from '../../src/apps/node/webrtc-config.js'

export interface Members {
  dirs: Record<'a' | 'b' | 'c', string>
  ids: Record<'a' | 'b' | 'c', string>
}

/** Creates A (founder) in `root`/a and copies it to b and c with their own keys; all three are members. */
export async function threeMembers(root: string, config: Record<string, unknown> = {}): Promise<Members> {
  const a = join(root, 'a')
  await initDevice(a, { name: 'Alpha' })
  const others = { b: { name: 'Beta', identity: generateIdentity() }, c: { name: 'Gamma', identity: generateIdentity() } }
  const device = await openDevice(a)
  const aId = device.identity.deviceId
  try {
    for (const o of Object.values(others)) {
      await device.workspace.addDevice({ id: o.identity.deviceId, publicKey: toBase64Url(o.identity.publicKey), name: o.name, addedAt: Date.now(), addedBy: aId })
    }
    await device.flush()
  } finally {
    await device.close()
  }
  const dirs = { a, b: join(root, 'b'), c: join(root, 'c') }
  for (const [k, o] of Object.entries(others) as Array<['b' | 'c', (typeof others)['b']]>) {
    cpSync(a, dirs[k], { recursive: true })
    unlinkSync(join(dirs[k], 'identity.key'))
    saveIdentity(dirs[k], o.identity)
  }
  for (const [k, dir] of Object.entries(dirs) as Array<['a' | 'b' | 'c', string]>) {
    const db = openOrbitDatabase(storePath(dir), { create: false })
    try {
      const store = new ConfigStore(db)
      if (k !== 'a') {
        store.set(CONFIG_KEYS.deviceId, others[k].identity.deviceId)
        store.set(CONFIG_KEYS.deviceName, others[k].name)
      }
      for (const [key, value] of Object.entries(config)) store.set(key, value)
    } finally {
      db.close()
    }
  }
  return { dirs, ids: { a: aId, b: others.b.identity.deviceId, c: others.c.identity.deviceId } }
}

/** Host candidates on loopback only (config for {@link threeMembers}). */
export const LOOPBACK_WEBRTC = { [WEBRTC_CONFIG_KEYS.hostAddresses]: ['127.0.0.1'] }

/** Resolves once `check()` is true; rejects with `what` after `ms` (a bound on waiting, not a timed assertion). */
export async function until(check: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

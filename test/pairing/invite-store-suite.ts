/**
 * Acceptance suite for InviteStore implementations (the in-memory one here, the daemon's SQLite
 * one elsewhere). Usage in a test file:
 *
 *   import { runInviteStoreTests } from '../pairing/invite-store-suite.js'
 *   runInviteStoreTests('sqlite', async () => ({ store: openSqliteInviteStore(tmpFile()), teardown: async () => {...} }))
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { InviteStore } from '../../src/core/pairing/invite-store.js'
import { inviteSecretHash, type PendingInvite } from '../../src/core/pairing/invite.js'
import { newWorkspaceId, randomBytes, type DeviceId } from '../../src/core/ids.js'

export interface InviteStoreFixture {
  store: InviteStore
  teardown?: () => void | Promise<void>
}

const NOW = 1_800_000_000_000

function pending(expiresAt: number): PendingInvite {
  const secret = randomBytes(16)
  return {
    secretHash: inviteSecretHash(secret),
    secret,
    workspaceId: newWorkspaceId(),
    inviterDeviceId: 'a'.repeat(32) as DeviceId,
    createdAt: NOW,
    expiresAt,
  }
}

export function runInviteStoreTests(name: string, setup: () => InviteStoreFixture | Promise<InviteStoreFixture>): void {
  describe(`InviteStore acceptance: ${name}`, () => {
    let fixture: InviteStoreFixture | undefined
    const open = async (): Promise<InviteStore> => {
      fixture = await setup()
      return fixture.store
    }
    afterEach(async () => {
      await fixture?.teardown?.()
      fixture = undefined
    })

    it('stores invites with their secret bytes intact', async () => {
      const store = await open()
      const a = pending(NOW + 60_000)
      await store.put(a)
      const [listed] = await store.list(NOW)
      expect(listed?.secretHash).toBe(a.secretHash)
      expect(Buffer.from(listed!.secret).equals(Buffer.from(a.secret))).toBe(true)
      expect(listed?.workspaceId).toBe(a.workspaceId)
      expect(listed?.inviterDeviceId).toBe(a.inviterDeviceId)
      expect(listed?.expiresAt).toBe(a.expiresAt)
      expect(listed?.createdAt).toBe(a.createdAt)
    })

    it('list hides expired invites (expiresAt is exclusive)', async () => {
      const store = await open()
      await store.put(pending(NOW + 1000))
      await store.put(pending(NOW + 5000))
      expect(await store.list(NOW)).toHaveLength(2)
      expect(await store.list(NOW + 1000)).toHaveLength(1)
      expect(await store.list(NOW + 5000)).toHaveLength(0)
    })

    it('take is single use, and atomic under concurrency', async () => {
      const store = await open()
      const a = pending(NOW + 60_000)
      await store.put(a)
      const results = await Promise.all([store.take(a.secretHash), store.take(a.secretHash), store.take(a.secretHash)])
      expect(results.filter((r) => r !== undefined)).toHaveLength(1)
      expect(await store.take(a.secretHash)).toBeUndefined()
      expect(await store.list(NOW)).toHaveLength(0)
      expect(await store.take('0'.repeat(64))).toBeUndefined()
    })

    it('purgeExpired removes exactly the expired invites and says how many', async () => {
      const store = await open()
      const keep = pending(NOW + 10_000)
      await store.put(pending(NOW + 1))
      await store.put(pending(NOW + 2))
      await store.put(keep)
      expect(await store.purgeExpired(NOW + 5)).toBe(2)
      expect((await store.list(NOW)).map((i) => i.secretHash)).toEqual([keep.secretHash])
      expect(await store.purgeExpired(NOW + 5)).toBe(0)
    })
  })
}

/**
 * The InviteStore port on the device's SQLite store: pending invites live in the config table
 * under one key, so they survive a daemon restart and `take` is atomic across processes (one
 * IMMEDIATE transaction reads and rewrites the row).
 *
 * The secrets are stored because the proof check needs them (an HMAC keyed by the secret); the
 * data dir is 0700 and an invite lives minutes.
 */
import { z } from 'zod'
import { fromBase64Url, toBase64Url } from '../../core/crypto/bytes.js'
import type { DeviceId, WorkspaceId } from '../../core/ids.js'
import type { InviteStore } from '../../core/pairing/invite-store.js'
import type { PendingInvite } from '../../core/pairing/invite.js'
import { ConfigStore, type OrbitDatabase } from '../../adapters/storage-sqlite/index.js'

/** Config key holding the pending invites. */
export const INVITES_KEY = 'pairing.pendingInvites'

const Stored = z.object({
  secretHash: z.string().regex(/^[0-9a-f]{64}$/),
  secret: z.string().max(64),
  workspaceId: z.string().max(64),
  inviterDeviceId: z.string().max(128),
  createdAt: z.number(),
  expiresAt: z.number(),
})
const StoredList = z.array(Stored).max(1000)
type StoredInvite = z.infer<typeof Stored>

/**
 * @example
 * const invites = new SqliteInviteStore(device.db)
 * invites.put(pending)
 * await answerPairing(io, session, { store: invites, now: Date.now, admit })
 */
export class SqliteInviteStore implements InviteStore {
  readonly #db: OrbitDatabase
  readonly #config: ConfigStore

  constructor(db: OrbitDatabase) {
    this.#db = db
    this.#config = new ConfigStore(db)
  }

  put(invite: PendingInvite): void {
    this.#db.transaction(() => {
      const all = this.#read().filter((i) => i.secretHash !== invite.secretHash)
      all.push({ ...invite, secret: toBase64Url(invite.secret) })
      this.#write(all)
    })
  }

  list(now: number): PendingInvite[] {
    return this.#read()
      .filter((i) => i.expiresAt > now)
      .map(toPending)
  }

  take(secretHash: string): PendingInvite | undefined {
    return this.#db.transaction(() => {
      const all = this.#read()
      const found = all.find((i) => i.secretHash === secretHash)
      if (found === undefined) return undefined
      this.#write(all.filter((i) => i !== found))
      return toPending(found)
    })
  }

  purgeExpired(now: number): number {
    return this.#db.transaction(() => {
      const all = this.#read()
      const kept = all.filter((i) => i.expiresAt > now)
      if (kept.length !== all.length) this.#write(kept)
      return all.length - kept.length
    })
  }

  #read(): StoredInvite[] {
    // A damaged row is treated as no invites: pairing then refuses, which is the safe side.
    const parsed = StoredList.safeParse(this.#config.get(INVITES_KEY) ?? [])
    return parsed.success ? parsed.data : []
  }

  #write(all: StoredInvite[]): void {
    if (all.length === 0) this.#config.delete(INVITES_KEY)
    else this.#config.set(INVITES_KEY, all)
  }
}

function toPending(i: StoredInvite): PendingInvite {
  return {
    secretHash: i.secretHash,
    secret: fromBase64Url(i.secret, 'secret'),
    workspaceId: i.workspaceId as WorkspaceId,
    inviterDeviceId: i.inviterDeviceId as DeviceId,
    createdAt: i.createdAt,
    expiresAt: i.expiresAt,
  }
}

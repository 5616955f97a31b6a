/**
 * The InviteStore port: pending invites on the inviting device. Implementations: the in-memory
 * one below; a SQLite one in the daemon. Methods may be sync or async.
 */
import type { PendingInvite } from './invite.js'

type MaybePromise<T> = T | Promise<T>

export interface InviteStore {
  /** Records a newly issued invite. */
  put(invite: PendingInvite): MaybePromise<void>
  /** Invites not yet used and not expired at `now` (the proof check tries each). */
  list(now: number): MaybePromise<PendingInvite[]>
  /**
   * Removes and returns the invite with this secret hash, or undefined if it was already taken.
   * Must be atomic: of two concurrent takes of one invite, exactly one gets it (single use).
   */
  take(secretHash: string): MaybePromise<PendingInvite | undefined>
  /** Deletes invites expired at `now`; returns how many. */
  purgeExpired(now: number): MaybePromise<number>
}

/** In-memory InviteStore (tests, in-process devices). JS is single-threaded, so `take` is atomic. */
export class MemoryInviteStore implements InviteStore {
  readonly #invites = new Map<string, PendingInvite>()

  put(invite: PendingInvite): void {
    this.#invites.set(invite.secretHash, { ...invite, secret: invite.secret.slice() })
  }

  list(now: number): PendingInvite[] {
    return [...this.#invites.values()].filter((i) => i.expiresAt > now).map((i) => ({ ...i, secret: i.secret.slice() }))
  }

  take(secretHash: string): PendingInvite | undefined {
    const invite = this.#invites.get(secretHash)
    this.#invites.delete(secretHash)
    return invite
  }

  purgeExpired(now: number): number {
    let removed = 0
    for (const [key, invite] of this.#invites) {
      if (invite.expiresAt <= now) {
        this.#invites.delete(key)
        removed++
      }
    }
    return removed
  }

  get size(): number {
    return this.#invites.size
  }
}

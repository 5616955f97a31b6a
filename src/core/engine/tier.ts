/**
 * The tier port (docs/architecture.md, "Tiers"): what a way of reaching a device — the LAN,
 * WebRTC, QR codes — must offer the engine. A tier says what it can reach now and, when it
 * cannot, why; it opens a link to a member and runs one session, reported in the tier-neutral
 * {@link SyncReport}. Tiers that need a person to carry something between the devices (a WebRTC
 * code, QR frames) take a {@link Carrier}; the peer's side of such a session is {@link Tier.respond}.
 *
 * Implementations need Node (sockets, werift, PNG): they live beside the composition root, in
 * src/apps/node/tiers/. The acceptance suite every tier passes is test/engine/tier-acceptance.ts.
 */
import type { DeviceId } from '../ids.js'
import { SYNC_METHODS, type SyncMethod } from '../sync/types.js'
import type { SyncReport } from './sync-session.js'

/** Why a tier cannot reach a device now. */
export type UnreachableReason =
  /** Not a current member of the workspace (unknown or revoked): no tier will talk to it. */
  | 'not-member'
  /** The tier knows no address for it (not discovered, never reached, none given). */
  | 'no-address'
  /** It was reachable but is not now (its addresses do not answer). */
  | 'offline'
  /** A session needs something carried by hand (a code, QR frames): give a {@link Carrier}. */
  | 'needs-code'
  /** The tier is stopped. */
  | 'stopped'

/** What a tier can do for a device right now: reach it (and how), or why not. */
export type Reachability = { ok: true; via: string } | { ok: false; reason: UnreachableReason; detail: string }

/** Something carried between two devices outside any network: a code's text, or QR images (PNG). */
export type Carried = { text: string } | { images: readonly Uint8Array[] }

/** Carries what this side produced to the peer and brings back what the peer answered. */
export interface Carrier {
  carry(outgoing: Carried, signal?: AbortSignal): Promise<Carried>
}

export interface TierSessionOptions {
  /** Bound on the session (connecting, then syncing). Each tier has a default. */
  timeoutMs?: number
  signal?: AbortSignal
  /** Required by tiers whose reachability says `needs-code`. */
  carrier?: Carrier
}

/** What the peer side of a carried session hands back, and its own report once it ended. */
export interface TierResponse {
  /** What goes back to the initiator (an answer code, reply frames), if anything. */
  reply: Carried | undefined
  report: Promise<SyncReport>
}

/** A tier: one way of syncing with paired devices. */
export interface Tier {
  readonly method: SyncMethod
  /** Lower is preferred (the order of {@link SYNC_METHODS}: LAN, WebRTC, QR). */
  readonly priority: number
  /** What this tier can do for `deviceId` now; cheap and synchronous (no dialling). */
  reach(deviceId: DeviceId): Reachability
  /**
   * Opens a link to a member and runs one session to its end. A session that started and then
   * failed resolves with a report of `status: 'error'`; one that cannot start throws a typed error
   * (WireError `NOT_MEMBER` / `UNREACHABLE` / `NEEDS_CODE`, or the tier's own).
   */
  session(deviceId: DeviceId, options?: TierSessionOptions): Promise<SyncReport>
  /**
   * The peer's side of a carried session: takes what the initiator's carrier brought. Absent on
   * tiers whose peer answers by itself (the LAN's listener).
   */
  respond?(incoming: Carried, options?: Omit<TierSessionOptions, 'carrier'>): Promise<TierResponse>
  /** Idempotent. */
  close(): Promise<void>
}

/** The priority of a method: its place in {@link SYNC_METHODS}. */
export const tierPriority = (method: SyncMethod): number => SYNC_METHODS.indexOf(method)

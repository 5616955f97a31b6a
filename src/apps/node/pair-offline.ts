/**
 * Pairing by QR alone, with no network (docs/protocol/pairing.md, "QR-only pairing"):
 *
 * 1. inviter `orbit pair invite --offline`  → {@link createOfflineInvite}: the pending invite goes
 *    straight into the store's SQLite InviteStore (no daemon needed), the code/QR is shown.
 * 2. joiner  `orbit pair join X --offline`  → {@link startOfflineJoin}: checks the invite, records
 *    the pending join (config key {@link PENDING_JOIN_KEY}) and returns the acceptance code/QR.
 * 3. inviter `orbit pair accept CODE`       → {@link acceptOfflineJoin}: verifies the acceptance
 *    (single use) and adds the joiner as a member.
 * 4. inviter `orbit qr export --for JOINER`, joiner `orbit qr import`: the first bundle, sealed to
 *    the joiner and signed by the inviter named in the invite, carries the whole workspace; the
 *    joiner adopts it (qr-sync.ts) and forgets the pending join.
 *
 * Steps 1 and 3 are `OrbitApi` calls (`createOfflineInvite`, `acceptOfflineJoin`, over
 * {@link createOfflineInviteOn} / {@link acceptOfflineJoinOn}): the running `orbit serve` answers
 * them when there is one. Step 2 (and the joiner's first `qr import`) replace the workspace, so
 * they refuse to run while `orbit serve` holds the joiner's data dir.
 */
import { z } from 'zod'
import { PairingError, StoreError } from '../../core/errors.js'
import { toBase64Url } from '../../core/crypto/bytes.js'
import {
  assertInviteUsable,
  createAcceptance,
  createInvite,
  parseInviteCode,
  verifyAcceptance,
} from '../../core/pairing/index.js'
import type { ConfigStore } from '../../adapters/storage-sqlite/index.js'
import { readDaemonLock } from './lock.js'
import { withOpenDevice, type OrbitDevice } from './device.js'
import { SqliteInviteStore } from './invite-store-sqlite.js'
import { assertMayJoin } from './join-rules.js'

/** Config key of the joiner's pending offline join (removed once the workspace is adopted). */
export const PENDING_JOIN_KEY = 'pairing.offlineJoin'

const PendingJoinSchema = z.object({
  workspaceId: z.string().regex(/^ws_[a-z2-7]{1,64}$/),
  inviterDeviceId: z.string().min(1).max(128),
  /** base64url Ed25519 key, from the invite: the only sender whose first bundle is adopted. */
  inviterPublicKey: z.string().min(1).max(64),
  inviterName: z.string().max(255),
  startedAt: z.number(),
})

/** What the joiner remembers between `pair join --offline` and the first `qr import`. */
export type PendingJoin = z.infer<typeof PendingJoinSchema>

/** The pending offline join of this device, if any (a damaged record counts as none). */
export function readPendingJoin(config: ConfigStore): PendingJoin | undefined {
  const parsed = PendingJoinSchema.safeParse(config.get(PENDING_JOIN_KEY))
  return parsed.success ? parsed.data : undefined
}

export interface OfflineOptions {
  now?: () => number
}

function refuseDaemon(dataDir: string, what: string): void {
  const daemon = readDaemonLock(dataDir)
  if (daemon !== undefined) {
    throw new StoreError(
      `orbit serve is running on ${dataDir} (pid ${daemon.pid}); ${what} replaces the workspace it serves, so stop it first and start it again after`,
      { code: 'DAEMON_RUNNING' },
    )
  }
}

/** Result of {@link createOfflineInvite}. */
export interface OfflineInvite {
  code: string
  expiresAt: number
  workspace: { id: string; name: string }
}

/**
 * Inviter: issues an invite with no addresses and stores it as pending in the open device's store
 * (the daemon's device, or one opened for the command: `OrbitApi.createOfflineInvite`).
 */
export function createOfflineInviteOn(device: Pick<OrbitDevice, 'workspace' | 'identity' | 'deviceName' | 'db'>, options: OfflineOptions & { ttlMs?: number } = {}): OfflineInvite {
  const now = options.now ?? Date.now
  const ws = device.workspace
  const { code, pending, invite } = createInvite({
    identity: device.identity,
    workspaceId: ws.workspaceId,
    deviceName: device.deviceName,
    addresses: [],
    now: now(),
    ...(options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs }),
  })
  new SqliteInviteStore(device.db).put(pending)
  return { code, expiresAt: invite.expiresAt, workspace: { id: ws.workspaceId, name: ws.name } }
}

/** Result of {@link startOfflineJoin}. */
export interface OfflineJoinStart {
  /** The acceptance code (orbit-accept:...) to show back to the inviter. */
  code: string
  deviceId: string
  workspaceId: string
  inviter: { deviceId: string; name: string }
}

/**
 * Joiner: parses the invite, refuses an expired one or a device that has data of its own (the same
 * rule as the live join), records the pending join and returns the acceptance code.
 * @throws PairingError `MALFORMED`, `CHECKSUM`, `EXPIRED`, `SELF`, `ALREADY_MEMBER`,
 *   `WORKSPACE_NOT_EMPTY`; StoreError `DAEMON_RUNNING`.
 */
export async function startOfflineJoin(dataDir: string, inviteText: string, options: OfflineOptions = {}): Promise<OfflineJoinStart> {
  const now = options.now ?? Date.now
  const invite = parseInviteCode(inviteText)
  assertInviteUsable(invite, now())
  refuseDaemon(dataDir, 'joining')
  return withOpenDevice(dataDir, async (device) => {
    const ws = device.workspace
    const me = device.identity.deviceId
    await assertMayJoin(ws, me, invite, 'pair join CODE --offline')
    const code = createAcceptance(invite, device.identity, device.deviceName, now())
    const pending: PendingJoin = {
      workspaceId: invite.workspaceId,
      inviterDeviceId: invite.inviterDeviceId,
      inviterPublicKey: toBase64Url(invite.inviterPublicKey),
      inviterName: invite.inviterName,
      startedAt: now(),
    }
    device.config.set(PENDING_JOIN_KEY, pending)
    return { code, deviceId: me, workspaceId: invite.workspaceId, inviter: { deviceId: invite.inviterDeviceId, name: invite.inviterName } }
  }, { now })
}

/** Result of {@link acceptOfflineJoin}. */
export interface OfflineAccept {
  joiner: { deviceId: string; name: string }
  workspace: { id: string; name: string }
}

/**
 * Inviter: verifies the acceptance against the open device's pending invites (consuming the match)
 * and adds the joiner as a member (`OrbitApi.acceptOfflineJoin`; the caller flushes). A wrong,
 * expired, reused or foreign acceptance throws PairingError (`REFUSED`, `BAD_SIGNATURE`,
 * `CHECKSUM`, `MALFORMED`) with nothing written.
 */
export async function acceptOfflineJoinOn(device: Pick<OrbitDevice, 'workspace' | 'identity' | 'db'>, acceptanceText: string, options: OfflineOptions = {}): Promise<OfflineAccept> {
  const now = options.now ?? Date.now
  const ws = device.workspace
  const { joiner, invite } = await verifyAcceptance(acceptanceText, new SqliteInviteStore(device.db), now(), device.identity)
  if (invite.workspaceId !== ws.workspaceId) {
    throw new PairingError('the invite was issued for another workspace than this device shows now', { code: 'REFUSED' })
  }
  await ws.addDevice({
    id: joiner.deviceId,
    publicKey: toBase64Url(joiner.publicKey),
    name: joiner.name,
    addedAt: now(),
    addedBy: device.identity.deviceId,
  })
  return { joiner: { deviceId: joiner.deviceId, name: joiner.name }, workspace: { id: ws.workspaceId, name: ws.name } }
}

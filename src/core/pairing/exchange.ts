/**
 * Live pairing over a SecureSession (authorization 'pairing'):
 *
 *   joiner  → inviter  PairRequest { proof = HMAC-SHA256(secret, handshakeHash ‖ "orbit-pair-v1"), name }
 *   inviter → joiner   PairAccept { workspaceId, workspaceName, rootUrl, members } | PairRefuse
 *
 * Binding the proof to the handshake hash means a relay (MITM) cannot reuse it: its sessions with
 * each side have different hashes. The joiner additionally dials with `expectedRemote` = the
 * invite's device id and {@link buildPairRequest} refuses a session whose peer key is not the
 * invite's. The inviter answers a wrong, expired or used secret with the same PairRefuse.
 */
import { hmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { PairingError } from '../errors.js'
import type { DeviceId } from '../ids.js'
import { concatBytes, equalBytes, utf8 } from '../crypto/bytes.js'
import type { SecureSession } from '../crypto/channel.js'
import { assertInviteUsable, type Invite, type PendingInvite } from './invite.js'
import type { InviteStore } from './invite-store.js'
import { parsePairMessage, type PairAccept, type PairMember, type PairRefuse, type PairRequest } from './messages.js'

const PAIR_LABEL = utf8('orbit-pair-v1')

/** The refusal, always the same. */
export const PAIR_REFUSE: PairRefuse = Object.freeze({ type: 'pair-refuse' })

/** The part of a SecureSession pairing needs. */
export type PairingSession = Pick<SecureSession, 'authorization' | 'handshakeHash' | 'remoteDeviceId' | 'remotePublicKey'>

/** `HMAC-SHA256(secret, handshakeHash ‖ "orbit-pair-v1")`. */
export function pairProof(secret: Uint8Array, handshakeHash: Uint8Array): Uint8Array {
  return hmac(sha256, secret, concatBytes(handshakeHash, PAIR_LABEL))
}

/**
 * Joiner side: the request to send (encode with `encodePairMessage`, then `session.encrypt`).
 * Throws PairingError `EXPIRED`, or `INVITER_MISMATCH` when the session's peer is not the device
 * that issued the invite (a man in the middle, or a wrong address).
 */
export function buildPairRequest(invite: Invite, session: Pick<SecureSession, 'handshakeHash' | 'remotePublicKey'>, name: string, now: number): PairRequest {
  assertInviteUsable(invite, now)
  if (!equalBytes(session.remotePublicKey, invite.inviterPublicKey)) {
    throw new PairingError('the device reached is not the one that issued the invite', { code: 'INVITER_MISMATCH' })
  }
  return { type: 'pair-request', proof: pairProof(invite.secret, session.handshakeHash), name }
}

/** The joining device, as the inviter learns it. */
export interface Joiner {
  deviceId: DeviceId
  publicKey: Uint8Array
  name: string
}

/** What the inviter's `admit` callback returns once it has added the joiner to the workspace. */
export interface PairWorkspace {
  workspaceName: string
  rootUrl: string
  members: PairMember[]
}

/** Result of {@link handlePairRequest}: send `response`; on acceptance, the joiner is in. */
export type PairDecision =
  | { accepted: true; response: PairAccept; joiner: Joiner; invite: PendingInvite }
  | { accepted: false; response: PairRefuse }

/**
 * Inviter side. Checks the proof in constant time against every pending, unexpired invite,
 * consumes the matching one (single use, atomically via `store.take`), then calls `admit` (add the
 * joiner to the workspace's members and return what the joiner needs). Anything else — session
 * not in 'pairing' mode, wrong proof, expired, already used — yields the same PairRefuse.
 */
export async function handlePairRequest(
  request: PairRequest,
  session: PairingSession,
  store: InviteStore,
  now: number,
  admit: (invite: PendingInvite, joiner: Joiner) => PairWorkspace | Promise<PairWorkspace>,
): Promise<PairDecision> {
  const refuse: PairDecision = { accepted: false, response: PAIR_REFUSE }
  if (session.authorization !== 'pairing' || request.type !== 'pair-request' || request.proof.length !== 32) return refuse
  let match: PendingInvite | undefined
  // Try every invite, without stopping early, so timing does not depend on which one matched.
  for (const invite of await store.list(now)) {
    if (equalBytes(pairProof(invite.secret, session.handshakeHash), request.proof) && match === undefined) match = invite
  }
  if (match === undefined) return refuse
  const taken = await store.take(match.secretHash)
  if (taken === undefined || now >= taken.expiresAt) return refuse
  const joiner: Joiner = { deviceId: session.remoteDeviceId, publicKey: session.remotePublicKey.slice(), name: request.name }
  const workspace = await admit(taken, joiner)
  return {
    accepted: true,
    joiner,
    invite: taken,
    response: { type: 'pair-accept', workspaceId: taken.workspaceId, ...workspace },
  }
}

/**
 * Joiner side: reads the inviter's answer. Returns the PairAccept; throws PairingError `REFUSED`
 * on a refusal, `MISMATCH` when it names another workspace than the invite, or the parse errors of
 * `parsePairMessage`.
 */
export function readPairResponse(bytes: Uint8Array, invite: Invite): PairAccept {
  const message = parsePairMessage(bytes)
  if (message.type === 'pair-refuse') {
    throw new PairingError('pairing was refused: the invite is wrong, expired or already used; ask for a new one', { code: 'REFUSED' })
  }
  if (message.type !== 'pair-accept') throw new PairingError('unexpected pairing message', { code: 'MALFORMED' })
  if (message.workspaceId !== invite.workspaceId) throw new PairingError('inviter answered for another workspace', { code: 'MISMATCH' })
  return message
}

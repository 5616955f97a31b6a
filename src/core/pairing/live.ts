/**
 * One-call pairing over a frame pipe, for apps and transports: the joiner's whole side, and the
 * inviter's answer to one pairing session. Both use the same {@link HandshakeIO} the handshake ran
 * on (after the handshake it carries `session.encrypt` frames).
 */
import { AbortedError, PairingError } from '../errors.js'
import { performHandshake, type HandshakeIO, type SecureSession } from '../crypto/channel.js'
import type { DeviceIdentity } from '../crypto/identity.js'
import type { Invite, PendingInvite } from './invite.js'
import type { InviteStore } from './invite-store.js'
import { buildPairRequest, handlePairRequest, type Joiner, type PairDecision, type PairWorkspace, readPairResponse } from './exchange.js'
import { encodePairMessage, parsePairMessage, type PairAccept } from './messages.js'

/** Default time for the whole pairing exchange after the handshake. */
export const DEFAULT_PAIRING_TIMEOUT_MS = 15_000

/** Options of {@link joinWithInvite}. */
export interface JoinOptions {
  invite: Invite
  identity: DeviceIdentity
  deviceName: string
  now: number
  signal?: AbortSignal
  timeoutMs?: number
}

/**
 * Joiner: handshake with the inviter (only the invite's device is accepted), prove the secret,
 * read the answer. Resolves with the PairAccept and the session (still usable for syncing once
 * the app has recorded the membership); rejects with PairingError (`REFUSED`, `EXPIRED`,
 * `INVITER_MISMATCH`, ...), HandshakeError, WireError or AbortedError.
 */
export async function joinWithInvite(io: HandshakeIO, options: JoinOptions): Promise<{ accept: PairAccept; session: SecureSession }> {
  const { invite } = options
  const session = await performHandshake(io, {
    role: 'initiator',
    identity: options.identity,
    deviceName: options.deviceName,
    expectedRemote: invite.inviterDeviceId,
    authorize: (remote) => (remote.deviceId === invite.inviterDeviceId ? 'pairing' : 'refuse'),
    signal: options.signal,
    timeoutMs: options.timeoutMs,
  })
  const request = buildPairRequest(invite, session, options.deviceName, options.now)
  for (const frame of session.encrypt(encodePairMessage(request))) io.send(frame)
  const answer = await receiveMessage(io, session, options.signal, options.timeoutMs ?? DEFAULT_PAIRING_TIMEOUT_MS)
  return { accept: readPairResponse(answer, invite), session }
}

/**
 * Inviter: on a session whose authorization is 'pairing', reads one PairRequest, answers it and
 * returns the decision. A malformed first message is answered with the generic refusal too.
 */
export async function answerPairing(
  io: HandshakeIO,
  session: SecureSession,
  options: {
    store: InviteStore
    now: () => number
    admit: (invite: PendingInvite, joiner: Joiner) => PairWorkspace | Promise<PairWorkspace>
    signal?: AbortSignal
    timeoutMs?: number
  },
): Promise<PairDecision> {
  const bytes = await receiveMessage(io, session, options.signal, options.timeoutMs ?? DEFAULT_PAIRING_TIMEOUT_MS)
  let decision: PairDecision
  try {
    const message = parsePairMessage(bytes)
    decision =
      message.type === 'pair-request'
        ? await handlePairRequest(message, session, options.store, options.now(), options.admit)
        : { accepted: false, response: { type: 'pair-refuse' } }
  } catch (error) {
    if (!(error instanceof PairingError)) throw error
    decision = { accepted: false, response: { type: 'pair-refuse' } }
  }
  for (const frame of session.encrypt(encodePairMessage(decision.response))) io.send(frame)
  return decision
}

async function receiveMessage(io: HandshakeIO, session: SecureSession, parent: AbortSignal | undefined, timeoutMs: number): Promise<Uint8Array> {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(new AbortedError('pairing timed out', { code: 'TIMEOUT' })), timeoutMs)
  const onParent = (): void => controller.abort(new AbortedError('pairing cancelled', { code: 'ABORTED' }))
  if (parent?.aborted) onParent()
  else parent?.addEventListener('abort', onParent, { once: true })
  const aborted = new Promise<never>((_, reject) => {
    const fail = (): void => reject(controller.signal.reason as unknown)
    if (controller.signal.aborted) fail()
    else controller.signal.addEventListener('abort', fail, { once: true })
  })
  aborted.catch(() => undefined)
  try {
    for (;;) {
      const frame = await Promise.race([io.receive(controller.signal), aborted])
      const message = session.decrypt(frame)
      if (message !== undefined) return message
    }
  } finally {
    clearTimeout(timer)
    parent?.removeEventListener('abort', onParent)
  }
}

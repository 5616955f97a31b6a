/**
 * The high-level, serverless way to connect two devices over WebRTC:
 *
 * ```ts
 * // device A                                   // device B
 * const offer = await createOffer(opts)          const answer = await answerOffer(offer.code, opts)
 * show(offer.code)  ───── QR / paste ─────▶      show(answer.code)
 * const conn = await offer.accept(answerCode) ◀── QR / paste ──   const conn = await answer.connection
 * ```
 *
 * Non-trickle: each code carries every candidate gathered. The offering side never writes to the
 * channel before the answer was applied and the channel opened; both then run the secure channel
 * (offerer = initiator) and check that the authenticated device is the one that signed the code.
 */
import type { RTCDataChannel, RTCPeerConnection } from 'werift'
import type { PeerAuthorization } from '../../core/crypto/channel.js'
import type { DeviceIdentity } from '../../core/crypto/identity.js'
import type { ChaChaPolyAead } from '../../core/crypto/noise.js'
import { HandshakeError, WebRtcError } from '../../core/errors.js'
import type { DeviceId } from '../../core/ids.js'
import type { Logger } from '../../core/log.js'
import type { EssentialCandidate } from '../../core/webrtc/sdp-essentials.js'
import type { NonceLedger, SignalCode } from '../../core/webrtc/signal.js'
import { DEFAULT_SIGNAL_TTL_MS, encodeSignalCode, parseSignalCode } from '../../core/webrtc/signal.js'
import { secureConnection, type WebRtcConnection } from './connection.js'
import type { FrameChannelOptions } from './frame-channel.js'
import { CHANNEL_LABEL, channelOpen, createPeerConnection, gatheringComplete, localSdp, remoteChannel, type PeerNetworkOptions } from './peer.js'

/** Options shared by both sides. */
export interface WebRtcPeerOptions extends PeerNetworkOptions {
  readonly identity: DeviceIdentity
  /** The workspace's members: public key of a device id, or undefined. Codes and handshakes from others are refused. */
  readonly resolveMember: (deviceId: DeviceId) => Uint8Array | undefined
  /** Single-use enforcement for received codes (persist it across runs to refuse replays after restarts). */
  readonly nonces?: NonceLedger
  /** Overrides the handshake decision (e.g. allow 'pairing'); default: member iff `resolveMember` knows the key. */
  readonly authorize?: (remote: { deviceId: DeviceId; publicKey: Uint8Array }) => PeerAuthorization | Promise<PeerAuthorization>
  readonly deviceName?: string
  readonly now?: () => number
  /** Lifetime of the codes this side produces. Default 10 min. */
  readonly ttlMs?: number
  /**
   * From applying the remote description to an open channel; expiry → `NO_ROUTE`. Default: 30 s
   * for the offerer (after `accept`); for the answerer, the answer code's lifetime, since it must
   * wait for a person to carry the code back.
   */
  readonly connectTimeoutMs?: number
  readonly handshakeTimeoutMs?: number
  readonly framing?: FrameChannelOptions
  /** The secure channel's ChaCha20-Poly1305; default Node's native one. */
  readonly aead?: ChaChaPolyAead
  readonly signal?: AbortSignal
  readonly logger?: Logger
}

/** A pending offer. */
export interface PendingOffer {
  /** The offer code to show as text or QR. */
  readonly code: string
  /** Applies the answer code and resolves with the authenticated connection. Single use. */
  accept(answerCode: string): Promise<WebRtcConnection>
  /** Abandons the offer (closes the peer connection). Idempotent. */
  close(): Promise<void>
}

/** An answer to someone's offer. */
export interface PendingAnswer {
  readonly code: string
  /** The offering device, as authenticated by its code's signature. */
  readonly remoteDeviceId: DeviceId
  /** Resolves once the offerer applied the answer and the secure channel is up. */
  readonly connection: Promise<WebRtcConnection>
  close(): Promise<void>
}

const DEFAULT_CONNECT_TIMEOUT_MS = 30_000

/** Creates a peer connection and its offer code (after ICE gathering completed). */
export async function createOffer(options: WebRtcPeerOptions): Promise<PendingOffer> {
  const now = options.now ?? Date.now
  const pc = createPeerConnection(options)
  try {
    const dc = pc.createDataChannel(CHANNEL_LABEL, { ordered: true })
    await pc.setLocalDescription(await pc.createOffer())
    await gatheringComplete(pc, options.gatherTimeoutMs ?? 5000, options.signal)
    const code = encodeSignalCode(
      { type: 'offer', sdp: localSdp(pc), expiresAt: now() + (options.ttlMs ?? DEFAULT_SIGNAL_TTL_MS), candidateFilter: candidateFilter(options) },
      options.identity,
    )
    const offer = parseSignalCode(code, { now, resolveMember: () => options.identity.publicKey })
    let used = false
    return {
      code,
      async accept(answerCode) {
        if (used) throw new WebRtcError('this offer was already answered', { code: 'OFFER_USED' })
        const answer = parseSignalCode(answerCode, { now, resolveMember: options.resolveMember, expectType: 'answer', ...nonceOption(options) })
        if (!sameBytes(answer.answers, offer.hash)) throw new WebRtcError('this answer is for another offer', { code: 'CODE_WRONG_OFFER' })
        used = true
        try {
          await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp })
          const open = await channelOpen(pc, Promise.resolve(dc), options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, options.signal)
          return await secure(pc, open, 'initiator', answer, options)
        } catch (error) {
          await closePeer(pc)
          throw error
        }
      },
      close: () => closePeer(pc),
    }
  } catch (error) {
    await closePeer(pc)
    throw error
  }
}

/** Verifies an offer code, creates the answer code and starts connecting. */
export async function answerOffer(offerCode: string, options: WebRtcPeerOptions): Promise<PendingAnswer> {
  const now = options.now ?? Date.now
  const offer = parseSignalCode(offerCode, { now, resolveMember: options.resolveMember, expectType: 'offer', ...nonceOption(options) })
  const pc = createPeerConnection(options)
  try {
    const dc = remoteChannel(pc)
    // Observed here; the same rejection reaches the caller through `connection`.
    dc.catch(() => undefined)
    await pc.setRemoteDescription({ type: 'offer', sdp: offer.sdp })
    await pc.setLocalDescription(await pc.createAnswer())
    await gatheringComplete(pc, options.gatherTimeoutMs ?? 5000, options.signal)
    const code = encodeSignalCode(
      { type: 'answer', sdp: localSdp(pc), expiresAt: now() + (options.ttlMs ?? DEFAULT_SIGNAL_TTL_MS), answers: offer.hash, candidateFilter: candidateFilter(options) },
      options.identity,
    )
    const connection = (async () => {
      try {
        const open = await channelOpen(pc, dc, options.connectTimeoutMs ?? options.ttlMs ?? DEFAULT_SIGNAL_TTL_MS, options.signal)
        return await secure(pc, open, 'responder', offer, options)
      } catch (error) {
        await closePeer(pc)
        throw error
      }
    })()
    connection.catch(() => undefined)
    return { code, remoteDeviceId: offer.deviceId, connection, close: () => closePeer(pc) }
  } catch (error) {
    await closePeer(pc)
    throw error
  }
}

async function secure(pc: RTCPeerConnection, dc: RTCDataChannel, role: 'initiator' | 'responder', remote: SignalCode, options: WebRtcPeerOptions): Promise<WebRtcConnection> {
  const connection = await secureConnection(pc, dc, {
    identity: options.identity,
    role,
    authorize: options.authorize ?? memberAuthorizer(options.resolveMember),
    ...(role === 'initiator' ? { expectedRemote: remote.deviceId } : {}),
    ...(options.deviceName === undefined ? {} : { deviceName: options.deviceName }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.handshakeTimeoutMs === undefined ? {} : { handshakeTimeoutMs: options.handshakeTimeoutMs }),
    ...(options.framing === undefined ? {} : { framing: options.framing }),
    ...(options.aead === undefined ? {} : { aead: options.aead }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  })
  if (connection.remoteDeviceId !== remote.deviceId) {
    // The channel must be held by the device that signed the code, not merely by some member.
    const error = new HandshakeError('the device on the channel is not the one that signed the code', { code: 'UNEXPECTED_PEER' })
    await connection.close(error)
    throw error
  }
  return connection
}

/** Default handshake decision: a member iff the workspace lists exactly this key for this id. */
export function memberAuthorizer(resolveMember: (deviceId: DeviceId) => Uint8Array | undefined) {
  return (remote: { deviceId: DeviceId; publicKey: Uint8Array }): PeerAuthorization => {
    const known = resolveMember(remote.deviceId)
    return known !== undefined && sameBytes(known, remote.publicKey) ? 'member' : 'refuse'
  }
}

function candidateFilter(options: PeerNetworkOptions): ((c: EssentialCandidate) => boolean) | undefined {
  const hosts = options.hostAddresses
  if (hosts === undefined) return undefined
  // werift also advertises interface addresses it was told not to bind: keep them out of the code.
  return (c) => c.type !== 'host' || hosts.includes(c.address)
}

function nonceOption(options: WebRtcPeerOptions): { nonces?: NonceLedger } {
  return options.nonces === undefined ? {} : { nonces: options.nonces }
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  if (a === undefined || a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number)
  return diff === 0
}

async function closePeer(pc: RTCPeerConnection): Promise<void> {
  try {
    await pc.close()
  } catch {
    // Already closed or half-built: nothing more to release.
  }
}

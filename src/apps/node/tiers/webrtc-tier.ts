/**
 * The WebRTC tier (docs/architecture.md, "Tiers"; the codes are in docs/protocol/webrtc.md):
 * serverless WebRTC whose offer and answer are signed, single-use codes a person carries (text or
 * a QR image). This side makes the offer, the carrier brings back the answer, the data channel
 * opens and the workspace syncs over it until both sides hold the same heads. Only members'
 * codes are accepted: the membership policy verifies the signer.
 */
import { WebRtcError, WireError } from '../../../core/errors.js'
import type { DeviceId } from '../../../core/ids.js'
import type { MembershipPolicy } from '../../../core/engine/membership.js'
import type { RecordedSession, SessionRecorder } from '../../../core/engine/session-recorder.js'
import type { SyncReport } from '../../../core/engine/sync-session.js'
import { tierPriority, type Carried, type Reachability, type Tier, type TierResponse, type TierSessionOptions } from '../../../core/engine/tier.js'
import { answerFrom, offerFrom, type SessionHooks, type WebRtcDevice, type WebRtcRunOptions } from '../webrtc-sync.js'

export interface WebRtcTierOptions {
  device: WebRtcDevice
  policy: MembershipPolicy
  recorder?: SessionRecorder
  /** ICE servers, host addresses, timeouts (unset ones come from the data dir's config). */
  run?: WebRtcRunOptions
  /** Set the Repo's sharing policy to the workspace's documents before a session. Default true; a node whose LAN tier set it (with its announcement gate) passes false. */
  share?: boolean
}

const textOf = (carried: Carried): string => {
  if (!('text' in carried)) throw new WebRtcError('the WebRTC tier carries codes (text), not images: decode the QR first', { code: 'CODE_MALFORMED' })
  return carried.text
}

export class WebRtcTier implements Tier {
  readonly method = 'webrtc' as const
  readonly priority = tierPriority('webrtc')
  readonly #o: WebRtcTierOptions
  readonly #open = new Set<{ close(): Promise<void> }>()
  #closed = false

  constructor(options: WebRtcTierOptions) {
    this.#o = options
  }

  reach(deviceId: DeviceId): Reachability {
    if (this.#closed) return { ok: false, reason: 'stopped', detail: 'the WebRTC tier is stopped' }
    if (!this.#o.policy.isMember(deviceId)) return { ok: false, reason: 'not-member', detail: `${deviceId} is not a member of this workspace` }
    return { ok: false, reason: 'needs-code', detail: 'a WebRTC session needs its offer and answer carried between the devices (`orbit webrtc offer`)' }
  }

  /** Store sessions through the recorder: begun when the channel opens, ended with the report. */
  #hooks(): SessionHooks {
    let session: RecordedSession | undefined
    return {
      onStart: (deviceId) => {
        session = this.#o.recorder?.begin({ method: 'webrtc', deviceId, status: 'syncing' })
      },
      onEnd: (report) => session?.end(report),
    }
  }

  #run(options: Omit<TierSessionOptions, 'carrier'>): WebRtcRunOptions & { share: boolean } {
    return {
      ...this.#o.run,
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      share: this.#o.share !== false,
    }
  }

  async session(deviceId: DeviceId, options: TierSessionOptions = {}): Promise<SyncReport> {
    const reach = this.reach(deviceId)
    if (!reach.ok && reach.reason === 'not-member') throw new WireError(reach.detail, { code: 'NOT_MEMBER' })
    if (options.carrier === undefined) throw new WireError(reach.ok ? 'no carrier' : reach.detail, { code: 'NEEDS_CODE' })
    const offer = await offerFrom(this.#o.device, this.#run(options))
    this.#open.add(offer)
    try {
      const answer = textOf(await options.carrier.carry({ text: offer.code }, options.signal))
      return await offer.complete(answer, this.#hooks())
    } finally {
      this.#open.delete(offer)
      await offer.close()
    }
  }

  async respond(incoming: Carried, options: Omit<TierSessionOptions, 'carrier'> = {}): Promise<TierResponse> {
    const answer = await answerFrom(this.#o.device, textOf(incoming), { ...this.#run(options), hooks: this.#hooks() })
    this.#open.add(answer)
    const report = answer.report.finally(() => {
      this.#open.delete(answer)
      return answer.close()
    })
    return { reply: { text: answer.code }, report }
  }

  async close(): Promise<void> {
    this.#closed = true
    await Promise.allSettled([...this.#open].map((o) => o.close()))
    this.#open.clear()
  }
}

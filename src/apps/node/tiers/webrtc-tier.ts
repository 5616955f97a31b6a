/**
 * The WebRTC tier (docs/architecture.md, "Tiers"; the codes are in docs/protocol/webrtc.md):
 * serverless WebRTC whose offer and answer are signed, single-use codes a person carries (text or
 * a QR image). This side makes the offer, the carrier brings back the answer, the data channel
 * opens and the workspace syncs over it until both sides hold the same heads. Only members'
 * codes are accepted: the membership policy verifies the signer.
 *
 * With a {@link Mesh} (the daemon), no code is carried by hand while a linked member bridges the
 * two devices: `reach` says `relay <B>`, and `connect(id)` opens a KEPT link through the relay
 * (docs/protocol/mesh.md). Never a WebRTC link to a device that has a LAN link (`linkedElsewhere`).
 */
import { WebRtcError, WireError } from '../../../core/errors.js'
import type { DeviceId } from '../../../core/ids.js'
import type { MembershipPolicy } from '../../../core/engine/membership.js'
import type { RecordedSession, SessionRecorder } from '../../../core/engine/session-recorder.js'
import type { SyncReport } from '../../../core/engine/sync-session.js'
import { tierPriority, type Carried, type Reachability, type Tier, type TierResponse, type TierSessionOptions } from '../../../core/engine/tier.js'
import { answerFrom, offerFrom, type SessionHooks, type WebRtcDevice, type WebRtcRunOptions } from '../webrtc-sync.js'
import type { Mesh } from '../mesh.js'

export interface WebRtcTierOptions {
  device: WebRtcDevice
  policy: MembershipPolicy
  recorder?: SessionRecorder
  /** ICE servers, host addresses, timeouts (unset ones come from the data dir's config). */
  run?: WebRtcRunOptions
  /** Set the Repo's sharing policy to the workspace's documents before a session. Default true; a node whose LAN tier set it (with its announcement gate) passes false. */
  share?: boolean
  /** Mesh signalling through linked members (the daemon's); without it, every session needs a carrier. */
  mesh?: Mesh
  /** Whether a device has a link on another tier now (the LAN tier's `isConnected`): refused here (`MESH_LINKED_ELSEWHERE`). */
  linkedElsewhere?: (deviceId: DeviceId) => boolean
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
    const relayed = this.#o.mesh?.reach(deviceId)
    if (relayed !== undefined) return relayed
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

  /**
   * Opens a KEPT link to a member through a relay (no carrier) and resolves with the first
   * session's report; the link stays up, syncing live edits, until it fails or the tier closes.
   * @throws WireError `NOT_MEMBER` / `NEEDS_CODE` (no mesh) / `MESH_NO_ROUTE`; WebRtcError
   *   `MESH_LINKED_ELSEWHERE`, `MESH_TIMEOUT`, `MESH_REFUSED` (see src/apps/node/mesh.ts).
   */
  connect(deviceId: DeviceId, options: { timeoutMs?: number } = {}): Promise<SyncReport> {
    if (this.#closed) return Promise.reject(new WebRtcError('the WebRTC tier is stopped', { code: 'STOPPED' }))
    if (this.#o.mesh === undefined) return Promise.reject(new WireError('no mesh signalling here: a WebRTC session needs its codes carried (`orbit webrtc offer`)', { code: 'NEEDS_CODE' }))
    return this.#o.mesh.connect(deviceId, options)
  }

  /** Whether a kept (mesh) WebRTC link to `deviceId` is up. */
  isConnected(deviceId: DeviceId): boolean {
    return this.#o.mesh?.isConnected(deviceId) ?? false
  }

  /** Closes the kept WebRTC link to `deviceId`; false when there is none. */
  disconnect(deviceId: DeviceId): Promise<boolean> {
    return this.#o.mesh?.disconnect(deviceId) ?? Promise.resolve(false)
  }

  /** Devices with a kept WebRTC link. */
  connected(): DeviceId[] {
    return this.#o.mesh?.connected() ?? []
  }

  /** Called when a relay route or a kept link comes or goes (the orchestrator pokes on it). */
  onRoutesChanged(listener: () => void): () => void {
    return this.#o.mesh?.onRoutesChanged(listener) ?? (() => {})
  }

  async session(deviceId: DeviceId, options: TierSessionOptions = {}): Promise<SyncReport> {
    const reach = this.reach(deviceId)
    if (!reach.ok && reach.reason === 'not-member') throw new WireError(reach.detail, { code: 'NOT_MEMBER' })
    if (this.#o.linkedElsewhere?.(deviceId) === true) throw new WebRtcError(`${deviceId} has a LAN link already: sync over it`, { code: 'MESH_LINKED_ELSEWHERE' })
    if (options.carrier === undefined && this.#o.mesh !== undefined && reach.ok) return this.connect(deviceId, options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs })
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
    await this.#o.mesh?.close()
    await Promise.allSettled([...this.#open].map((o) => o.close()))
    this.#open.clear()
  }
}

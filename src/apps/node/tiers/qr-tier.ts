/**
 * The QR tier (docs/architecture.md, "Tiers"; the formats are in docs/protocol/qr.md): no network
 * at all. A session is one bundle each way, carried as QR images: this side renders what the
 * peer lacks as fountain-coded frames (PNG), the carrier shows them to the peer, the peer decodes
 * them from the pixels, applies them (all or nothing) and answers with frames of what this side
 * lacks. Sealed to members and signed by the sender: the membership policy decides who may read
 * and who may write.
 */
import { QrError, WireError } from '../../../core/errors.js'
import type { DeviceId } from '../../../core/ids.js'
import type { MembershipPolicy } from '../../../core/engine/membership.js'
import type { SessionRecorder } from '../../../core/engine/session-recorder.js'
import { failedReport, type SyncReport } from '../../../core/engine/sync-session.js'
import { tierPriority, type Carried, type Reachability, type Tier, type TierResponse, type TierSessionOptions } from '../../../core/engine/tier.js'
import { encodeFrames, FrameDecoder, parseFrame } from '../../../core/qr/frame.js'
import { decodeQrPng, renderQrPng } from '../../../adapters/qr-image/index.js'
import { qrExportRecorded, qrImportRecorded, qrImportReport } from '../api.js'
import type { OrbitDevice } from '../device.js'

export interface QrTierOptions {
  device: OrbitDevice
  policy: MembershipPolicy
  recorder?: SessionRecorder
  /** Frames per bundle; default enough to survive a quarter lost. */
  frames?: number
}

/** Renders a bundle as QR frame images (PNG). */
export function bundleImages(bundle: Uint8Array, frames?: number): Uint8Array[] {
  return encodeFrames(bundle, frames === undefined ? {} : { frameCount: frames }).map((f) => new Uint8Array(renderQrPng(f)))
}

/**
 * Decodes a bundle from QR images, in any order, skipping images that are not frames of it.
 * @throws QrError `QR_INCOMPLETE` when too few frames could be read.
 */
export function bundleFromImages(images: readonly Uint8Array[]): Uint8Array {
  const decoders = new Map<string, FrameDecoder>()
  for (const image of images) {
    let bytes: Uint8Array
    try {
      bytes = decodeQrPng(image)
    } catch (error) {
      if (error instanceof QrError) continue
      throw error
    }
    const id = parseFrame(bytes).bundleId
    let decoder = decoders.get(id)
    if (decoder === undefined) decoders.set(id, (decoder = new FrameDecoder({ bundleId: id })))
    if (decoder.push(bytes).status === 'complete') return decoder.result()!
  }
  throw new QrError('too few QR frames could be read to rebuild the bundle', { code: 'QR_INCOMPLETE' })
}

const imagesOf = (carried: Carried): readonly Uint8Array[] => {
  if (!('images' in carried)) throw new QrError('the QR tier carries images, not text', { code: 'QR_CARRIER' })
  return carried.images
}

export class QrTier implements Tier {
  readonly method = 'qr-code' as const
  readonly priority = tierPriority('qr-code')
  readonly #o: QrTierOptions
  #closed = false

  constructor(options: QrTierOptions) {
    this.#o = options
  }

  reach(deviceId: DeviceId): Reachability {
    if (this.#closed) return { ok: false, reason: 'stopped', detail: 'the QR tier is stopped' }
    if (!this.#o.policy.isMember(deviceId) || deviceId === this.#o.device.identity.deviceId) {
      return { ok: false, reason: 'not-member', detail: `${deviceId} is not another member of this workspace` }
    }
    return { ok: false, reason: 'needs-code', detail: 'QR frames must be shown to the other device and its reply shown back (`orbit qr export --for`)' }
  }

  async session(deviceId: DeviceId, options: TierSessionOptions = {}): Promise<SyncReport> {
    const reach = this.reach(deviceId)
    if (!reach.ok && reach.reason === 'not-member') throw new WireError(reach.detail, { code: 'NOT_MEMBER' })
    if (options.carrier === undefined) throw new WireError(reach.ok ? 'no carrier' : reach.detail, { code: 'NEEDS_CODE' })
    const started = Date.now()
    const { device } = this.#o
    // Recorded once, as the whole exchange (below), not as an export and an import.
    const exported = await qrExportRecorded(device, { forDevice: deviceId }, undefined)
    const images = bundleImages(exported.bundle, this.#o.frames)
    try {
      options.signal?.throwIfAborted()
      const back = await options.carrier.carry({ images }, options.signal)
      const replyBundle = bundleFromImages(imagesOf(back))
      const { imported } = await qrImportRecorded(device, replyBundle, {}, undefined)
      if (imported.senderId !== deviceId) throw new QrError(`the reply came from ${imported.senderId}, not ${deviceId}`, { code: 'QR_SENDER' })
      await device.flush()
      const report: SyncReport = {
        method: 'qr-code',
        status: 'completed',
        peer: { deviceId },
        changesSent: exported.documents,
        changesReceived: imported.changedDocuments,
        bytesSent: exported.bundle.length,
        bytesReceived: replyBundle.length,
        durationMs: Date.now() - started,
        documents: (await device.workspace.allHandles()).length,
      }
      this.#o.recorder?.record(report)
      return report
    } catch (error) {
      const report = failedReport('qr-code', { deviceId }, error, { changesSent: 0, changesReceived: 0, bytesSent: exported.bundle.length, bytesReceived: 0 }, Date.now() - started)
      this.#o.recorder?.record(report)
      return report
    }
  }

  async respond(incoming: Carried): Promise<TierResponse> {
    const bundle = bundleFromImages(imagesOf(incoming))
    const started = Date.now()
    const { imported, replyBundle } = await qrImportRecorded(this.#o.device, bundle, { reply: true }, this.#o.recorder)
    await this.#o.device.flush()
    const report = qrImportReport(imported, { received: bundle.length, replied: replyBundle?.length ?? 0, durationMs: Date.now() - started })
    return { reply: replyBundle === undefined ? undefined : { images: bundleImages(replyBundle, this.#o.frames) }, report: Promise.resolve(report) }
  }

  async close(): Promise<void> {
    this.#closed = true
  }
}

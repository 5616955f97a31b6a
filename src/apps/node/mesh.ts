/**
 * Mesh signalling (docs/protocol/mesh.md, docs/architecture.md "Tiers"): two members that share
 * no LAN but are both linked to a third set up a direct WebRTC link through it, with no code
 * carried by hand. The offer and answer codes travel as relay envelopes over the existing secure
 * links ({@link SignalRelay}), sealed for the recipient and signed by the sender
 * (src/core/engine/mesh-signal.ts); the relay can neither read nor forge them.
 *
 * - `connect(C)`: makes an offer, sends it toward C through a linked member that routes to C,
 *   waits for C's answer (typed `MESH_TIMEOUT` when none comes: a relay that drops or delays),
 *   connects, and KEEPS the link: live edits sync over it until it fails or the mesh closes.
 * - The answering side (a daemon) answers by itself, only a member's signed, fresh, unreplayed
 *   offer whose code is signed by the same device, and links to no one but that device.
 * - Never a WebRTC link to a device that has a LAN link (`MESH_LINKED_ELSEWHERE`, both sides).
 * - Glare: when both sides offer at once, the lower device id's offer wins.
 */
import { OrbitError, WebRtcError, WireError } from '../../core/errors.js'
import type { DeviceId } from '../../core/ids.js'
import { silentLogger, type Logger } from '../../core/log.js'
import type { MembershipPolicy } from '../../core/engine/membership.js'
import { SignalInbox, sealSignal, type MeshBody, type OpenedSignal, type RelaySignal } from '../../core/engine/mesh-signal.js'
import type { RecordedSession, SessionRecorder } from '../../core/engine/session-recorder.js'
import type { SyncReport } from '../../core/engine/sync-session.js'
import type { Reachability } from '../../core/engine/tier.js'
import { toHex } from '../../core/crypto/bytes.js'
import { SignalRelay, type RelayDelivery } from '../../core/link/signal-relay.js'
import type { SignalPort } from '../../core/link/link-adapter.js'
import { answerOffer, createOffer, type WebRtcConnection } from '../../adapters/transport-webrtc/index.js'
import { memberKeyOf, peerOptionsFor, syncOverConnection, type SessionHooks, type WebRtcDevice, type WebRtcRunOptions } from './webrtc-sync.js'

/** How long an offer waits for its relayed answer by default. */
export const DEFAULT_MESH_ANSWER_TIMEOUT_MS = 20_000

export interface MeshOptions {
  device: WebRtcDevice
  policy: MembershipPolicy
  /** The link hosts whose links carry signals (the LAN tier's TCP adapter). */
  ports: readonly SignalPort[]
  /** Whether a device has a link on another tier now (the LAN tier's `isConnected`): no WebRTC link to it. */
  linkedElsewhere?: (deviceId: DeviceId) => boolean
  recorder?: SessionRecorder
  /** ICE servers, host addresses, timeouts of the WebRTC peer connections (unset ones from the data dir's config). */
  run?: WebRtcRunOptions
  /** How long an offer waits for its answer. Default {@link DEFAULT_MESH_ANSWER_TIMEOUT_MS}. */
  answerTimeoutMs?: number
  /** Lifetime of each relayed message. Default 30 s. */
  messageTtlMs?: number
  logger?: Logger
  now?: () => number
}

interface Kept {
  connection: WebRtcConnection
  first: Promise<SyncReport>
}

interface Waiting {
  to: DeviceId
  resolve: (body: Extract<MeshBody, { type: 'answer' }>) => void
  reject: (error: Error) => void
}

export class Mesh {
  readonly relay: SignalRelay
  readonly #o: MeshOptions
  readonly #log: Logger
  readonly #now: () => number
  readonly #inbox: SignalInbox
  readonly #kept = new Map<DeviceId, Kept>()
  /** Offers of ours waiting for an answer, by the offer message's id (hex). */
  readonly #waiting = new Map<string, Waiting>()
  /** Devices we are connecting to now (offer out, or answering theirs). */
  readonly #pending = new Map<DeviceId, Promise<SyncReport>>()
  readonly #answering = new Set<DeviceId>()
  readonly #listeners = new Set<() => void>()
  readonly #open = new Set<{ close(): Promise<void> }>()
  readonly #off: Array<() => void> = []
  #closed = false

  constructor(options: MeshOptions) {
    this.#o = options
    this.#log = (options.logger ?? silentLogger).forComponent('orbit:mesh')
    this.#now = options.now ?? Date.now
    const self = options.device.identity.deviceId
    this.#inbox = new SignalInbox({ me: options.device.identity, resolveMember: (id) => memberKeyOf(options.device, id), now: this.#now })
    this.relay = new SignalRelay({
      self,
      isMember: (id) => options.policy.isMember(id),
      deliver: (d) => this.#onDelivery(d),
      now: this.#now,
      ...(options.logger === undefined ? {} : { logger: options.logger }),
    })
    for (const port of options.ports) this.#off.push(this.relay.addPort(port))
    this.#off.push(
      this.relay.onRoutesChanged(() => {
        this.#yieldToLan()
        this.#emit()
      }),
    )
  }

  /** `{ ok: true, via: 'relay <B>' }` when a linked member reports `deviceId` in its routes (or a kept link exists). */
  reach(deviceId: DeviceId): Reachability | undefined {
    if (this.#closed) return undefined
    if (this.#kept.has(deviceId)) return { ok: true, via: 'webrtc (linked)' }
    const via = this.relay.routeTo(deviceId)
    return via === undefined ? undefined : { ok: true, via: `relay ${via}` }
  }

  isConnected(deviceId: DeviceId): boolean {
    const k = this.#kept.get(deviceId)
    return k !== undefined && !k.connection.closed
  }

  connected(): DeviceId[] {
    return [...this.#kept.keys()].filter((id) => this.isConnected(id))
  }

  /** Called when routes or kept links change; returns the unsubscribe function. */
  onRoutesChanged(listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /**
   * Opens a kept WebRTC link to `deviceId` through a relay member; resolves with the first
   * session's report once in sync (the link stays up).
   * @throws WireError `NOT_MEMBER`, `MESH_NO_ROUTE`; WebRtcError `MESH_LINKED_ELSEWHERE`,
   *   `MESH_TIMEOUT` (no answer: a relay dropped or delayed it), `MESH_REFUSED` (the peer said no),
   *   the transport's `CODE_*` / `NO_ROUTE`.
   */
  connect(deviceId: DeviceId, options: { timeoutMs?: number } = {}): Promise<SyncReport> {
    const kept = this.#kept.get(deviceId)
    if (kept !== undefined && !kept.connection.closed) return kept.first
    const pending = this.#pending.get(deviceId)
    if (pending !== undefined) return pending
    const p = this.#connect(deviceId, options).finally(() => {
      if (this.#pending.get(deviceId) === p) this.#pending.delete(deviceId)
    })
    this.#pending.set(deviceId, p)
    return p
  }

  /** Closes the kept link to `deviceId` (goodbye on its link); false when there is none. */
  async disconnect(deviceId: DeviceId): Promise<boolean> {
    const k = this.#kept.get(deviceId)
    if (k === undefined) return false
    this.#kept.delete(deviceId)
    await k.connection.close()
    this.#emit()
    return true
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const off of this.#off.splice(0)) off()
    this.relay.close()
    for (const w of this.#waiting.values()) w.reject(new WebRtcError('the mesh closed', { code: 'CLOSED' }))
    this.#waiting.clear()
    await Promise.allSettled([...this.#open].map((o) => o.close()))
    await Promise.allSettled([...this.#kept.values()].map((k) => k.connection.close()))
    this.#kept.clear()
    this.#listeners.clear()
  }

  // ---- offering ------------------------------------------------------------------------------

  #refuseEarly(deviceId: DeviceId): void {
    if (this.#closed) throw new WebRtcError('the mesh is stopped', { code: 'STOPPED' })
    if (!this.#o.policy.isMember(deviceId)) throw new WireError(`${deviceId} is not a member of this workspace`, { code: 'NOT_MEMBER' })
    if (deviceId === this.#o.device.identity.deviceId) throw new WireError('this is this device', { code: 'NOT_MEMBER' })
    if (this.#o.linkedElsewhere?.(deviceId) === true) {
      throw new WebRtcError(`${deviceId} has a LAN link already: no WebRTC link to it`, { code: 'MESH_LINKED_ELSEWHERE' })
    }
  }

  async #connect(to: DeviceId, options: { timeoutMs?: number }): Promise<SyncReport> {
    this.#refuseEarly(to)
    if (this.relay.routeTo(to) === undefined && !this.relay.linked().includes(to)) {
      throw new WireError(`no linked member relays to ${to}`, { code: 'MESH_NO_ROUTE' })
    }
    const started = this.#now()
    const offer = await createOffer(this.#peerOptions())
    this.#open.add(offer)
    try {
      const message = this.#seal(to, { type: 'offer', code: offer.code })
      const id = toHex(message.id)
      const timeoutMs = options.timeoutMs ?? this.#o.answerTimeoutMs ?? DEFAULT_MESH_ANSWER_TIMEOUT_MS
      const answered = new Promise<Extract<MeshBody, { type: 'answer' }>>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.#waiting.delete(id)
          reject(new WebRtcError(`no answer from ${to} within ${timeoutMs} ms (a relay dropped or delayed the offer, or ${to} is not answering)`, { code: 'MESH_TIMEOUT' }))
        }, timeoutMs)
        timer.unref?.()
        this.#waiting.set(id, {
          to,
          resolve: (b) => {
            clearTimeout(timer)
            resolve(b)
          },
          reject: (e) => {
            clearTimeout(timer)
            reject(e)
          },
        })
      })
      // Awaited below, unless the send throws first: then its rejection at close() must not be unhandled.
      answered.catch(() => undefined)
      let via: DeviceId
      try {
        via = this.relay.send(message)
      } catch (error) {
        this.#waiting.delete(id)
        throw error
      }
      this.#log.info('offer sent through the mesh', { to, via })
      const answer = await answered
      const connection = await offer.accept(answer.code)
      if (connection.remoteDeviceId !== to) {
        await connection.close()
        throw new WebRtcError(`the answer came from ${connection.remoteDeviceId}, not ${to}`, { code: 'UNEXPECTED_PEER' })
      }
      this.#open.delete(offer)
      return await this.#keep(connection, started)
    } catch (error) {
      this.#log.warn('mesh connect failed', { to, ...errorFields(error) })
      throw error
    } finally {
      if (this.#open.delete(offer)) await offer.close()
    }
  }

  // ---- answering -----------------------------------------------------------------------------

  #onDelivery(d: RelayDelivery): void {
    let opened: OpenedSignal
    try {
      opened = this.#inbox.open(d.from, d.signal)
    } catch (error) {
      // Refused: logged, nothing else happens (no answer, no link).
      this.#log.warn('relayed message refused', { from: d.from, via: d.via, ...errorFields(error) })
      return
    }
    const body = opened.body
    if (body.type === 'offer') return void this.#answer(opened, body, d.via)
    const waiting = this.#waiting.get(body.re)
    if (waiting === undefined || waiting.to !== opened.from) {
      this.#log.warn('relayed reply for no offer of ours', { from: opened.from, code: 'MESH_UNEXPECTED' })
      return
    }
    this.#waiting.delete(body.re)
    if (body.type === 'answer') waiting.resolve(body)
    else waiting.reject(new WebRtcError(`${opened.from} refused the offer: ${body.message}`, { code: body.code === 'MESH_LINKED_ELSEWHERE' ? body.code : 'MESH_REFUSED' }))
  }

  async #answer(opened: OpenedSignal, body: Extract<MeshBody, { type: 'offer' }>, via: DeviceId): Promise<void> {
    const from = opened.from
    const say = (reply: MeshBody): void => {
      try {
        this.relay.send(this.#seal(from, reply), { via })
      } catch (error) {
        this.#log.warn('could not send the reply', { to: from, ...errorFields(error) })
      }
    }
    const no = (code: string, message: string): void => {
      this.#log.info('relayed offer refused', { from, code, message })
      say({ type: 'refuse', re: opened.id, code, message })
    }
    try {
      this.#refuseEarly(from)
    } catch (error) {
      return no((error as OrbitError).code, (error as Error).message)
    }
    if (this.isConnected(from)) return no('MESH_ALREADY_LINKED', 'a WebRTC link to this device is up already')
    if (this.#answering.has(from)) return no('MESH_BUSY', 'answering an offer from this device already')
    // Both offered at once: the lower device id's offer wins.
    if (this.#pending.has(from) && this.#o.device.identity.deviceId < from) return no('MESH_GLARE', 'both offered; the lower device id’s offer wins')
    this.#answering.add(from)
    try {
      const peer = { ...this.#peerOptions(), connectTimeoutMs: this.#o.answerTimeoutMs ?? DEFAULT_MESH_ANSWER_TIMEOUT_MS }
      const answer = await answerOffer(body.code, peer)
      this.#open.add(answer)
      if (answer.remoteDeviceId !== from) {
        await answer.close()
        this.#open.delete(answer)
        return no('MESH_SENDER_MISMATCH', 'the offer code is signed by another device than the message')
      }
      say({ type: 'answer', re: opened.id, code: answer.code })
      const connection = await answer.connection
      this.#open.delete(answer)
      await this.#keep(connection, this.#now())
    } catch (error) {
      this.#log.warn('relayed offer not answered', { from, ...errorFields(error) })
      if (error instanceof OrbitError && error.code.startsWith('CODE_')) no(error.code, error.message)
    } finally {
      this.#answering.delete(from)
    }
  }

  // ---- kept links ----------------------------------------------------------------------------

  #keep(connection: WebRtcConnection, started: number): Promise<SyncReport> {
    const id = connection.remoteDeviceId
    // Two links to one device (a glare both sides won): keep the first, close this one.
    if (this.isConnected(id) || this.#o.linkedElsewhere?.(id) === true || this.#closed) {
      void connection.close()
      return Promise.reject(new WebRtcError(`a link to ${id} exists already`, { code: 'MESH_ALREADY_LINKED' }))
    }
    const first = syncOverConnection(this.#o.device, connection, {
      keep: true,
      started,
      hooks: this.#hooks(),
      // The kept link carries signals too: this device relays between the members it links over WebRTC.
      onAdapter: (adapter) => {
        const off = this.relay.addPort(adapter.signalPort())
        connection.onClose(() => off())
      },
      ...(this.#o.run?.timeoutMs === undefined ? {} : { timeoutMs: this.#o.run.timeoutMs }),
      ...(this.#o.logger === undefined ? {} : { logger: this.#o.logger }),
      // Images travel on the kept link too (src/apps/node/blobs.ts).
      ...(this.#o.run?.blobs === undefined ? {} : { blobs: this.#o.run.blobs }),
    })
    this.#kept.set(id, { connection, first })
    connection.onClose(() => {
      if (this.#kept.get(id)?.connection === connection) this.#kept.delete(id)
      this.#log.info('kept WebRTC link closed', { deviceId: id })
      this.#emit()
    })
    this.#log.info('kept WebRTC link up', { deviceId: id })
    this.#emit()
    void first.then((r) =>
      this.#log.info('kept WebRTC link in sync', { deviceId: id, status: r.status, candidateType: r.peer.candidateType, address: r.peer.address, durationMs: r.durationMs }),
    )
    return first
  }

  /**
   * A LAN link came up to a device we hold a kept WebRTC link to (it was discovered, or dialled
   * us): the LAN is the better tier and one peer must not ride two adapters of the Repo, so the
   * WebRTC link goes. Both sides see the LAN link, so both decide the same.
   */
  #yieldToLan(): void {
    for (const id of [...this.#kept.keys()]) {
      if (this.#o.linkedElsewhere?.(id) !== true) continue
      this.#log.info('a LAN link to this device came up: closing the WebRTC link', { deviceId: id })
      void this.disconnect(id)
    }
  }

  #hooks(): SessionHooks {
    let session: RecordedSession | undefined
    return {
      onStart: (deviceId) => {
        session = this.#o.recorder?.begin({ method: 'webrtc', deviceId, status: 'syncing' })
      },
      onEnd: (report) => session?.end(report),
    }
  }

  #seal(to: DeviceId, body: MeshBody): RelaySignal {
    const key = memberKeyOf(this.#o.device, to)
    if (key === undefined) throw new WireError(`${to} is not a member of this workspace`, { code: 'NOT_MEMBER' })
    return sealSignal({
      sender: this.#o.device.identity,
      recipient: { deviceId: to, publicKey: key },
      body,
      now: this.#now(),
      ...(this.#o.messageTtlMs === undefined ? {} : { ttlMs: this.#o.messageTtlMs }),
    })
  }

  #peerOptions(): ReturnType<typeof peerOptionsFor> {
    return peerOptionsFor(this.#o.device, { ...this.#o.run, ...(this.#o.logger === undefined ? {} : { logger: this.#o.logger }), now: this.#now })
  }

  #emit(): void {
    for (const l of [...this.#listeners]) {
      try {
        l()
      } catch (error) {
        this.#log.warn('routes listener threw', { error: String(error) })
      }
    }
  }
}

function errorFields(error: unknown): { name: string; code: string | undefined; message: string } {
  return { name: (error as Error).name ?? 'Error', code: error instanceof OrbitError ? error.code : undefined, message: (error as Error).message ?? String(error) }
}

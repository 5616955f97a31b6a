/**
 * One link: the link layer's rules on one {@link BytePipe} (docs/protocol/link.md) — hello and
 * version negotiation, the per-envelope authorization re-check, demultiplexing by kind, the
 * `unsupported` notices, goodbye. What the envelopes *mean* to the Repo (peer-id binding,
 * duplicates, events) is the host's business: link-adapter.ts.
 *
 * Errors: every problem is a `WireError` (or the host's `HandshakeError`) with a stable code,
 * reported to the host. Unknown input (an unknown kind, a kind this build does not announce, a
 * stray version byte, a sync before the hello after a `leave`) is dropped and the link stays up:
 * nothing was written, and a newer peer may legitimately send it. Malformed input of a known kind,
 * no common version, a revoked device or a refused hello close the link: its state can no longer
 * be trusted, and the transport's reconnect starts clean.
 */
import type { Message, PeerId, PeerMetadata } from '@automerge/automerge-repo'
import { OrbitError, WireError } from '../errors.js'
import type { DeviceId } from '../ids.js'
import type { Logger } from '../log.js'
import {
  EnvelopeKind,
  IMPLEMENTED_KINDS,
  KIND_NAMES,
  MAX_ENVELOPE_BYTES,
  SUPPORTED_LINK_VERSIONS,
  decodeBlob,
  decodeControl,
  decodeEnvelope,
  decodeHello,
  decodeSignal,
  decodeSync,
  encodeBlob,
  encodeControl,
  encodeHello,
  encodeSignal,
  encodeSync,
  negotiateVersion,
  type Control,
  type DocSummary,
  type EnvelopeLimits,
  type Hello,
  type Signal,
} from './envelope.js'
import type { BytePipe } from './pipe.js'
import type { BlobMessage } from '../blobs/protocol.js'

/** Dropped envelopes logged as warnings per link; later ones are logged at debug level. */
const MAX_DROP_WARNINGS = 10

/**
 * Default flood bound (docs/protocol/link.md, "Limits"): envelopes a remote may send per second,
 * sustained, and the burst it may send above that rate. An honest peer stays far below it (a sync
 * round is answered before the next one is sent). The busiest honest stream is a blob's: a
 * 256 KiB data piece per envelope (and a credit per two pieces the other way), so 1000 a second allows
 * 250 MiB/s, about 2.5 times what the LAN blob path reaches today (docs/protocol/blobs.md). A
 * higher rate stops being a bound: a member's flood is then limited only by how fast this
 * device handles it, and the link is never closed.
 */
export const DEFAULT_MAX_ENVELOPES_PER_SECOND = 1000
/** Default burst above {@link DEFAULT_MAX_ENVELOPES_PER_SECOND} (the bucket's size). */
export const DEFAULT_ENVELOPE_BURST = 10_000
/** Envelopes held while an asynchronous authorization answer is awaited; more is a flood. */
export const MAX_INBOX_ENVELOPES = 1024

/** Whether the remote device may still use the link; re-asked for every envelope it sends. */
export type LinkAuthorize = (deviceId: DeviceId) => boolean | Promise<boolean>

/** Options shared by every link of a host. */
export interface LinkOptions {
  /** Link versions offered, any order. Default {@link SUPPORTED_LINK_VERSIONS}; tests use it to play other builds. */
  versions?: readonly number[]
  /** Kinds announced as implemented. Default {@link IMPLEMENTED_KINDS}; tests use it to play other builds. */
  features?: readonly number[]
  authorize?: LinkAuthorize
  limits?: EnvelopeLimits
  /** Flood bound: envelopes per second a remote may sustain. Default {@link DEFAULT_MAX_ENVELOPES_PER_SECOND}. */
  maxEnvelopesPerSecond?: number
  /** Flood bound: the burst above that rate. Default {@link DEFAULT_ENVELOPE_BURST}. */
  envelopeBurst?: number
  /** The clock of the flood bound (tests). Default `Date.now`. */
  now?: () => number
}

/** What a link reports to its host. */
export interface LinkHandler<C> {
  /** The remote's hello passed the link's checks. Throw a typed error to refuse it (the link closes). */
  hello(link: Link<C>, hello: Hello): void
  sync(link: Link<C>, message: Message): void
  /** A `signal` envelope (docs/protocol/mesh.md): the host routes it. */
  signal(link: Link<C>, signal: Signal): void
  /** A `blob` envelope (docs/protocol/blobs.md): the host hands it to the blob exchange. */
  blob(link: Link<C>, message: BlobMessage): void
  /** The remote's Repo detached (`leave`); the link stays. */
  leave(link: Link<C>): void
  /** A typed error; `closing` says whether the link closes because of it. */
  error(link: Link<C>, error: OrbitError, closing: boolean): void
  closed(link: Link<C>, error: Error | undefined): void
}

/** One link over one byte pipe (docs/protocol/link.md); its host is a {@link LinkHandler}. */
export class Link<C = unknown> {
  readonly pipe: BytePipe
  /** The host's data for this link (a transport's connection state). */
  readonly context: C
  readonly #handler: LinkHandler<C>
  readonly #log: Logger
  readonly #versions: number[]
  readonly #features: number[]
  readonly #authorize: LinkAuthorize | undefined
  readonly #limits: EnvelopeLimits
  readonly #rate: number
  readonly #burst: number
  readonly #now: () => number
  /** The flood bound's token bucket: envelopes the remote may still send now, and when it was filled. */
  #tokens: number
  #filledAt: number
  /** Envelopes waiting for an asynchronous authorization answer, in order. */
  readonly #inbox: Uint8Array[] = []
  #checking = false
  readonly #noticed = new Set<number>()
  #dropped = 0
  #localPeerId: PeerId | undefined
  #remote: Hello | undefined
  #everHello = false
  /** We sent `leave` and have not said hello since: what the remote sends meanwhile is ignored. */
  #left = false
  #version: number | undefined
  #closed = false
  #closeError: Error | undefined
  /** A duplicate on its way out: still read, never written to. */
  retired = false
  /** Both hellos exchanged: the host may use it for the Repo. */
  established = false
  /** Envelopes sent and received (all kinds). */
  readonly counts = { sent: 0, received: 0 }
  /** The peer's goodbye asked us not to open a new link before this many ms (`cooldown`). */
  retryAfterMs: number | undefined

  constructor(pipe: BytePipe, context: C, handler: LinkHandler<C>, options: LinkOptions, log: Logger) {
    this.pipe = pipe
    this.context = context
    this.#handler = handler
    this.#log = log
    this.#versions = [...(options.versions ?? SUPPORTED_LINK_VERSIONS)]
    this.#features = [...(options.features ?? IMPLEMENTED_KINDS)]
    this.#authorize = options.authorize
    this.#limits = options.limits ?? {}
    this.#rate = options.maxEnvelopesPerSecond ?? DEFAULT_MAX_ENVELOPES_PER_SECOND
    this.#burst = options.envelopeBurst ?? DEFAULT_ENVELOPE_BURST
    this.#now = options.now ?? Date.now
    this.#tokens = this.#burst
    this.#filledAt = this.#now()
  }

  /** Subscribes to the pipe (once the host has registered the link). */
  start(): void {
    this.pipe.onBytes((bytes) => this.#receive(bytes))
    this.pipe.onClose((error) => this.#onPipeClosed(error))
  }

  get remoteDeviceId(): DeviceId {
    return this.pipe.remoteDeviceId
  }

  /** The remote's current hello (undefined before it, and after a `leave`). */
  get remote(): Hello | undefined {
    return this.#remote
  }

  /** The negotiated link version, once the remote's hello arrived. */
  get version(): number | undefined {
    return this.#version
  }

  get helloSent(): boolean {
    return this.#localPeerId !== undefined
  }

  get closed(): boolean {
    return this.#closed || this.pipe.closed
  }

  // ---- sending -------------------------------------------------------------------------------

  /**
   * Sends our hello. A summary beyond the bounds is reported (`LINK_BAD_SUMMARY`) and left out:
   * the link still works, the peer just cannot skip loading anything.
   */
  sendHello(peerId: PeerId, peerMetadata: PeerMetadata, summary: DocSummary | undefined): void {
    if (this.closed) return
    this.#localPeerId = peerId
    const hello: Hello = { versions: this.#versions, peerId, peerMetadata, features: this.#features }
    if (this.#left && this.#remote === undefined) hello.needHello = true
    this.#left = false
    let bytes: Uint8Array
    try {
      bytes = encodeHello(summary === undefined ? hello : { ...hello, summary })
    } catch (error) {
      this.#report(asOrbit(error), false)
      bytes = encodeHello(hello)
    }
    this.#write(bytes)
  }

  /**
   * Our Repo detached: tells the remote (`leave`) and forgets both hellos. Until our next hello,
   * what the remote sends is ignored (it may have been sent before our leave arrived); that hello
   * then asks for the remote's again (`needHello`).
   */
  leave(): void {
    this.sendControl({ type: 'leave' })
    this.reset()
    this.#left = true
  }

  /**
   * Forgets both hellos (after either Repo detached, `leave`): the next `sendHello` starts a new
   * exchange, and the remote's next hello is welcome.
   */
  reset(): void {
    this.#localPeerId = undefined
    this.#remote = undefined
    this.#version = undefined
    this.established = false
  }

  /** Sends one automerge-repo message. Returns false when it could not go (not established, retired, too large). */
  sendSync(message: Message): boolean {
    if (this.closed || this.retired || this.#version === undefined) return false
    const bytes = encodeSync(this.#version, message)
    const max = this.#limits.maxEnvelopeBytes ?? MAX_ENVELOPE_BYTES
    if (bytes.length > max) {
      this.#report(new WireError(`a ${message.type} message of ${bytes.length} bytes exceeds the envelope limit ${max}; not sent`, { code: 'LINK_TOO_LARGE' }), false)
      return false
    }
    this.#write(bytes)
    return true
  }

  /** Whether the remote said (in its hello) that it implements `signal` envelopes. */
  get speaksSignal(): boolean {
    return this.#version !== undefined && this.#remote?.features.includes(EnvelopeKind.Signal) === true && this.#features.includes(EnvelopeKind.Signal)
  }

  /**
   * Sends one `signal` envelope. Returns false when it could not go (no hello yet, retired, the
   * remote does not speak signal, beyond the bounds).
   */
  sendSignal(signal: Signal): boolean {
    if (this.closed || this.retired || this.#version === undefined || !this.speaksSignal) return false
    let bytes: Uint8Array
    try {
      bytes = encodeSignal(this.#version, signal)
    } catch (error) {
      this.#report(asOrbit(error), false)
      return false
    }
    this.#write(bytes)
    return true
  }

  /** Whether both sides announced (in their hellos) that they implement `blob` envelopes. */
  get speaksBlob(): boolean {
    return this.#version !== undefined && this.#remote?.features.includes(EnvelopeKind.Blob) === true && this.#features.includes(EnvelopeKind.Blob)
  }

  /**
   * Sends one `blob` envelope (docs/protocol/blobs.md). Returns false when it could not go (no
   * hello yet, retired, the remote does not speak blob, beyond the bounds — reported as `BLOB_*`).
   */
  sendBlob(message: BlobMessage): boolean {
    if (this.closed || this.retired || this.#version === undefined || !this.speaksBlob) return false
    let bytes: Uint8Array
    try {
      bytes = encodeBlob(this.#version, message)
    } catch (error) {
      this.#report(asOrbit(error), false)
      return false
    }
    this.#write(bytes)
    return true
  }

  /** Sends one `control` envelope (in the negotiated version, else one the remote knows). */
  sendControl(control: Control): void {
    if (this.closed) return
    this.#write(encodeControl(this.#controlVersion(), control))
  }

  /** Writes `bytes` as they are. For tests that play other or broken builds; the link's rules do not apply. */
  sendRaw(bytes: Uint8Array): void {
    if (!this.closed) this.#write(bytes)
  }

  /**
   * Closes the link. With `goodbye`, the peer is told first (a `control` goodbye carrying that
   * reason), so it can tell an orderly close from a lost link at once.
   */
  close(error?: Error, goodbye?: string): void {
    if (this.#closed) return
    if (goodbye !== undefined && !this.pipe.closed) this.sendControl({ type: 'goodbye', reason: goodbye })
    this.#closed = true
    this.#closeError = error
    this.pipe.close(error)
  }

  // ---- receiving -----------------------------------------------------------------------------

  #receive(bytes: Uint8Array): void {
    if (this.#closed) return
    if (!this.#admit()) {
      this.#inbox.length = 0
      return this.#fail(new WireError(`more than ${this.#burst} envelopes above ${this.#rate} per second: link closed`, { code: 'LINK_FLOOD' }))
    }
    if (this.#checking) {
      if (this.#inbox.length >= MAX_INBOX_ENVELOPES) {
        this.#inbox.length = 0
        return this.#fail(new WireError(`more than ${MAX_INBOX_ENVELOPES} envelopes queued behind an authorization check: link closed`, { code: 'LINK_FLOOD' }))
      }
      this.#inbox.push(bytes)
      return
    }
    this.#checked(bytes)
  }

  /** The flood bound: takes one token from the bucket (refilled at `rate` per second up to `burst`); false when empty. */
  #admit(): boolean {
    const t = this.#now()
    if (t > this.#filledAt) {
      this.#tokens = Math.min(this.#burst, this.#tokens + ((t - this.#filledAt) * this.#rate) / 1000)
      this.#filledAt = t
    }
    if (this.#tokens < 1) return false
    this.#tokens--
    return true
  }

  /** Re-asks the authorization, then handles `bytes`; an asynchronous answer holds later envelopes back. */
  #checked(bytes: Uint8Array): void {
    const verdict = this.#authorize?.(this.remoteDeviceId) ?? true
    if (verdict === true) return this.#handle(bytes)
    if (verdict === false) return this.#revoked()
    this.#checking = true
    this.#inbox.unshift(bytes)
    verdict.then(
      (ok) => this.#afterCheck(ok),
      (error: unknown) => {
        this.#log.warn('authorization check failed', { error: String(error) })
        this.#afterCheck(false)
      },
    )
  }

  #afterCheck(ok: boolean): void {
    this.#checking = false
    if (this.#closed) return
    if (!ok) return this.#revoked()
    this.#handle(this.#inbox.shift()!)
    while (this.#inbox.length > 0 && !this.#checking && !this.#closed) this.#checked(this.#inbox.shift()!)
  }

  #revoked(): void {
    this.#inbox.length = 0
    // A revoked device is told nothing, not even goodbye.
    this.#fail(new WireError(`device ${this.remoteDeviceId} is no longer authorized: link closed, envelope dropped`, { code: 'LINK_REVOKED' }))
  }

  #handle(bytes: Uint8Array): void {
    if (this.#closed) return
    this.counts.received++
    try {
      const envelope = decodeEnvelope(bytes, this.#limits)
      switch (envelope.kind) {
        case EnvelopeKind.Hello:
          return this.#onHello(envelope.payload)
        case EnvelopeKind.Control:
          return this.#onControl(envelope.payload)
      }
      if (this.#version === undefined) {
        const error = new WireError(`${KIND_NAMES[envelope.kind] ?? `kind ${envelope.kind}`} envelope before the peer’s hello${this.#everHello ? '' : ' (an older build speaking the pre-link dialect?)'}`, { code: 'LINK_NO_HELLO' })
        // Before any hello this is not the protocol at all; after a `leave` it is a message in flight.
        if (!this.#everHello) return this.#fail(error)
        return this.#report(error, false)
      }
      if (envelope.version !== this.#version) {
        return this.#report(new WireError(`envelope version ${envelope.version} on a link that negotiated ${this.#version}; dropped`, { code: 'LINK_VERSION' }), false)
      }
      switch (envelope.kind) {
        case EnvelopeKind.Sync:
          return this.#onSync(envelope.payload)
        case EnvelopeKind.Signal:
          if (this.#features.includes(EnvelopeKind.Signal)) return this.#onSignal(envelope.payload)
          this.#notice(envelope.kind, `this device does not implement ${KIND_NAMES[envelope.kind]} envelopes`)
          return this.#report(new WireError(`${KIND_NAMES[envelope.kind]} envelope dropped: not implemented by this build`, { code: 'LINK_UNSUPPORTED_KIND' }), false)
        case EnvelopeKind.Blob:
          if (this.#features.includes(EnvelopeKind.Blob)) return this.#onBlob(envelope.payload)
          this.#notice(envelope.kind, `this device does not implement ${KIND_NAMES[envelope.kind]} envelopes`)
          return this.#report(new WireError(`${KIND_NAMES[envelope.kind]} envelope dropped: not implemented by this build`, { code: 'LINK_UNSUPPORTED_KIND' }), false)
        default:
          this.#notice(envelope.kind, `this device does not know envelope kind ${envelope.kind}`)
          return this.#report(new WireError(`unknown envelope kind ${envelope.kind} dropped`, { code: 'LINK_UNKNOWN_KIND' }), false)
      }
    } catch (error) {
      this.#fail(asOrbit(error))
    }
  }

  #onHello(payload: Uint8Array): void {
    const hello = decodeHello(payload)
    if (this.#left) {
      this.#log.debug('hello while our Repo is detached: ignored, our next hello asks again')
      return
    }
    if (this.#remote !== undefined) {
      // A hello sent before our `needHello` one arrived, answered twice: the same peer, newer data.
      if (hello.peerId === this.#remote.peerId && negotiateVersion(this.#versions, hello.versions) === this.#version) {
        this.#remote = hello
        return
      }
      return this.#report(new WireError('a second hello from another peer id without a leave; dropped', { code: 'LINK_UNEXPECTED_HELLO' }), false)
    }
    const version = negotiateVersion(this.#versions, hello.versions)
    if (version === undefined) {
      // Tell the peer what it lacks, in a version it knows (control is frozen across versions).
      const ours = [...this.#versions].sort((a, b) => a - b)
      this.#write(
        encodeControl(Math.max(...hello.versions), {
          type: 'unsupported',
          versions: ours,
          message: `no common link version: this device speaks ${ours.join(', ')}, the peer ${hello.versions.join(', ')}; update the older device`,
        }),
      )
      throw new WireError(`no common link version (ours ${ours.join(', ')}, the peer's ${hello.versions.join(', ')})`, { code: 'LINK_VERSION' })
    }
    // Set before the host hears of it: announcing the peer may make the Repo send at once.
    this.#remote = hello
    this.#version = version
    try {
      this.#handler.hello(this, hello)
    } catch (error) {
      this.#remote = undefined
      this.#version = undefined
      throw error
    }
    this.#everHello = true
  }

  #onSync(payload: Uint8Array): void {
    const remote = this.#remote
    if (this.#left) return
    if (remote === undefined || this.#localPeerId === undefined) {
      return this.#report(new WireError('sync envelope while a side has left; dropped', { code: 'LINK_NO_HELLO' }), false)
    }
    const message = decodeSync(payload, { senderId: remote.peerId, targetId: this.#localPeerId })
    this.#handler.sync(this, message)
  }

  #onSignal(payload: Uint8Array): void {
    if (this.#left) return
    const signal = decodeSignal(payload)
    if (signal === undefined) {
      this.#log.debug('unknown signal type ignored')
      return
    }
    this.#handler.signal(this, signal)
  }

  #onBlob(payload: Uint8Array): void {
    if (this.#left) return
    const message = decodeBlob(payload)
    if (message === undefined) {
      this.#log.debug('unknown blob message type ignored')
      return
    }
    this.#handler.blob(this, message)
  }

  #onControl(payload: Uint8Array): void {
    const control = decodeControl(payload)
    if (control === undefined) {
      this.#log.debug('unknown control type ignored')
      return
    }
    switch (control.type) {
      case 'goodbye':
        this.retryAfterMs = control.retryAfterMs
        if (control.reason === 'cooldown') {
          // Refused: this device was closed for flooding that peer and must wait (link.md, "Limits").
          const seconds = Math.ceil((control.retryAfterMs ?? 0) / 1000)
          return this.#fail(new WireError(`the peer refuses links from this device for ${seconds} s more (it was closed for flooding)`, { code: 'LINK_COOLDOWN' }))
        }
        this.#log.debug('peer said goodbye', { reason: control.reason })
        this.#closed = true
        this.#closeError = new WireError(`the peer closed the link (${control.reason ?? 'goodbye'})`, { code: 'LINK_GOODBYE' })
        this.pipe.close(this.#closeError)
        return
      case 'leave':
        this.#handler.leave(this)
        this.reset()
        return
      case 'unsupported': {
        const what = control.kind !== undefined ? `kind ${control.kind}` : control.versions !== undefined ? `link versions (it speaks ${control.versions.join(', ')})` : 'something we sent'
        const error = new WireError(`the peer does not support ${what}: ${control.message}`, { code: control.versions !== undefined ? 'LINK_VERSION' : 'LINK_PEER_UNSUPPORTED' })
        // No common version: the peer closes; so do we, with the reason it gave.
        if (control.versions !== undefined && negotiateVersion(this.#versions, control.versions) === undefined) return this.#fail(error)
        return this.#report(error, false)
      }
    }
  }

  /** One `unsupported` notice per kind and link: enough to tell, never an amplifier. */
  #notice(kind: number, message: string): void {
    if (this.#noticed.has(kind)) return
    this.#noticed.add(kind)
    this.sendControl({ type: 'unsupported', kind, message })
  }

  #controlVersion(): number {
    return this.#version ?? (this.#remote ? Math.max(...this.#remote.versions) : Math.max(...this.#versions))
  }

  #write(bytes: Uint8Array): void {
    this.counts.sent++
    this.pipe.send(bytes)
  }

  #report(error: OrbitError, closing: boolean): void {
    const fields = { name: error.name, code: error.code, message: error.message, deviceId: this.remoteDeviceId }
    // A peer that keeps sending what we drop must not flood the log: the first few are warnings.
    if (closing || this.#dropped++ < MAX_DROP_WARNINGS) this.#log.warn(closing ? 'link closed' : 'envelope dropped', fields)
    else this.#log.debug('envelope dropped', fields)
    this.#handler.error(this, error, closing)
  }

  #fail(error: OrbitError): void {
    if (this.#closed) return
    this.#report(error, true)
    this.#closed = true
    this.#closeError = error
    this.pipe.close(error)
  }

  #onPipeClosed(error: Error | undefined): void {
    this.#closed = true
    this.#inbox.length = 0
    this.#handler.closed(this, this.#closeError ?? error)
  }
}

function asOrbit(error: unknown): OrbitError {
  return error instanceof OrbitError ? error : new WireError(String(error), { code: 'LINK_INTERNAL', cause: error })
}

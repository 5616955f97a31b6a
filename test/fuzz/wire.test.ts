/**
 * Fuzzing the live wire (docs/fuzzing.md): the link envelope of every kind (hello, sync, blob,
 * signal, control), blob messages, TCP frames, the secure handshake (a scripted peer on either
 * side) and its transport frames, and the signalling relay. Every input ends in a value or a typed
 * `OrbitError`; accepted values obey the bounds the decoders document.
 */
import { describe, expect, it } from 'vitest'
import { FrameDecoder, encodeFrame } from '../../src/adapters/transport-tcp/frames.js'
import { decodeBlobMessage, encodeBlobMessage, type BlobMessage } from '../../src/core/blobs/protocol.js'
import { concatBytes, utf8 } from '../../src/core/crypto/bytes.js'
import { FrameType, performHandshake, type HandshakeIO, type SecureSession } from '../../src/core/crypto/channel.js'
import { createMemoryPipe } from '../../src/core/crypto/memory-pipe.js'
import { identityFromSecret, type DeviceIdentity } from '../../src/core/crypto/identity.js'
import { XXHandshake } from '../../src/core/crypto/noise.js'
import { WireError } from '../../src/core/errors.js'
import type { DeviceId } from '../../src/core/ids.js'
import {
  EnvelopeKind,
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
  type Signal,
} from '../../src/core/link/envelope.js'
import type { SignalPort } from '../../src/core/link/link-adapter.js'
import { SignalRelay } from '../../src/core/link/signal-relay.js'
import type { Prng } from '../helpers/prng.js'
import { FUZZ_TEST_TIMEOUT, fuzz, mutateBytes, mutateOnce } from './harness.js'
import { A, B, BLOB_SEEDS, C, ENVELOPE_SEEDS, SIGNAL_SEEDS, X, peerA, peerB } from './seeds.js'

/** What link.ts does with one received envelope, up to the decoded payload. */
function decodeAny(bytes: Uint8Array): unknown {
  const env = decodeEnvelope(bytes)
  switch (env.kind) {
    case EnvelopeKind.Hello:
      return decodeHello(env.payload)
    case EnvelopeKind.Sync:
      return decodeSync(env.payload, { senderId: peerA, targetId: peerB })
    case EnvelopeKind.Blob:
      return decodeBlob(env.payload)
    case EnvelopeKind.Signal:
      return decodeSignal(env.payload)
    case EnvelopeKind.Control:
      return decodeControl(env.payload)
    default:
      return env
  }
}

/** An accepted value re-encodes (the encoders check the same bounds) and decodes to itself. */
function reencodes(bytes: Uint8Array, value: unknown): void {
  if (value === undefined) return
  const env = decodeEnvelope(bytes)
  const again = (() => {
    switch (env.kind) {
      case EnvelopeKind.Hello:
        return decodeHello(decodeEnvelope(encodeHello(value as never)).payload)
      case EnvelopeKind.Blob:
        return decodeBlob(decodeEnvelope(encodeBlob(1, value as BlobMessage)).payload)
      case EnvelopeKind.Signal:
        return decodeSignal(decodeEnvelope(encodeSignal(1, value as Signal)).payload)
      case EnvelopeKind.Control:
        return decodeControl(decodeEnvelope(encodeControl(1, value as never)).payload)
      default:
        return value
    }
  })()
  expect(again).toEqual(value)
}

describe('fuzz: the link envelope and blob messages', () => {
  it(
    'envelopes of every kind (hello, sync, blob, signal, control): a value or a LINK_*/BLOB_* WireError',
    async () => {
      const r = await fuzz({ name: 'envelope', seeds: ENVELOPE_SEEDS, inputs: 12_000, run: decodeAny, check: reencodes })
      if (r.inputs > 0) expect(r.accepted).toBeGreaterThan(0)
    },
    FUZZ_TEST_TIMEOUT,
  )

  it(
    'blob messages (src/core/blobs/protocol.ts) straight: a value or a BLOB_* WireError; accepted ones re-encode',
    async () => {
      const seeds = BLOB_SEEDS.map((m) => encodeBlobMessage(m))
      const r = await fuzz({
        name: 'blob-message',
        seeds,
        inputs: 8000,
        run: decodeBlobMessage,
        check: (_input, value) => {
          if (value !== undefined) expect(decodeBlobMessage(encodeBlobMessage(value as BlobMessage))).toEqual(value)
        },
      })
      if (r.inputs > 0) expect(r.accepted).toBeGreaterThan(0)
    },
    FUZZ_TEST_TIMEOUT,
  )
})

// ---- TCP frames ------------------------------------------------------------------------------

/** A byte stream of a few frames, cut into chunks at random places. */
interface FrameStream {
  chunks: Uint8Array[]
}

function frameStream(prng: Prng, seeds: readonly Uint8Array[]): FrameStream {
  let stream: Uint8Array = new Uint8Array(0)
  for (let n = prng.int(1, 4); n > 0; n--) stream = concatBytes(stream, prng.chance(0.5) ? mutateOnce(prng, prng.pick(seeds)) : prng.pick(seeds))
  if (prng.chance(0.5)) stream = mutateBytes(prng, [stream])
  const chunks: Uint8Array[] = []
  for (let at = 0; at < stream.length; ) {
    const n = prng.chance(0.3) ? prng.int(1, 6) : prng.int(1, stream.length)
    chunks.push(stream.subarray(at, at + n))
    at += n
  }
  return { chunks }
}

describe('fuzz: TCP frames', () => {
  it(
    'a frame stream in random chunks: frames or a FRAME_* WireError; nothing buffered beyond the limit',
    async () => {
      const MAX = 4096
      const seeds = [encodeFrame(new Uint8Array(0)), encodeFrame(Uint8Array.of(1, 2, 3)), encodeFrame(new Uint8Array(MAX).fill(5), MAX), encodeFrame(new Uint8Array(300).fill(6))]
      await fuzz<FrameStream>({
        name: 'tcp-frames',
        seeds: [{ chunks: seeds }],
        generate: (prng) => frameStream(prng, seeds),
        inputs: 10_000,
        run: ({ chunks }) => {
          const dec = new FrameDecoder(MAX)
          const frames: Uint8Array[] = []
          for (const c of chunks) {
            frames.push(...dec.push(c))
            // Invariant: no more than one frame's worth (header + max payload) is ever held.
            if (dec.buffered > MAX + 5 + c.length) throw new Error(`buffered ${dec.buffered} bytes`)
          }
          dec.end()
          for (const f of frames) if (f.length > MAX) throw new Error(`a frame of ${f.length} bytes passed a ${MAX} limit`)
          return frames
        },
      })
    },
    FUZZ_TEST_TIMEOUT,
  )
})

// ---- the handshake -----------------------------------------------------------------------------

const STATIC_BINDING = utf8('orbit-static-binding-v1')
const PROLOGUE = utf8('orbit-sync/noise-xx')

/** `32 ed25519 key • 64 signature over the binding • u8 n • name` (docs/protocol/handshake.md). */
function identityBlock(id: DeviceIdentity, name: string): Uint8Array {
  const n = utf8(name)
  return concatBytes(id.publicKey, id.sign(concatBytes(STATIC_BINDING, id.noisePublicKey)), Uint8Array.of(n.length), n)
}

// Fixed keys (the Noise ephemerals stay random): a seed makes the same scripts on every run.
const honest = identityFromSecret(new Uint8Array(32).fill(0x11))
const fuzzer = identityFromSecret(new Uint8Array(32).fill(0x22))

/** A scripted peer's plan: the plaintext payloads it puts in its Noise messages, and damage to the frames around them. */
interface HandshakeScript {
  /** Which side the product plays. */
  product: 'initiator' | 'responder'
  /** The scripted peer's payloads (mutated from valid ones), in order. */
  payloads: Uint8Array[]
  /** Frame type bytes the scripted peer uses (mutated now and then). */
  types: number[]
  /** Per frame: mutate the whole frame after encryption (tests the Noise layer's refusals). */
  mangle: Array<number | undefined>
  /** Stop after this many frames (the connection then closes). */
  frames: number
}

function handshakeScript(prng: Prng): HandshakeScript {
  const product = prng.chance(0.5) ? 'initiator' : 'responder'
  const block = identityBlock(fuzzer, prng.chance(0.5) ? 'fuzzer' : '')
  // The responder's hello payload is `u8 preferred • u8 n • n versions`; the others `u8 version • identity block`.
  const valid = product === 'responder' ? [Uint8Array.of(1, 1, 1), concatBytes(Uint8Array.of(1), block)] : [concatBytes(Uint8Array.of(1), block), Uint8Array.of(1)]
  const payloads = valid.map((p) => (prng.chance(0.6) ? mutateBytes(prng, [p]) : p))
  const types = product === 'responder' ? [FrameType.Hello, FrameType.Finish] : [FrameType.Reply, FrameType.Confirm]
  return {
    product,
    payloads,
    types: types.map((t) => (prng.chance(0.05) ? prng.pick([0, FrameType.Abort, FrameType.Hello, FrameType.Reply, FrameType.Finish, FrameType.Confirm, 0xff]) : t)),
    mangle: types.map(() => (prng.chance(0.15) ? prng.int(0, 0xffff) : undefined)),
    frames: prng.chance(0.1) ? prng.int(0, 1) : 2,
  }
}

/** The scripted peer's end: frames it writes go straight to the product's `receive`; what the product sends is read by the script. */
class ScriptedIO implements HandshakeIO {
  readonly toProduct: Uint8Array[] = []
  readonly fromProduct: Uint8Array[] = []
  #waiter: ((f: Uint8Array | undefined) => void) | undefined
  #closed = false
  #sentWaiter: (() => void) | undefined
  send(frame: Uint8Array): void {
    this.fromProduct.push(frame.slice())
    this.#sentWaiter?.()
  }
  receive(): Promise<Uint8Array> {
    const f = this.toProduct.shift()
    if (f !== undefined) return Promise.resolve(f)
    if (this.#closed) return Promise.reject(new WireError('closed', { code: 'CLOSED' }))
    return new Promise((resolve, reject) => {
      this.#waiter = (x) => (x === undefined ? reject(new WireError('closed', { code: 'CLOSED' })) : resolve(x))
    })
  }
  push(frame: Uint8Array): void {
    const w = this.#waiter
    this.#waiter = undefined
    if (w !== undefined) w(frame)
    else this.toProduct.push(frame)
  }
  close(): void {
    this.#closed = true
    const w = this.#waiter
    this.#waiter = undefined
    w?.(undefined)
  }
  /** The product's next frame, or undefined once it has stopped sending (its handshake ended). */
  async next(done: Promise<unknown>): Promise<Uint8Array | undefined> {
    for (;;) {
      const f = this.fromProduct.shift()
      if (f !== undefined) return f
      const sent = new Promise<void>((resolve) => (this.#sentWaiter = resolve))
      const ended = await Promise.race([sent.then(() => false), done.then(() => true, () => true)])
      this.#sentWaiter = undefined
      if (ended && this.fromProduct.length === 0) return undefined
    }
  }
}

async function runScript(s: HandshakeScript): Promise<SecureSession> {
  const io = new ScriptedIO()
  const noise = new XXHandshake({ initiator: s.product === 'responder', prologue: PROLOGUE, staticKey: { publicKey: fuzzer.noisePublicKey, dh: (r) => fuzzer.dh(r) } })
  const session = performHandshake(io, { identity: honest, role: s.product, authorize: () => 'member', timeoutMs: 4000, deviceName: 'honest' })
  session.catch(() => undefined)
  const frame = (i: number, body: Uint8Array): Uint8Array => {
    const f = concatBytes(Uint8Array.of(s.types[i]!), body)
    const m = s.mangle[i]
    if (m === undefined) return f
    // Damage to the encrypted frame: one bit flipped at a place the mangle number picks, and with its bit 8 a few bytes cut off the end.
    const b = f.slice()
    if (b.length > 1) {
      const i = 1 + (m % (b.length - 1))
      b[i] = b[i]! ^ (1 << (m & 7))
    }
    return m & 0x100 ? b.subarray(0, b.length - 1 - (m % 5)) : b
  }
  // The script runs until it has sent its frames (or the product stopped answering); then the
  // connection closes, as a real peer's would, and the product's handshake must end by itself.
  const script = async (): Promise<void> => {
    if (s.product === 'responder') {
      if (s.frames < 1) return
      io.push(frame(0, noise.writeMessage(s.payloads[0]!)))
      const reply = await io.next(session)
      if (reply === undefined || reply[0] !== FrameType.Reply) return
      noise.readMessage(reply.subarray(1))
      if (s.frames < 2) return
      io.push(frame(1, noise.writeMessage(s.payloads[1]!)))
    } else {
      const hello = await io.next(session)
      if (hello === undefined || hello[0] !== FrameType.Hello) return
      noise.readMessage(hello.subarray(1))
      if (s.frames < 1) return
      io.push(frame(0, noise.writeMessage(s.payloads[0]!)))
      const finish = await io.next(session)
      if (finish === undefined || finish[0] !== FrameType.Finish) return
      noise.readMessage(finish.subarray(1))
      if (s.frames < 2) return
      io.push(frame(1, noise.finish().send.encryptWithAd(new Uint8Array(0), s.payloads[1]!)))
    }
    // Let the product read the last frame before the connection closes.
    await Promise.race([session.then(() => undefined, () => undefined), new Promise((r) => setTimeout(r, 0))])
  }
  // A payload the scripted peer's own Noise refuses to write is the script's problem, not the product's.
  await script().catch(() => undefined)
  io.close()
  return await session
}

describe('fuzz: the secure handshake', () => {
  it(
    'a scripted peer with mutated payloads and frames, on either side: a session or a HandshakeError/AbortedError',
    async () => {
      const r = await fuzz<HandshakeScript>({
        name: 'handshake',
        seeds: [],
        generate: handshakeScript,
        inputs: 300,
        ciMs: 5000,
        run: runScript,
        check: (_s, value) => {
          // Accepted only when the peer really is the fuzzer's identity (nothing else can sign its binding).
          expect((value as SecureSession).remoteDeviceId).toBe(fuzzer.deviceId)
        },
      })
      if (r.inputs > 0) expect(r.accepted).toBeGreaterThan(0)
    },
    FUZZ_TEST_TIMEOUT,
  )

  it(
    'transport frames after the handshake: tampered, truncated, replayed or foreign frames are a WireError',
    async () => {
      const pair = async (): Promise<[SecureSession, SecureSession]> => {
        const [pa, pb] = createMemoryPipe()
        return Promise.all([
          performHandshake(pa, { identity: fuzzer, role: 'initiator', authorize: () => 'member' }),
          performHandshake(pb, { identity: honest, role: 'responder', authorize: () => 'member' }),
        ])
      }
      // The seeds are real frames of *another* session between the same two devices (a replay
      // across sessions), then mutated: none may decrypt on the receiver's session.
      const [other] = await pair()
      const seeds = [...other.encrypt(new Uint8Array(10).fill(1)), ...other.encrypt(new Uint8Array(70_000).fill(2))]
      let [sender, receiver] = await pair()
      let dead = false
      await fuzz({
        name: 'session-frames',
        seeds,
        inputs: 150,
        ciMs: 3000,
        run: async (frame) => {
          if (dead) {
            ;[sender, receiver] = await pair()
            dead = false
          }
          // The frame was made under another session's keys (or mutated): it must not decrypt.
          try {
            return receiver.decrypt(frame)
          } catch (error) {
            dead = true
            throw error
          }
        },
        check: (_f, value) => {
          throw new Error(`a foreign frame decrypted to ${String(value)}`)
        },
      })
      expect(sender.remoteDeviceId).toBe(honest.deviceId)
    },
    FUZZ_TEST_TIMEOUT,
  )
})

// ---- the signalling relay ------------------------------------------------------------------------

/** A fake port for the relay: neighbours B, C (members) and X (not), recording what is sent where. */
class FakePort implements SignalPort {
  readonly peers: DeviceId[] = [B, C, X]
  readonly sent: Array<{ to: DeviceId; signal: Signal }> = []
  #signal: ((from: DeviceId, s: Signal) => void) | undefined
  signalPeers(): DeviceId[] {
    return this.peers
  }
  sendSignal(to: DeviceId, signal: Signal): boolean {
    this.sent.push({ to, signal })
    return true
  }
  onSignal(listener: (from: DeviceId, s: Signal) => void): () => void {
    this.#signal = listener
    return () => (this.#signal = undefined)
  }
  onPeersChanged(): () => void {
    return () => undefined
  }
  emit(from: DeviceId, s: Signal): void {
    this.#signal?.(from, s)
  }
}

interface RelayEvents {
  events: Array<{ from: DeviceId; bytes: Uint8Array; advanceMs: number }>
}

describe('fuzz: the signalling relay', () => {
  it(
    'decoded signals from members and strangers: forwarded only member to member, one hop, from = the link, never to a stranger',
    async () => {
      const seeds = SIGNAL_SEEDS.map((s) => encodeSignal(1, s).subarray(2))
      await fuzz<RelayEvents>({
        name: 'signal-relay',
        seeds: [],
        generate: (prng) => ({
          events: Array.from({ length: prng.int(1, 40) }, () => ({ from: prng.pick([B, C, X]), bytes: mutateBytes(prng, seeds), advanceMs: prng.pick([0, 0, 10, 200, 1000, 200_000]) })),
        }),
        inputs: 1500,
        run: ({ events }) => {
          let now = 10_000
          const port = new FakePort()
          const delivered: unknown[] = []
          const relay = new SignalRelay({ self: A, isMember: (d) => d === A || d === B || d === C, deliver: (d) => delivered.push(d), now: () => now })
          relay.addPort(port)
          const routesSent = port.sent.length
          let refused = 0
          for (const e of events) {
            now += e.advanceMs
            let signal: Signal | undefined
            try {
              signal = decodeSignal(e.bytes)
            } catch (error) {
              if (!(error instanceof WireError)) throw error
              refused++
              continue
            }
            if (signal === undefined) continue
            const before = port.sent.length
            port.emit(e.from, signal)
            for (const out of port.sent.slice(before)) {
              if (out.signal.type !== 'relay') continue
              if (out.to === X) throw new Error('forwarded to a stranger')
              if (e.from === X) throw new Error('forwarded a stranger’s signal')
              if (signal.type !== 'relay' || signal.from !== undefined) throw new Error('relayed a relayed envelope')
              if (out.signal.from !== e.from) throw new Error(`forwarded with from=${String(out.signal.from)}, the link was ${e.from}`)
            }
          }
          relay.close()
          return { forwarded: port.sent.length - routesSent, delivered: delivered.length, refused }
        },
      })
    },
    FUZZ_TEST_TIMEOUT,
  )
})

/**
 * Fuzzing what travels as codes and files (docs/fuzzing.md): WebRTC signal codes (and the SDP and
 * ICE-server text they are built from), QR frames and their reassembly, sealed QR bundles (opened
 * and applied), sealed envelopes, pairing invite and acceptance codes and the pairing messages.
 *
 * Checksummed and signed formats are fuzzed twice: as they come (nearly every mutation is then a
 * checksum or signature refusal) and *fixed up* — the harness mutates the body and recomputes the
 * checksum or re-signs it with the key the receiver trusts, so the parser behind the check sees
 * the damage too (what a member with a buggy or hostile build can send).
 */
import * as Automerge from '@automerge/automerge'
import { sha256 } from '@noble/hashes/sha2.js'
import { deflateSync } from 'fflate'
import { describe, expect, it } from 'vitest'
import { concatBytes, fromBase64Url, toBase64Url, utf8 } from '../../src/core/crypto/bytes.js'
import { identityFromSecret } from '../../src/core/crypto/identity.js'
import { openSealed, seal } from '../../src/core/crypto/seal.js'
import type { DeviceId } from '../../src/core/ids.js'
import { createAcceptance, parseAcceptance } from '../../src/core/pairing/acceptance.js'
import { readPairResponse } from '../../src/core/pairing/exchange.js'
import { createInvite, parseInviteCode } from '../../src/core/pairing/invite.js'
import { encodePairMessage, parsePairMessage } from '../../src/core/pairing/messages.js'
import { decodePayload, encodePayload } from '../../src/core/qr/bundle-codec.js'
import { applyBundle, createBundle, openBundle, peekBundleWorkspace } from '../../src/core/qr/bundle.js'
import { crc32 } from '../../src/core/qr/crc32.js'
import { FrameDecoder, encodeFrames, parseFrame } from '../../src/core/qr/frame.js'
import { parseIceServer } from '../../src/core/webrtc/ice-server.js'
import { sdpToEssentials } from '../../src/core/webrtc/sdp-essentials.js'
import { createNonceLedger, encodeSignalCode, parseSignalCode, SIGNAL_CODE_PREFIX } from '../../src/core/webrtc/signal.js'
import type { Prng } from '../helpers/prng.js'
import { SAMPLE_OFFER_SDP } from '../webrtc/test-identity.js'
import { FUZZ_TEST_TIMEOUT, fuzz, mutateBytes, mutateText } from './harness.js'

const NOW = 1_800_000_000_000
// Fixed keys, nonces and invite secrets: the same seed makes the same inputs on every run (only a
// seal's ephemeral key and nonce stay random, so sealed targets replay the same mutations on fresh bytes).
const alice = identityFromSecret(new Uint8Array(32).fill(0xa1))
const bob = identityFromSecret(new Uint8Array(32).fill(0xb2))
const keys = new Map<string, Uint8Array>([
  [alice.deviceId, alice.publicKey],
  [bob.deviceId, bob.publicKey],
])
const resolve = (id: string): Uint8Array | undefined => keys.get(id)

/** `fixed`: mutate `body`, then let `finish` make it pass the outer check again. */
function fixedUp(prng: Prng, bodies: readonly Uint8Array[], finish: (body: Uint8Array) => Uint8Array): Uint8Array {
  return finish(mutateBytes(prng, bodies))
}

// ---- WebRTC ------------------------------------------------------------------------------------

const SIGNING_CONTEXT = utf8('orbit-webrtc-signal/1')
const offer = encodeSignalCode({ type: 'offer', sdp: SAMPLE_OFFER_SDP, expiresAt: NOW + 60_000, nonce: new Uint8Array(16).fill(1) }, alice)
const offerParsed = parseSignalCode(offer, { now: () => NOW, resolveMember: resolve as (id: DeviceId) => Uint8Array | undefined })
const answer = encodeSignalCode({ type: 'answer', sdp: SAMPLE_OFFER_SDP.replace('actpass', 'active'), expiresAt: NOW + 60_000, answers: offerParsed.hash, nonce: new Uint8Array(16).fill(2) }, bob)
const codeBody = (code: string): Uint8Array => {
  const raw = fromBase64Url(code.slice(SIGNAL_CODE_PREFIX.length))
  return raw.subarray(0, raw.length - 64)
}

describe('fuzz: WebRTC signal codes', () => {
  const parse = (text: string): unknown => parseSignalCode(text, { now: () => NOW, resolveMember: resolve as (id: DeviceId) => Uint8Array | undefined, nonces: createNonceLedger(() => NOW) })

  it(
    'codes as text (mutated characters, prefixes, whitespace): a SignalCode or a WebRtcError',
    async () => {
      await fuzz<string>({ name: 'webrtc-code', seeds: [offer, answer, ' ' + offer + '\n'], generate: mutateText, inputs: 3000, run: parse })
    },
    FUZZ_TEST_TIMEOUT,
  )

  it(
    'codes with a mutated body, re-signed by a member: a SignalCode (with a valid SDP) or a WebRtcError',
    async () => {
      const signers = [alice, bob]
      const r = await fuzz<string>({
        name: 'webrtc-code-signed',
        seeds: [],
        generate: (prng) =>
          SIGNAL_CODE_PREFIX +
          toBase64Url(
            fixedUp(prng, [codeBody(offer), codeBody(answer)], (body) => {
              const signer = prng.pick(signers)
              return concatBytes(body, signer.sign(concatBytes(SIGNING_CONTEXT, body)))
            }),
          ),
        inputs: 3000,
        run: parse,
        check: (_text, value) => {
          // What an accepted code hands to the WebRTC stack must parse back to the same essentials.
          const code = value as { sdp: string; essentials: unknown }
          expect(sdpToEssentials(code.sdp)).toEqual(code.essentials)
        },
      })
      if (r.inputs > 0) expect(r.accepted).toBeGreaterThan(0)
    },
    FUZZ_TEST_TIMEOUT,
  )

  it('found by the fuzzer: a member-signed code whose ICE ufrag holds a non-ice-char is refused, and a stray % in TURN credentials is a ValidationError', () => {
    // The offer's ufrag is "8e2f" (u8 length 4); "8:2f" keeps the layout and the signature is made anew.
    const body = codeBody(offer).slice()
    const at = Buffer.from(body).indexOf(Buffer.from([4, ...utf8('8e2f')]))
    expect(at).toBeGreaterThan(0)
    body[at + 2] = ':'.charCodeAt(0)
    const code = SIGNAL_CODE_PREFIX + toBase64Url(concatBytes(body, alice.sign(concatBytes(SIGNING_CONTEXT, body))))
    expect(() => parse(code)).toThrow(expect.objectContaining({ name: 'WebRtcError', code: 'CODE_MALFORMED' }))
    expect(() => parseIceServer('turn:us%r:pass@turn.example.org:3478')).toThrow(expect.objectContaining({ name: 'ValidationError', field: 'ice' }))
  })

  it(
    'SDP text and ICE-server specs: a value or a WebRtcError/ValidationError',
    async () => {
      await fuzz<string>({ name: 'webrtc-sdp', seeds: [SAMPLE_OFFER_SDP], generate: mutateText, inputs: 3000, run: sdpToEssentials })
      await fuzz<string>({
        name: 'webrtc-ice',
        seeds: ['stun:stun.example.org:3478', 'turn:user:pass@turn.example.org:3478?transport=tcp', 'turns:u:p@[2001:db8::1]:5349'],
        generate: mutateText,
        inputs: 3000,
        run: (s) => parseIceServer(s),
      })
    },
    FUZZ_TEST_TIMEOUT,
  )
})

// ---- QR ----------------------------------------------------------------------------------------

const WS = 'ws_aaaaaaaaaaaaaaaaaaaaaaaaaa'
type Doc = { items: string[] }
const doc1 = Automerge.change(Automerge.init<Doc>(), (d) => {
  d.items = ['one', 'two']
})
const doc2 = Automerge.change(Automerge.clone(doc1), (d) => {
  d.items.push('three'.repeat(300))
})
const bundle = createBundle({ workspaceId: WS, sender: alice, recipients: [{ deviceId: bob.deviceId, publicKey: bob.publicKey }], docs: [{ documentId: 'doc1', doc: doc1 }, { documentId: 'doc2', doc: doc2 }], pendingBlobs: ['f'.repeat(64)] })
const smallBundle = createBundle({ workspaceId: WS, sender: alice, recipients: [{ deviceId: bob.deviceId, publicKey: bob.publicKey }], docs: [{ documentId: 'doc1', doc: doc1 }] })
const frames = [...encodeFrames(bundle, { payloadSize: 200 }), ...encodeFrames(smallBundle)]

/** A frame with its CRC recomputed after mutation (so the header and symbol checks are reached). */
function fixCrc(frame: Uint8Array): Uint8Array {
  if (frame.length < 4) return frame
  const out = frame.slice()
  new DataView(out.buffer).setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)))
  return out
}

interface FrameRun {
  frames: Uint8Array[]
}

describe('fuzz: QR frames and bundles', () => {
  it(
    'single frames, raw and with a fixed-up CRC: a Frame or a QrError',
    async () => {
      await fuzz({ name: 'qr-frame', seeds: frames, inputs: 6000, run: parseFrame })
      await fuzz({ name: 'qr-frame-crc', seeds: frames, generate: (prng, seeds) => fixCrc(mutateBytes(prng, seeds)), inputs: 6000, run: parseFrame })
    },
    FUZZ_TEST_TIMEOUT,
  )

  it(
    'frame sequences into the reassembling decoder: it never throws, and what completes is the bundle of its id',
    async () => {
      const good = encodeFrames(bundle, { payloadSize: 200 })
      await fuzz<FrameRun>({
        name: 'qr-decoder',
        seeds: [],
        generate: (prng) => ({
          frames: Array.from({ length: prng.int(1, good.length + 6) }, () => (prng.chance(0.6) ? prng.pick(good) : prng.chance(0.7) ? fixCrc(mutateBytes(prng, frames)) : mutateBytes(prng, frames))),
        }),
        inputs: 1500,
        run: ({ frames: fs }) => {
          const dec = new FrameDecoder()
          let status = ''
          for (const f of fs) status = dec.push(f).status
          return { status, result: dec.result() }
        },
        check: (_input, value) => {
          const { result } = value as { result: Uint8Array | undefined }
          // A forged frame set may reassemble *some* bundle, but only one whose id matches (the CRC and id are the checks; the seal is the next).
          if (result !== undefined) peekBundleWorkspace(result)
        },
      })
    },
    FUZZ_TEST_TIMEOUT,
  )

  it(
    'sealed bundles, as they come: opened and applied, or a QrError',
    async () => {
      await fuzz({
        name: 'qr-bundle',
        seeds: [bundle, smallBundle],
        inputs: 1500,
        run: (bytes) => applyBundle(openBundle(bytes, { me: bob, resolveSender: resolve, workspaceId: WS }), () => undefined, ['doc1']),
      })
    },
    FUZZ_TEST_TIMEOUT,
  )

  it(
    'bundle payloads sealed by a member (mutated inner bytes, re-deflated; or mutated deflate stream): applied all or nothing, or a QrError',
    async () => {
      const payload = { workspaceId: WS, docs: [{ documentId: 'doc1', heads: Automerge.getHeads(doc1), changes: Automerge.save(doc1) }, { documentId: 'doc2', heads: Automerge.getHeads(doc2), changes: Automerge.saveSince(doc2, Automerge.getHeads(doc1)) }], pendingBlobs: ['a'.repeat(64)], unchanged: { count: 0, digest: new Uint8Array(8) } }
      const outer = encodePayload(payload)
      const inner = new Uint8Array(new DataView(outer.buffer, outer.byteOffset).getUint32(0))
      {
        // The inner bytes, recovered by decoding the seed (the codec has no "inner" export).
        const { inflateSync } = await import('fflate')
        inner.set(inflateSync(outer.subarray(4)))
      }
      // The bundle header (magic, version, u16-length workspace id) is the seal's associated data.
      const aad = bundle.subarray(0, 5 + WS.length)
      const wrap = (inn: Uint8Array): Uint8Array => {
        const out = new Uint8Array(4)
        new DataView(out.buffer).setUint32(0, inn.length)
        return concatBytes(out, deflateSync(inn))
      }
      const r = await fuzz<Uint8Array>({
        name: 'qr-payload-sealed',
        seeds: [],
        generate: (prng) => {
          // One in ten is the valid payload itself: the path to an applied bundle stays exercised.
          const plaintext = prng.chance(0.1) ? outer : prng.chance(0.7) ? wrap(mutateBytes(prng, [inner])) : mutateBytes(prng, [outer])
          return concatBytes(aad, seal({ plaintext, sender: alice, recipients: [{ deviceId: bob.deviceId, publicKey: bob.publicKey }], aad }))
        },
        inputs: 400,
        ciMs: 4000,
        run: (bytes) => {
          const opened = openBundle(bytes, { me: bob, resolveSender: resolve, workspaceId: WS })
          // doc2 builds on doc1 (it is a clone of it): both start from doc1 here.
          return applyBundle(opened, (id) => (id === 'doc1' || id === 'doc2' ? doc1 : undefined), ['doc1', 'doc2'])
        },
        check: (_b, value) => {
          for (const d of (value as { docs: Array<{ doc: unknown }> }).docs) Automerge.save(d.doc as Automerge.Doc<unknown>)
        },
      })
      if (r.inputs > 0) expect(r.accepted).toBeGreaterThan(0)
      // The codec straight, too (no seal): every defect a QrError.
      await fuzz({ name: 'qr-payload', seeds: [outer, wrap(inner)], generate: (prng) => (prng.chance(0.5) ? wrap(mutateBytes(prng, [inner])) : mutateBytes(prng, [outer])), inputs: 4000, run: decodePayload })
    },
    FUZZ_TEST_TIMEOUT,
  )

  it(
    'sealed envelopes: raw, and re-signed by a member after mutation: opened or a CryptoError',
    async () => {
      const sealed = [seal({ plaintext: utf8('hello'), sender: alice, recipients: [{ deviceId: bob.deviceId, publicKey: bob.publicKey }] }), seal({ plaintext: new Uint8Array(300), sender: alice, recipients: [{ deviceId: bob.deviceId, publicKey: bob.publicKey }, { deviceId: alice.deviceId, publicKey: alice.publicKey }] })]
      const open = (bytes: Uint8Array): unknown => openSealed(bytes, { me: bob, resolveSender: resolve as (id: DeviceId) => Uint8Array | undefined })
      await fuzz({ name: 'sealed', seeds: sealed, inputs: 1500, ciMs: 3000, run: open })
      await fuzz({
        name: 'sealed-signed',
        seeds: [],
        generate: (prng) => fixedUp(prng, sealed.map((s) => s.subarray(0, s.length - 64)), (body) => concatBytes(body, alice.sign(concatBytes(utf8('orbit-seal-v1'), body)))),
        inputs: 800,
        ciMs: 3000,
        run: open,
      })
    },
    FUZZ_TEST_TIMEOUT,
  )
})

// ---- pairing -----------------------------------------------------------------------------------

const created = createInvite({ identity: alice, deviceName: 'Alice’s laptop', workspaceId: WS as never, addresses: ['192.168.1.20:7878', '[fe80::1%eth0]:7878', 'alice.local:7878'], now: NOW, random: (n) => new Uint8Array(n).fill(7) })
const inviteCode = created.code
const acceptanceCode = createAcceptance(created.invite, bob, 'Bob', NOW)

function withChecksum(prefix: string, body: Uint8Array): string {
  return prefix + toBase64Url(concatBytes(body, sha256(concatBytes(utf8(prefix), body)).subarray(0, 4)))
}
const bodyOf = (prefix: string, code: string): Uint8Array => {
  const raw = fromBase64Url(code.slice(prefix.length))
  return raw.subarray(0, raw.length - 4)
}

describe('fuzz: pairing', () => {
  it(
    'invite codes, as text and with a fixed-up checksum: an Invite or a PairingError',
    async () => {
      await fuzz<string>({ name: 'invite-code', seeds: [inviteCode, `  ${inviteCode}\n`], generate: mutateText, inputs: 3000, run: parseInviteCode })
      const r = await fuzz<string>({ name: 'invite-code-fixed', seeds: [], generate: (prng) => withChecksum('orbit-invite:', mutateBytes(prng, [bodyOf('orbit-invite:', inviteCode)])), inputs: 4000, run: parseInviteCode })
      if (r.inputs > 0) expect(r.accepted).toBeGreaterThan(0)
    },
    FUZZ_TEST_TIMEOUT,
  )

  it(
    'acceptance codes, as text and fixed up (checksum, and re-signed by the joiner): an Acceptance or a PairingError',
    async () => {
      await fuzz<string>({ name: 'acceptance-code', seeds: [acceptanceCode], generate: mutateText, inputs: 2000, run: parseAcceptance })
      const body = bodyOf('orbit-accept:', acceptanceCode)
      await fuzz<string>({
        name: 'acceptance-code-fixed',
        seeds: [],
        generate: (prng) => {
          const signed = mutateBytes(prng, [body.subarray(0, body.length - 64)])
          return withChecksum('orbit-accept:', concatBytes(signed, bob.sign(concatBytes(utf8('orbit-accept-v1'), signed))))
        },
        inputs: 2000,
        run: parseAcceptance,
      })
    },
    FUZZ_TEST_TIMEOUT,
  )

  it(
    'pairing messages (request, accept, refuse) and the joiner reading the answer: a message or a PairingError',
    async () => {
      const seeds = [
        encodePairMessage({ type: 'pair-request', proof: new Uint8Array(32).fill(3), name: 'Bob' }),
        encodePairMessage({ type: 'pair-accept', workspaceId: WS as never, workspaceName: 'Acme', rootUrl: 'automerge:2j9knpCseyhnK8izDmLpGP5WMdZQ', members: [{ deviceId: alice.deviceId, publicKey: alice.publicKey, name: 'A' }, { deviceId: bob.deviceId, publicKey: bob.publicKey, name: 'B' }] }),
        encodePairMessage({ type: 'pair-refuse' }),
      ]
      await fuzz({ name: 'pair-message', seeds, inputs: 5000, run: parsePairMessage })
      await fuzz({ name: 'pair-response', seeds, inputs: 3000, run: (b) => readPairResponse(b, created.invite) })
    },
    FUZZ_TEST_TIMEOUT,
  )
})

import fc from 'fast-check'
import { deflateSync } from 'fflate'
import { describe, expect, it } from 'vitest'
import { WebRtcError } from '../../src/core/errors.js'
import { parseIceServer } from '../../src/core/webrtc/ice-server.js'
import { sdpToEssentials } from '../../src/core/webrtc/sdp-essentials.js'
import { createNonceLedger, encodeSignalCode, parseSignalCode, SIGNAL_CODE_PREFIX } from '../../src/core/webrtc/signal.js'
import { decodeBase64Url, encodeBase64Url } from '../../src/core/webrtc/code-bytes.js'
import { membersOf, SAMPLE_OFFER_SDP, testSigner } from './test-identity.js'

const NOW = 1_800_000_000_000
const now = () => NOW
const alice = testSigner()
const bob = testSigner()
const resolveMember = membersOf(alice, bob)

function errorOf(fn: () => unknown): WebRtcError {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(WebRtcError)
    return error as WebRtcError
  }
  throw new Error('expected a WebRtcError')
}

function offerCode(overrides: { expiresAt?: number } = {}) {
  return encodeSignalCode({ type: 'offer', sdp: SAMPLE_OFFER_SDP, expiresAt: overrides.expiresAt ?? NOW + 60_000 }, alice)
}

describe('signalling codes', () => {
  it('round-trips an offer into an SDP with the same essentials', () => {
    const code = offerCode()
    expect(code.startsWith(SIGNAL_CODE_PREFIX)).toBe(true)
    expect(code).toMatch(/^orbit-rtc1\.[A-Za-z0-9_-]+$/)
    const parsed = parseSignalCode(code, { now, resolveMember, expectType: 'offer' })
    expect(parsed.type).toBe('offer')
    expect(parsed.deviceId).toBe(alice.deviceId)
    expect(parsed.expiresAt).toBe(NOW + 60_000)
    const original = sdpToEssentials(SAMPLE_OFFER_SDP)
    expect(sdpToEssentials(parsed.sdp)).toEqual(original)
    expect(parsed.essentials.candidates.map((c) => c.address)).toEqual(['127.0.0.1', '192.0.2.2', 'fd00::2', '203.0.113.7'])
  })

  it('is shorter than deflating the whole SDP (the format choice in docs/protocol/webrtc.md)', () => {
    const code = offerCode()
    const compactBytes = decodeBase64Url(code.slice(SIGNAL_CODE_PREFIX.length))!.length
    const deflated = deflateSync(new TextEncoder().encode(SAMPLE_OFFER_SDP), { level: 9 }).length + 64 + 40
    expect(compactBytes).toBeLessThan(deflated)
  })

  it('binds an answer to its offer', () => {
    const offer = parseSignalCode(offerCode(), { now, resolveMember })
    const answerSdp = SAMPLE_OFFER_SDP.replace('setup:actpass', 'setup:active')
    const code = encodeSignalCode({ type: 'answer', sdp: answerSdp, expiresAt: NOW + 1000, answers: offer.hash }, bob)
    const answer = parseSignalCode(code, { now, resolveMember, expectType: 'answer' })
    expect(answer.answers).toEqual(offer.hash)
    expect(answer.essentials.setup).toBe('active')
    expect(errorOf(() => parseSignalCode(code, { now, resolveMember, expectType: 'offer' })).code).toBe('CODE_WRONG_TYPE')
  })

  it('refuses a code signed by a device outside the workspace', () => {
    const stranger = testSigner()
    const code = encodeSignalCode({ type: 'offer', sdp: SAMPLE_OFFER_SDP, expiresAt: NOW + 1000 }, stranger)
    expect(errorOf(() => parseSignalCode(code, { now, resolveMember })).code).toBe('CODE_NOT_MEMBER')
  })

  it('refuses a code that carries a member key but is signed with another key', () => {
    const other = testSigner()
    const impostor = { publicKey: alice.publicKey, sign: (m: Uint8Array) => other.sign(m) }
    const code = encodeSignalCode({ type: 'offer', sdp: SAMPLE_OFFER_SDP, expiresAt: NOW + 1000 }, impostor)
    expect(errorOf(() => parseSignalCode(code, { now, resolveMember })).code).toBe('CODE_BAD_SIGNATURE')
  })

  it('refuses an expired code', () => {
    const code = offerCode({ expiresAt: NOW - 1000 })
    expect(errorOf(() => parseSignalCode(code, { now, resolveMember })).code).toBe('CODE_EXPIRED')
  })

  it('accepts a code once, then refuses it as replayed', () => {
    const nonces = createNonceLedger(now)
    const code = offerCode()
    parseSignalCode(code, { now, resolveMember, nonces })
    expect(errorOf(() => parseSignalCode(code, { now, resolveMember, nonces })).code).toBe('CODE_REPLAYED')
  })

  it('does not consume the nonce of a code it refuses', () => {
    const nonces = createNonceLedger(now)
    const code = offerCode()
    const raw = decodeBase64Url(code.slice(SIGNAL_CODE_PREFIX.length))!
    raw[raw.length - 1] = raw[raw.length - 1]! ^ 1
    expect(errorOf(() => parseSignalCode(SIGNAL_CODE_PREFIX + encodeBase64Url(raw), { now, resolveMember, nonces })).code).toBe('CODE_BAD_SIGNATURE')
    expect(() => parseSignalCode(code, { now, resolveMember, nonces })).not.toThrow()
  })

  it('detects a swapped DTLS fingerprint (signature check fails)', () => {
    const code = offerCode()
    const raw = decodeBase64Url(code.slice(SIGNAL_CODE_PREFIX.length))!
    // The fingerprint's first byte 0x7D: find it after the ufrag/pwd strings and flip it.
    const fingerprintAt = findSubarray(raw, Uint8Array.of(0x7d, 0xc9, 0xa5, 0xae))
    expect(fingerprintAt).toBeGreaterThan(0)
    raw[fingerprintAt] = 0x00
    expect(errorOf(() => parseSignalCode(SIGNAL_CODE_PREFIX + encodeBase64Url(raw), { now, resolveMember })).code).toBe('CODE_BAD_SIGNATURE')
  })

  it('gives a typed error for every single-byte tamper, and for every truncation', () => {
    const code = offerCode()
    const raw = decodeBase64Url(code.slice(SIGNAL_CODE_PREFIX.length))!
    for (let i = 0; i < raw.length; i++) {
      const copy = raw.slice()
      copy[i] = copy[i]! ^ 0x41
      const error = errorOf(() => parseSignalCode(SIGNAL_CODE_PREFIX + encodeBase64Url(copy), { now, resolveMember }))
      expect(error.code).toMatch(/^CODE_/)
    }
    for (let n = 0; n < raw.length; n++) {
      const error = errorOf(() => parseSignalCode(SIGNAL_CODE_PREFIX + encodeBase64Url(raw.subarray(0, n)), { now, resolveMember }))
      expect(error.code).toMatch(/^CODE_(TRUNCATED|MALFORMED|BAD_SIGNATURE|NOT_MEMBER|VERSION)$/)
    }
  })

  it('refuses malformed text with a typed error', () => {
    for (const text of ['', 'hello', 'orbit-rtc1.', 'orbit-rtc1.!!!', 'orbit-rtc1.A', 'orbit-rtc9.AAAA', `${SIGNAL_CODE_PREFIX}${'A'.repeat(400)}`]) {
      expect(errorOf(() => parseSignalCode(text, { now, resolveMember })).code).toMatch(/^CODE_/)
    }
    expect(errorOf(() => parseSignalCode('orbit-rtc9.AAAA', { now, resolveMember })).code).toBe('CODE_VERSION')
  })

  it('refuses to encode an SDP without the essentials', () => {
    expect(errorOf(() => encodeSignalCode({ type: 'offer', sdp: 'v=0\r\n', expiresAt: NOW }, alice)).code).toBe('SDP_MALFORMED')
    const noCandidates = SAMPLE_OFFER_SDP.split('\r\n').filter((l) => !l.startsWith('a=candidate')).join('\r\n')
    expect(errorOf(() => encodeSignalCode({ type: 'offer', sdp: noCandidates, expiresAt: NOW }, alice)).code).toBe('CODE_NO_CANDIDATES')
  })
})

describe('signalling code fuzzing', () => {
  it('any text or byte string yields a WebRtcError, never a crash or a partial result', () => {
    const valid = decodeBase64Url(offerCode().slice(SIGNAL_CODE_PREFIX.length))!
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.uint8Array({ maxLength: 600 }).map((b) => SIGNAL_CODE_PREFIX + encodeBase64Url(b)),
          // Structured mutations of a valid code: splice random bytes in at a random place.
          fc.tuple(fc.nat(valid.length), fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([at, junk]) => {
            const out = new Uint8Array(valid.length + junk.length)
            out.set(valid.subarray(0, at))
            out.set(junk, at)
            out.set(valid.subarray(at), at + junk.length)
            return SIGNAL_CODE_PREFIX + encodeBase64Url(out)
          }),
        ),
        (text) => {
          expect(errorOf(() => parseSignalCode(text, { now, resolveMember })).name).toBe('WebRtcError')
        },
      ),
      { numRuns: 500 },
    )
  })
})

describe('parseIceServer', () => {
  it('parses stun and turn specs', () => {
    expect(parseIceServer('stun:10.0.0.1:3478')).toEqual({ urls: 'stun:10.0.0.1:3478' })
    expect(parseIceServer('stun:stun.example.org')).toEqual({ urls: 'stun:stun.example.org:3478' })
    expect(parseIceServer('turn:orbit:s3cret@10.0.0.1:3479')).toEqual({ urls: 'turn:10.0.0.1:3479', username: 'orbit', credential: 's3cret' })
    expect(parseIceServer('turn:u:p:q@[fd00::1]:3478?transport=tcp')).toEqual({ urls: 'turn:[fd00::1]:3478?transport=tcp', username: 'u', credential: 'p:q' })
  })

  it('refuses bad specs with a ValidationError', () => {
    for (const spec of ['', 'http://x', 'stun:', 'turn:10.0.0.1:3478', 'stun:u:p@h:1', 'stun:host:99999', 'turn:u@h:1', 'stun:h:1?transport=udp', 'stun:bad host']) {
      expect(() => parseIceServer(spec)).toThrow(expect.objectContaining({ name: 'ValidationError', field: 'ice' }))
    }
  })
})

function findSubarray(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer
    return i
  }
  return -1
}

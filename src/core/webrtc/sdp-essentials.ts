/**
 * The few facts of a data-channel-only SDP that a peer actually needs, and the two directions
 * between them and SDP text. A signalling code carries these facts instead of the SDP: the other
 * side rebuilds a valid SDP from them (see docs/protocol/webrtc.md for why this beats deflating
 * the whole SDP).
 */
import { WebRtcError } from '../errors.js'

/** One ICE candidate, reduced to what connectivity checks use. */
export interface EssentialCandidate {
  readonly type: 'host' | 'srflx' | 'prflx' | 'relay'
  readonly protocol: 'udp' | 'tcp'
  /** IPv4 dotted quad or IPv6 text form. mDNS (`.local`) names are not carried. */
  readonly address: string
  readonly port: number
  readonly priority: number
}

/** What is left of an SDP once everything a data-channel peer does not read is dropped. */
export interface SdpEssentials {
  readonly iceUfrag: string
  readonly icePwd: string
  /** The DTLS certificate's SHA-256 fingerprint, 32 bytes. */
  readonly fingerprint: Uint8Array
  readonly setup: 'actpass' | 'active' | 'passive'
  readonly sctpPort: number
  /** 0 means "no limit announced". */
  readonly maxMessageSize: number
  readonly candidates: readonly EssentialCandidate[]
}

/** What an ICE ufrag or password may hold (RFC 8839 `ice-char`, 1..255 of them); a code carrying anything else is refused. */
export const ICE_CHARS = /^[A-Za-z0-9+/]{1,255}$/

function malformed(message: string): WebRtcError {
  return new WebRtcError(`SDP: ${message}`, { code: 'SDP_MALFORMED' })
}

/**
 * Extracts the essentials from an SDP (offer or answer) with one `application` m-section.
 * Throws `WebRtcError` (code `SDP_MALFORMED`) when something required is missing.
 */
export function sdpToEssentials(sdp: string): SdpEssentials {
  let iceUfrag: string | undefined
  let icePwd: string | undefined
  let fingerprint: Uint8Array | undefined
  let setup: SdpEssentials['setup'] | undefined
  let sctpPort = 5000
  let maxMessageSize = 65536
  const candidates: EssentialCandidate[] = []
  for (const raw of sdp.split(/\r?\n/)) {
    const line = raw.trim()
    if (!line.startsWith('a=')) continue
    const colon = line.indexOf(':')
    const key = colon < 0 ? line.slice(2) : line.slice(2, colon)
    const value = colon < 0 ? '' : line.slice(colon + 1)
    switch (key) {
      case 'ice-ufrag':
        iceUfrag = value
        break
      case 'ice-pwd':
        icePwd = value
        break
      case 'fingerprint': {
        const [alg, hex] = value.split(' ')
        if (alg?.toLowerCase() !== 'sha-256' || hex === undefined) throw malformed('only sha-256 fingerprints are supported')
        fingerprint = parseFingerprint(hex)
        break
      }
      case 'setup':
        if (value !== 'actpass' && value !== 'active' && value !== 'passive') throw malformed(`bad setup role ${value}`)
        setup = value
        break
      case 'sctp-port':
        sctpPort = Number(value)
        break
      case 'max-message-size':
        maxMessageSize = Number(value)
        break
      case 'candidate': {
        const candidate = parseCandidate(value)
        if (candidate !== undefined) candidates.push(candidate)
        break
      }
    }
  }
  if (iceUfrag === undefined || !ICE_CHARS.test(iceUfrag)) throw malformed('missing or bad ice-ufrag')
  if (icePwd === undefined || !ICE_CHARS.test(icePwd)) throw malformed('missing or bad ice-pwd')
  if (fingerprint === undefined) throw malformed('missing fingerprint')
  if (setup === undefined) throw malformed('missing setup role')
  if (!Number.isInteger(sctpPort) || sctpPort < 1 || sctpPort > 65535) throw malformed('bad sctp-port')
  if (!Number.isInteger(maxMessageSize) || maxMessageSize < 0 || maxMessageSize > 0xffffffff) {
    throw malformed('bad max-message-size')
  }
  return { iceUfrag, icePwd, fingerprint, setup, sctpPort, maxMessageSize, candidates }
}

function parseFingerprint(hex: string): Uint8Array {
  const parts = hex.split(':')
  if (parts.length !== 32) throw malformed('sha-256 fingerprint must be 32 bytes')
  const out = new Uint8Array(32)
  parts.forEach((part, i) => {
    if (!/^[0-9A-Fa-f]{2}$/.test(part)) throw malformed('bad fingerprint byte')
    out[i] = parseInt(part, 16)
  })
  return out
}

/** Parses `foundation component transport priority address port typ type ...`; other components and mDNS names are skipped. */
function parseCandidate(value: string): EssentialCandidate | undefined {
  const f = value.split(/\s+/)
  if (f.length < 8 || f[6] !== 'typ') return undefined
  if (f[1] !== '1') return undefined
  const protocol = f[2]?.toLowerCase()
  if (protocol !== 'udp' && protocol !== 'tcp') return undefined
  // Passive TCP candidates only; active ones carry port 9 and cannot be dialled.
  if (protocol === 'tcp' && !f.slice(8).join(' ').includes('tcptype passive')) return undefined
  const type = f[7]
  if (type !== 'host' && type !== 'srflx' && type !== 'prflx' && type !== 'relay') return undefined
  const priority = Number(f[3])
  const address = f[4] ?? ''
  const port = Number(f[5])
  if (!Number.isInteger(priority) || priority < 0 || priority > 0xffffffff) return undefined
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined
  if (parseIpv4(address) === undefined && parseIpv6(address) === undefined) return undefined
  return { type, protocol, address, port, priority }
}

/**
 * Rebuilds a data-channel SDP (one bundled `application` m-section, mid 0) from the essentials.
 * The result is accepted by werift and by browsers' `setRemoteDescription`.
 */
export function essentialsToSdp(e: SdpEssentials, sessionId: string): string {
  const lines = [
    'v=0',
    `o=- ${sessionId} 0 IN IP4 0.0.0.0`,
    's=-',
    't=0 0',
    'a=group:BUNDLE 0',
    'a=msid-semantic:WMS *',
    'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
    'c=IN IP4 0.0.0.0',
  ]
  e.candidates.forEach((c, i) => {
    const tcp = c.protocol === 'tcp' ? ' tcptype passive' : ''
    lines.push(`a=candidate:${i + 1} 1 ${c.protocol} ${c.priority} ${c.address} ${c.port} typ ${c.type}${tcp}`)
  })
  lines.push(
    'a=end-of-candidates',
    `a=ice-ufrag:${e.iceUfrag}`,
    `a=ice-pwd:${e.icePwd}`,
    `a=fingerprint:sha-256 ${formatFingerprint(e.fingerprint)}`,
    `a=setup:${e.setup}`,
    'a=mid:0',
    `a=sctp-port:${e.sctpPort}`,
  )
  if (e.maxMessageSize > 0) lines.push(`a=max-message-size:${e.maxMessageSize}`)
  return lines.join('\r\n') + '\r\n'
}

/** `AB:CD:...` upper-case hex, as SDP writes fingerprints. */
export function formatFingerprint(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':')
}

/** Dotted quad → 4 bytes, or undefined. */
export function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split('.')
  if (parts.length !== 4) return undefined
  const out = new Uint8Array(4)
  for (let i = 0; i < 4; i++) {
    const part = parts[i] as string
    if (!/^\d{1,3}$/.test(part)) return undefined
    const n = Number(part)
    if (n > 255) return undefined
    out[i] = n
  }
  return out
}

/** IPv6 text (with `::`, without zone or embedded IPv4) → 16 bytes, or undefined. */
export function parseIpv6(text: string): Uint8Array | undefined {
  if (!/^[0-9A-Fa-f:]{2,39}$/.test(text)) return undefined
  const halves = text.split('::')
  if (halves.length > 2) return undefined
  const head = halves[0] === '' ? [] : (halves[0] as string).split(':')
  const tail = halves.length === 2 ? (halves[1] === '' ? [] : (halves[1] as string).split(':')) : []
  const groups = halves.length === 2 ? [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail] : head
  if (groups.length !== 8 || (halves.length === 2 && head.length + tail.length > 7)) return undefined
  const out = new Uint8Array(16)
  for (let i = 0; i < 8; i++) {
    const g = groups[i] as string
    if (!/^[0-9A-Fa-f]{1,4}$/.test(g)) return undefined
    const n = parseInt(g, 16)
    out[i * 2] = n >> 8
    out[i * 2 + 1] = n & 0xff
  }
  return out
}

/** 4 or 16 bytes → canonical address text. */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.')
  const groups: string[] = []
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] as number) << 8) | (bytes[i + 1] as number)).toString(16))
  // Compress the longest run of zero groups (RFC 5952).
  let best = -1
  let bestLen = 0
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === '0') j++
    if (j - i > bestLen && j - i > 1) {
      best = i
      bestLen = j - i
    }
    i = j
  }
  if (best < 0) return groups.join(':')
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`
}

/**
 * Device identities and member lists for the WebRTC tests.
 */
import type { DeviceIdentity } from '../../src/core/crypto/identity.js'
import { generateIdentity } from '../../src/core/crypto/identity.js'
import type { DeviceId } from '../../src/core/ids.js'

export const testSigner = (): DeviceIdentity => generateIdentity()

export function membersOf(...identities: DeviceIdentity[]): (id: DeviceId) => Uint8Array | undefined {
  const map = new Map(identities.map((s) => [s.deviceId as string, s.publicKey]))
  return (id) => map.get(id)
}

/** A werift offer SDP as gathered on a host with loopback, one IPv4 and one IPv6 address. */
export const SAMPLE_OFFER_SDP = [
  'v=0',
  'o=- 23998015 0 IN IP4 0.0.0.0',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0',
  'a=extmap-allow-mixed',
  'a=msid-semantic:WMS *',
  'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
  'c=IN IP4 0.0.0.0',
  'a=candidate:626da4e5384a0ce2d0d93678a 1 udp 2116026367 127.0.0.1 38668 typ host generation 0 ufrag 8e2f',
  'a=candidate:32b1715da3b0ef8ba684454eb 1 udp 2116026367 192.0.2.2 51637 typ host generation 0 ufrag 8e2f',
  'a=candidate:9c29a2bc887618212a1623bfa 1 udp 2116026367 fd00::2 41720 typ host generation 0 ufrag 8e2f',
  'a=candidate:aa29a2bc887618212a1623bfa 1 udp 1677729535 203.0.113.7 40001 typ srflx raddr 192.0.2.2 rport 51637 generation 0 ufrag 8e2f',
  'a=end-of-candidates',
  'a=ice-ufrag:8e2f',
  'a=ice-pwd:436beaa5c936a41b05e8ed',
  'a=ice-options:trickle',
  'a=fingerprint:sha-256 7D:C9:A5:AE:DB:A7:66:EE:97:0A:73:7A:C7:57:D2:99:DA:75:22:C1:28:4D:51:43:41:89:B4:E8:4E:FC:5B:41',
  'a=setup:actpass',
  'a=mid:0',
  'a=sctp-port:5000',
  'a=max-message-size:65536',
  '',
].join('\r\n')

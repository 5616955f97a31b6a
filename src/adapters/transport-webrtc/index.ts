/**
 * WebRTC transport (werift): serverless offer/answer codes, a secure channel inside one data
 * channel, and an automerge-repo NetworkAdapter on top. See docs/protocol/webrtc.md.
 */
export { createOffer, answerOffer, memberAuthorizer } from './signalling.js'
export type { PendingOffer, PendingAnswer, WebRtcPeerOptions } from './signalling.js'
export type { WebRtcConnection, CandidateInfo } from './connection.js'
export { WebRtcNetworkAdapter } from './network-adapter.js'
export type { WebRtcNetworkAdapterOptions } from './network-adapter.js'
export type { DocSummary, PeerSummaryInfo, LinkAdapterEvents } from '../../core/link/index.js'
export type { PeerNetworkOptions } from './peer.js'
export { parseIceServer } from '../../core/webrtc/ice-server.js'
export type { IceServer } from '../../core/webrtc/ice-server.js'
export { createNonceLedger, parseSignalCode, encodeSignalCode, SIGNAL_CODE_PREFIX } from '../../core/webrtc/signal.js'
export type { NonceLedger, SignalCode } from '../../core/webrtc/signal.js'

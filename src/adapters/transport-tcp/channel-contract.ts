/**
 * The secure channel as the TCP transport uses it (core/crypto/channel.ts: Noise XX bound to the
 * device keys). The transport only moves frames; the channel decides who the peer is, whether it
 * may sync ('member'), may only pair ('pairing') or gets nothing ('refuse' → the handshake throws
 * HandshakeError and the socket is destroyed).
 */
import type { DeviceId } from '../../core/ids.js'
import type { HandshakeIO, HandshakeOptions, PeerAuthorization, SecureSession } from '../../core/crypto/channel.js'

export type { HandshakeOptions, SecureSession }
export type Authorization = PeerAuthorization
export type ChannelIo = HandshakeIO

/** The remote as the handshake proved it, handed to `authorize`. */
export interface RemoteDevice {
  deviceId: DeviceId
  publicKey: Uint8Array
}

export type PerformHandshake = (io: ChannelIo, options: HandshakeOptions) => Promise<SecureSession>

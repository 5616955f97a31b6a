export { TcpNetworkAdapter } from './tcp-network-adapter.js'
export type {
  TcpNetworkAdapterOptions,
  DialOptions,
  TcpAdapterEvents,
  DeviceTraffic,
  PairingConnection,
  TimeoutTimers,
} from './types.js'
export type { Authorization, ChannelIo, HandshakeOptions, PerformHandshake, RemoteDevice, SecureSession } from './channel-contract.js'
export { FrameDecoder, encodeFrame, FRAME_VERSION, FRAME_HEADER_BYTES, DEFAULT_MAX_FRAME_BYTES } from './frames.js'
export type { DocSummary, PeerSummaryInfo } from '../../core/link/index.js'

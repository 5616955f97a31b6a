/**
 * The package's entry point (`import { createOrbitNode } from 'orbit-sync'`, see package.json
 * `exports` and docs/architecture.md, "Embedding"): the composition root, the API every command
 * uses, and the engine's vocabulary an app needs to read the sync store.
 */
export { createOrbitNode, type OrbitNode, type OrbitNodeOptions } from './orbit-node.js'
export type { DeviceRow, InviteInfo, OrbitApi, PeerRow, QrImportOutcome, WorkspaceApi } from './api.js'
export { initDevice, openDevice, type InitDeviceOptions, type InitResult, type OrbitDevice } from './device.js'
export { joinWorkspace, type JoinOptions, type JoinResult } from './join.js'
export { LanTier, type LanTierOptions } from './tiers/lan-tier.js'
export { WebRtcTier, type WebRtcTierOptions } from './tiers/webrtc-tier.js'
export { QrTier, bundleFromImages, bundleImages, type QrTierOptions } from './tiers/qr-tier.js'
export * from '../../core/engine/index.js'
export { OrbitError, ValidationError, StoreError, WireError, PairingError, QrError, WebRtcError } from '../../core/errors.js'
export type { SyncStore, SyncStoreState } from '../../core/sync/store.js'
export type { SyncMethod, SyncSession, SyncStatus, DeviceInfo } from '../../core/sync/types.js'
export type { Contact, Organization } from '../../core/model/types.js'

/**
 * The link layer: one versioned envelope above the secure channel, carried unchanged by every
 * live tier (docs/protocol/link.md). A transport supplies a {@link BytePipe}; a
 * {@link LinkNetworkAdapter} does the rest.
 */
export {
  LINK_VERSION,
  SUPPORTED_LINK_VERSIONS,
  EnvelopeKind,
  KIND_NAMES,
  IMPLEMENTED_KINDS,
  ENVELOPE_HEADER_BYTES,
  MAX_ENVELOPE_BYTES,
  MAX_HELLO_BYTES,
  MAX_CONTROL_BYTES,
  MAX_SIGNAL_BYTES,
  MAX_BLOB_ENVELOPE_BYTES,
  MAX_RELAY_BODY_BYTES,
  MAX_ROUTES,
  SIGNAL_VERSION,
  MAX_SUMMARY_DOCUMENTS,
  MAX_SUMMARY_HEADS,
  MAX_RETRY_AFTER_MS,
  encodeEnvelope,
  decodeEnvelope,
  encodeHello,
  decodeHello,
  encodeSync,
  decodeSync,
  encodeControl,
  decodeControl,
  encodeSignal,
  decodeSignal,
  encodeBlob,
  decodeBlob,
  checkSummary,
  negotiateVersion,
} from './envelope.js'
export type { DocSummary, Envelope, Hello, Control, Signal, EnvelopeLimits, EnvelopeKindNumber } from './envelope.js'
export { Link } from './link.js'
export type { LinkAuthorize, LinkOptions, LinkHandler } from './link.js'
export { LinkNetworkAdapter } from './link-adapter.js'
export type { LinkAdapterEvents, LinkAdapterOptions, LinkTimers, PeerSummaryInfo, DialledBy, SignalPort } from './link-adapter.js'
export type { BlobPort, BlobMessage } from '../blobs/protocol.js'
export { SignalRelay, RELAY_RATE } from './signal-relay.js'
export type { SignalRelayOptions, RelayDelivery } from './signal-relay.js'
export type { BytePipe } from './pipe.js'
export { InboundBudget, DEFAULT_INBOUND_BUDGET_BYTES, DEFAULT_RESERVE_FRAMES, DEFAULT_SLOT_HOLD_MS } from './inbound-budget.js'
export type { InboundBudgetOptions, InboundBudgetStats, BudgetHolder } from './inbound-budget.js'
export { LinkCooldown, DEFAULT_FLOOD_COOLDOWN_MS, MAX_FLOOD_COOLDOWN_MS, MAX_COOLDOWN_DEVICES, COOLDOWN_MEMORY_MS } from './cooldown.js'
export type { LinkCooldownOptions } from './cooldown.js'

/**
 * The engine's core (docs/architecture.md): the membership policy every entry point asks, the
 * tier port, and the tier-neutral session model recorded into the sync store.
 */
export { DocLoader, workspaceDocLoader, type DocSummary, type HeadsSource, type SessionDocuments } from './doc-loader.js'
export { fixedMembership, membershipPolicy, type Admission, type MembershipOptions, type MembershipPolicy, type MembershipSource } from './membership.js'
export { Backoff, backoffCeiling, type BackoffOptions } from './backoff.js'
export {
  Orchestrator,
  type LinkingTier,
  type OrchestratorOptions,
  type OrchestratorTimers,
  type PeerCondition,
  type SkippedTier,
  type SyncPlan,
  type TierOption,
} from './orchestrator.js'
export { sessionRecorder, type RecordedSession, type SessionRecorder } from './session-recorder.js'
export {
  diffTraffic,
  failedReport,
  PeerHeadsWatcher,
  reportSession,
  restrictSharing,
  settleSyncStateSaves,
  SyncReportSchema,
  workspaceDocIds,
  type SyncReport,
  type TrafficSnapshot,
} from './sync-session.js'
export { tierPriority, type Carried, type Carrier, type Reachability, type Tier, type TierResponse, type TierSessionOptions, type UnreachableReason } from './tier.js'

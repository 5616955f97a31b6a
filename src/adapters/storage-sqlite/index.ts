/**
 * The embedded SQLite store: the automerge-repo StorageAdapter, the contact/org listing
 * projection, and device configuration, all in one file opened by {@link openOrbitDatabase}.
 */
export { openOrbitDatabase, type OpenOrbitDatabaseOptions, type OrbitDatabase, type SyncMode } from './database.js'
export { diskFullError, isDiskFull, mapDiskFull } from './disk-full.js'
export { SaveRetry, type StorageHealth, type SaveRetryOptions } from './save-retry.js'
export { ORBIT_APPLICATION_ID, SCHEMA_VERSION } from './schema.js'
export { SqliteStorageAdapter } from './storage-adapter.js'
export { readDocGen } from './doc-gen.js'
export { EntityIndex, type CleanMark, type IndexableEntity, type PageOptions, type ShardSource } from './entity-index.js'
export { ContactIndex, OrgIndex, ORG_SHARD } from './contact-index.js'
export { ConfigStore } from './config-store.js'
export { DocHeadsStore, MAX_RECORDED_HEADS } from './doc-heads.js'
// flushAndRecordHeads: import './record-heads.js' directly (it loads Automerge; this index must not).
export { SyncHistoryStore, SYNC_HISTORY_MAX } from './sync-history.js'
export { PeerHeadsStore } from './peer-heads.js'
export { BlobStateStore, isBlobReferenced, referencedBlobs } from './blob-state.js'

/**
 * The SQLite schema of an Orbit store, as numbered migrations.
 *
 * Byte-level description: docs/protocol/storage.md. Bump {@link SCHEMA_VERSION} and append a
 * migration; never edit a released one (stores in the field already ran it).
 */

/**
 * `PRAGMA application_id` of every Orbit store: the ASCII bytes `ORBT` as a big-endian i32.
 * SQLite writes it at byte offset 68 of the file header, so `file(1)` and we can tell our stores
 * from other applications' databases without reading any table.
 */
export const ORBIT_APPLICATION_ID = 0x4f524254

/** `PRAGMA user_version` written by the newest migration below. */
export const SCHEMA_VERSION = 4

/** Tables a store at {@link SCHEMA_VERSION} must have; a store missing one is not ours. */
export const REQUIRED_TABLES = ['chunks', 'doc_gen', 'config', 'entity_index', 'index_state', 'doc_heads', 'blob_state'] as const

/** Migration `i` takes a store from user_version `i` to `i + 1`. */
export const MIGRATIONS: readonly string[] = [
  `
  -- automerge-repo StorageAdapter chunks. key: see docs/protocol/storage.md "Key encoding".
  -- A rowid table (not WITHOUT ROWID): loadRange returns chunks in insertion order, and an
  -- upsert keeps the row's rowid, so overwriting a key keeps its place.
  CREATE TABLE chunks (
    key  TEXT PRIMARY KEY NOT NULL,
    data BLOB NOT NULL
  );

  -- Bumped in the same transaction as every snapshot/incremental save or remove of a document,
  -- so a projection can tell whether it was built from the document's current storage.
  CREATE TABLE doc_gen (
    doc_id TEXT PRIMARY KEY NOT NULL,
    gen    INTEGER NOT NULL
  ) WITHOUT ROWID;

  -- Device configuration: key -> JSON text.
  CREATE TABLE config (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
  ) WITHOUT ROWID;

  -- A projection of CRM entities (contacts, orgs) for listing without loading Automerge.
  -- A rowid table: the JSON makes rows large, and the listing indexes below then reach a row
  -- by its integer rowid rather than through a second (kind, id) b-tree.
  CREATE TABLE entity_index (
    rid        INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL,
    id         TEXT NOT NULL,
    shard      INTEGER NOT NULL,
    sort_name  TEXT NOT NULL,
    deleted    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    search     TEXT NOT NULL,
    json       TEXT NOT NULL,
    UNIQUE (kind, id)
  );
  CREATE INDEX entity_index_all   ON entity_index (kind, sort_name, id);
  CREATE INDEX entity_index_live  ON entity_index (kind, sort_name, id) WHERE deleted = 0;
  CREATE INDEX entity_index_shard ON entity_index (kind, shard);

  -- Which document generation each projected shard was built from.
  CREATE TABLE index_state (
    kind   TEXT NOT NULL,
    shard  INTEGER NOT NULL,
    doc_id TEXT NOT NULL,
    gen    INTEGER NOT NULL,
    PRIMARY KEY (kind, shard)
  ) WITHOUT ROWID;
  `,
  `
  -- Each document's heads as last flushed, so a sync can tell which documents differ from a
  -- peer's without loading Automerge. A row is valid only while gen equals the document's
  -- doc_gen (0 if absent); a store migrated from version 1 has no rows: every document is unknown.
  CREATE TABLE doc_heads (
    doc_id TEXT PRIMARY KEY NOT NULL,
    gen    INTEGER NOT NULL,
    heads  TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
  `
  -- Every finished sync session of every tier (src/adapters/storage-sqlite/sync-history.ts),
  -- newest = highest seq; bounded to the last SYNC_HISTORY_MAX rows on each insert.
  CREATE TABLE IF NOT EXISTS sync_history (
    seq              INTEGER PRIMARY KEY,
    id               TEXT NOT NULL,
    method           TEXT NOT NULL,
    device_id        TEXT NOT NULL,
    status           TEXT NOT NULL,
    changes_sent     INTEGER NOT NULL,
    changes_received INTEGER NOT NULL,
    bytes_sent       INTEGER NOT NULL,
    bytes_received   INTEGER NOT NULL,
    started_at       INTEGER NOT NULL,
    ended_at         INTEGER NOT NULL,
    duration_ms      INTEGER NOT NULL,
    documents        INTEGER,
    error_name       TEXT,
    error_code       TEXT,
    error_message    TEXT,
    via              TEXT
  );
  CREATE INDEX IF NOT EXISTS sync_history_device ON sync_history (device_id, seq);

  -- What each peer device is known to hold, per document (src/adapters/storage-sqlite/peer-heads.ts):
  -- its heads, this device's heads when that was learnt (NULL: not known), whether this device then
  -- held every one of the peer's heads (1/0, NULL: not known), which tier, when.
  CREATE TABLE IF NOT EXISTS peer_heads (
    device_id TEXT NOT NULL,
    doc_id    TEXT NOT NULL,
    heads     TEXT NOT NULL,
    ours      TEXT,
    contained INTEGER,
    via       TEXT NOT NULL,
    at        INTEGER NOT NULL,
    PRIMARY KEY (device_id, doc_id)
  ) WITHOUT ROWID;

  -- Heads the QR tier kept in config (\`qr.peerHeads.<deviceId>\` -> { docId: heads }) move here once.
  INSERT OR IGNORE INTO peer_heads (device_id, doc_id, heads, ours, contained, via, at)
    SELECT substr(c.key, length('qr.peerHeads.') + 1), j.key, j.value, NULL, NULL, 'qr-code', 0
    FROM config c, json_each(c.value) j
    WHERE substr(c.key, 1, 13) = 'qr.peerHeads.' AND json_valid(c.value) AND json_type(c.value) = 'object' AND j.type = 'array';
  DELETE FROM config WHERE substr(key, 1, 13) = 'qr.peerHeads.';
  `,  `
  -- The blob each projected entity references (its logo), read from the JSON, so "which hashes
  -- does the workspace reference" is one index scan without Automerge
  -- (src/adapters/storage-sqlite/blob-state.ts). Tombstoned rows keep their logo: a restored
  -- record must find it. VIRTUAL: computed on read, so the migration rewrites no row.
  ALTER TABLE entity_index ADD COLUMN logo TEXT GENERATED ALWAYS AS (json_extract(json, '$.logo')) VIRTUAL;
  CREATE INDEX IF NOT EXISTS entity_index_logo ON entity_index (logo) WHERE logo IS NOT NULL;

  -- When each blob this device holds was first seen unreferenced (docs/protocol/blobs.md,
  -- "Garbage collection"); a row is dropped when the blob is referenced again or collected.
  CREATE TABLE IF NOT EXISTS blob_state (
    hash               TEXT PRIMARY KEY NOT NULL,
    unreferenced_since INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
]

/**
 * A document's content chunks (`[doc, "snapshot" | "incremental", hash]`, docs/protocol/storage.md,
 * "Document chunks"), for the writers that store them without automerge-repo: the no-daemon
 * contact add (src/apps/node/quick-add.ts) and the compaction at close (compact.ts). Each function
 * runs its statements on the caller's connection; call the writing ones inside a transaction.
 */
import { createHash } from 'node:crypto'
import type { OrbitDatabase } from './database.js'
import { bumpDocGen } from './doc-gen.js'
import { encodeKey, prefixRange } from './key-codec.js'

type Kind = 'snapshot' | 'incremental'

/** automerge-repo's `keyHash`, an incremental chunk's name: the lower-case hex SHA-256 of its bytes. */
export function chunkHash(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** automerge-repo's `headsHash`, a snapshot's name: `chunkHash` of the heads' UTF-8, concatenated in their order. */
export function headsHash(heads: readonly string[]): string {
  return chunkHash(Buffer.from(heads.join(''), 'utf8'))
}

/**
 * automerge-repo's compaction rule (StorageSubsystem.saveDoc): compact when the snapshots are
 * under 1 KiB or the incrementals are at least as large as them.
 */
export function compactionDue(snapshotBytes: number, incrementalBytes: number): boolean {
  return snapshotBytes < 1024 || incrementalBytes >= snapshotBytes
}

/** The bytes of `documentId`'s snapshots, then of its incrementals, each in rowid order: what automerge-repo loads, in its order. */
export function contentChunks(db: OrbitDatabase, documentId: string): { snapshots: Uint8Array[]; incrementals: Uint8Array[] } {
  const read = db.sqlite.prepare<[string, string], { data: Uint8Array }>(`SELECT data FROM chunks WHERE key >= ? AND key < ? ORDER BY rowid`)
  const of = (kind: Kind) => read.all(...bounds(documentId, kind)).map((r) => r.data)
  return { snapshots: of('snapshot'), incrementals: of('incremental') }
}

/** How many bytes `documentId`'s snapshots and incrementals hold, and how many incrementals there are (no chunk is read). */
export function contentSizes(db: OrbitDatabase, documentId: string): { snapshotBytes: number; incrementalBytes: number; incrementals: number } {
  const sum = db.sqlite.prepare<[string, string], { n: number; bytes: number }>(`SELECT count(*) AS n, coalesce(sum(length(data)), 0) AS bytes FROM chunks WHERE key >= ? AND key < ?`)
  const snapshots = sum.get(...bounds(documentId, 'snapshot'))
  const incrementals = sum.get(...bounds(documentId, 'incremental'))
  return { snapshotBytes: snapshots?.bytes ?? 0, incrementalBytes: incrementals?.bytes ?? 0, incrementals: incrementals?.n ?? 0 }
}

/** Replaces every content chunk of `documentId` with one snapshot (`bytes`, named by `heads`), bumping its generation. */
export function replaceWithSnapshot(db: OrbitDatabase, documentId: string, heads: readonly string[], bytes: Uint8Array): void {
  const remove = db.sqlite.prepare<[string, string]>(`DELETE FROM chunks WHERE key >= ? AND key < ?`)
  remove.run(...bounds(documentId, 'snapshot'))
  remove.run(...bounds(documentId, 'incremental'))
  put(db, [documentId, 'snapshot', headsHash(heads)], bytes)
  bumpDocGen(db, documentId)
}

/** Adds `bytes` as an incremental chunk of `documentId`, bumping its generation. */
export function addIncremental(db: OrbitDatabase, documentId: string, bytes: Uint8Array): void {
  put(db, [documentId, 'incremental', chunkHash(bytes)], bytes)
  bumpDocGen(db, documentId)
}

function put(db: OrbitDatabase, key: string[], bytes: Uint8Array): void {
  // A Buffer view of the bytes (no copy), as the storage adapter binds them.
  const data = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  db.sqlite.prepare<[string, Uint8Array]>(`INSERT INTO chunks (key, data) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET data = excluded.data`).run(encodeKey(key), data)
}

function bounds(documentId: string, kind: Kind): [string, string] {
  const { lower, upper } = prefixRange([documentId, kind])
  return [lower, upper as string]
}

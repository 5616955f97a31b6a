/**
 * The hashes automerge-repo names document chunks by (docs/protocol/storage.md, "Document
 * chunks"), for the writers that store chunks without it (src/apps/node/quick-add.ts, compact.ts).
 */
import { createHash } from 'node:crypto'

/** automerge-repo's `keyHash`, an incremental chunk's name: the lower-case hex SHA-256 of its bytes. */
export function chunkHash(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** automerge-repo's `headsHash`, a snapshot's name: `chunkHash` of the heads' UTF-8, concatenated in their order. */
export function headsHash(heads: readonly string[]): string {
  return chunkHash(Buffer.from(heads.join(''), 'utf8'))
}

/**
 * `orbit contact add` with no daemon, without automerge-repo (docs/architecture.md, "One code
 * path per command"): the write a user runs most, done with what it needs and nothing else.
 *
 * The full path opens the device (a Repo, the root document, the projection) and loads the new
 * contact's shard through automerge-repo, whose `loadIncremental` into an empty document builds
 * the whole shard object from patches: about 0.4 s of a 1.1–1.3 s command on a 10,000-contact
 * data dir. Here the shard is read from SQLite and `Automerge.load`ed (materialized directly), the
 * change is made, and in ONE SQLite transaction:
 * - the change is stored as automerge-repo stores it (docs/protocol/storage.md): a new
 *   `incremental` chunk of `saveSince(heads before)`, or, where automerge-repo would compact
 *   (the snapshot under 1 KiB or the incrementals as large as it), one `snapshot` replacing every
 *   chunk; the shard's generation (`doc_gen`) is bumped with it;
 * - the contact's listing row is written, and the shard marked clean at the new generation if it
 *   was clean before (its rows reflected every stored change, and now reflect this one too);
 * - the shard's `doc_heads` row records the new heads, as a flush of the full path would.
 *
 * A crash before the commit leaves the store as it was; after it, the change, its row and its
 * heads are all there. The data dir's writer lock is held throughout (src/apps/node/writer-lock.ts),
 * so this writer and the full path's serialise exactly as two full-path writers do.
 *
 * It handles only the plain case and hands anything else back (resolves undefined) before writing:
 * input the validator refuses, an `--org` or a logo, a store or identity the full open would
 * refuse or that needs a migration, a shard not stored here, or a daemon that started while it
 * waited for the lock. The full path then runs and answers in its own words. Only a writer lock
 * that stayed taken (StoreError `WRITER_BUSY`, after the bounded wait) is thrown: the full path
 * would wait for it again and say the same.
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import * as A from '@automerge/automerge'
import { newContactId } from '../../core/ids.js'
import { buildContact, readContact } from '../../core/model/records.js'
import { shardOf } from '../../core/model/shard.js'
import type { Contact, ContactShardDoc } from '../../core/model/types.js'
import { parseContactInput, type ContactInput } from '../../core/model/validate.js'
import { ConfigStore, ContactIndex, DocHeadsStore, MAX_RECORDED_HEADS, openOrbitDatabase, readDocGen, type OrbitDatabase } from '../../adapters/storage-sqlite/index.js'
import { addIncremental, compactionDue, contentChunks, replaceWithSnapshot } from '../../adapters/storage-sqlite/doc-chunks.js'
import { identityPath } from '../../adapters/identity-fs/path.js'
import { CONFIG_KEYS, storePath } from './data-dir.js'
import { takeWriterLock } from './writer-lock.js'

/** How {@link quickAddContact} may stop waiting for the writer lock. */
export interface QuickAddOptions {
  /** Asked while another writer holds the lock: true hands the command back (a daemon started). */
  yieldTo?: () => boolean
  /** The clock for `createdAt`/`updatedAt` (tests). */
  now?: () => number
}

/**
 * Adds one contact to the device in `dataDir` without a daemon and without automerge-repo; see the
 * module comment. Resolves with the contact once it is durable, or undefined when the full path
 * must run the command (nothing was written).
 * @throws StoreError `WRITER_BUSY` (and the lock's other refusals) when the writer lock could not be taken.
 */
export async function quickAddContact(dataDir: string, raw: unknown, options: QuickAddOptions = {}): Promise<Contact | undefined> {
  let input: ContactInput
  try {
    input = parseContactInput(raw)
  } catch {
    return undefined // the full path reports the refusal
  }
  if (input.orgId !== undefined || input.logo !== undefined) return undefined
  const file = storePath(dataDir)
  if (!existsSync(file)) return undefined
  // As the full path does: refuse what it would refuse (read-only: a store that needs a migration
  // is refused here and migrated there) before the writer lock's file is created.
  try {
    openOrbitDatabase(file, { create: false, readonly: true }).close()
  } catch {
    return undefined
  }
  let unlock: () => void
  try {
    unlock = await takeWriterLock(dataDir, options.yieldTo === undefined ? {} : { yieldTo: options.yieldTo })
  } catch (error) {
    // A daemon started: the full path goes through it. Anything else (WRITER_BUSY after the
    // bounded wait) is the full path's answer too, and waiting for it a second time helps nobody.
    if ((error as { code?: unknown }).code === 'DAEMON_STARTED') return undefined
    throw error
  }
  let db: OrbitDatabase | undefined
  try {
    try {
      db = openOrbitDatabase(file, { create: false })
    } catch {
      return undefined
    }
    const layout = readLayout(new ConfigStore(db), dataDir)
    if (layout === undefined) return undefined
    const contact = buildContact(newContactId(), input, (options.now ?? Date.now)())
    const shard = shardOf(contact.id, layout.shardDocIds.length)
    const docId = layout.shardDocIds[shard] as string
    try {
      return writeContact(db, layout.workspaceId, shard, docId, contact)
    } catch {
      // Rolled back (a full disk, a chunk Automerge cannot load): the full path meets it and says so.
      return undefined
    }
  } finally {
    db?.close()
    unlock()
  }
}

interface Layout {
  workspaceId: string
  shardDocIds: string[]
}

/**
 * The shard layout, when the store and its identity are what the full open accepts: the identity
 * file present, private and naming this store's device (its key is not needed to write a contact,
 * so it is not decoded; `orbit serve` and every sync check it whole).
 */
function readLayout(config: ConfigStore, dataDir: string): Layout | undefined {
  const deviceId = config.get(CONFIG_KEYS.deviceId)
  const workspaceId = config.get(CONFIG_KEYS.workspaceId)
  const shardDocIds = config.get(CONFIG_KEYS.shardDocIds)
  if (typeof deviceId !== 'string' || typeof workspaceId !== 'string') return undefined
  if (!Array.isArray(shardDocIds) || shardDocIds.length === 0 || !shardDocIds.every((id) => typeof id === 'string')) return undefined
  try {
    const path = identityPath(dataDir)
    if (process.platform !== 'win32' && (statSync(path).mode & 0o077) !== 0) return undefined
    const key = JSON.parse(readFileSync(path, 'utf8')) as { deviceId?: unknown }
    if (key.deviceId !== deviceId) return undefined
  } catch {
    return undefined
  }
  return { workspaceId, shardDocIds: shardDocIds as string[] }
}

/** The change, its row and its heads in one transaction (module comment); undefined if the shard is not here. */
function writeContact(db: OrbitDatabase, workspaceId: string, shard: number, docId: string, contact: Contact): Contact | undefined {
  const contacts = new ContactIndex(db)
  return db.transaction(() => {
    const { snapshots, incrementals } = contentChunks(db, docId)
    if (snapshots.length + incrementals.length === 0) return undefined
    const doc = A.load<ContactShardDoc>(concat([...snapshots, ...incrementals]))
    if (doc.type !== 'orbit-contacts' || doc.workspaceId !== workspaceId || doc.shard !== shard) return undefined
    const wasClean = contacts.isClean(shard, docId)
    const before = A.getHeads(doc)
    const after = A.change(doc, (d) => {
      d.contacts[contact.id] = contact
    })
    const heads = A.getHeads(after)
    // As automerge-repo saves: compact when its rule says so, else what changed since the loaded heads.
    if (compactionDue(bytesOf(snapshots), bytesOf(incrementals))) replaceWithSnapshot(db, docId, heads, A.save(after))
    else addIncremental(db, docId, A.saveSince(after, before))
    const gen = readDocGen(db, docId)
    contacts.upsertMany(shard, [contact], wasClean ? { shard, docId, gen } : undefined)
    if (heads.length <= MAX_RECORDED_HEADS) new DocHeadsStore(db).put(docId, gen, heads)
    return readContact(contact)
  })
}

const bytesOf = (chunks: readonly Uint8Array[]): number => chunks.reduce((n, c) => n + c.length, 0)

function concat(parts: Uint8Array[]): Uint8Array {
  return parts.length === 1 ? (parts[0] as Uint8Array) : Buffer.concat(parts)
}

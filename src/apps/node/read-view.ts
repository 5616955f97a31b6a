/**
 * The read-only fast path: contact and organization listings straight from the SQLite projection,
 * without loading Automerge — as long as the projection is clean. When a shard is stale (a crash
 * between a save and its projection, or a sync by a process that did not project), the full device
 * is opened once (lazily imported), which re-projects the stale shards, and the view reads again.
 */
import { existsSync, statSync } from 'node:fs'
import { StoreError } from '../../core/errors.js'
import type { Contact, Organization } from '../../core/model/types.js'
import {
  ConfigStore,
  ContactIndex,
  ORG_SHARD,
  OrgIndex,
  openOrbitDatabase,
  type OrbitDatabase,
} from '../../adapters/storage-sqlite/index.js'
import { CONFIG_KEYS, storePath } from './data-dir.js'
import { notInitialised, readDeviceConfig, type DeviceConfig } from './device-config.js'

export interface ContactQuery {
  offset: number
  limit: number
  includeDeleted?: boolean
  /** Case-insensitive substring of the name or of an email. */
  query?: string
}

export interface ContactPage {
  total: number
  offset: number
  contacts: Contact[]
}

/** What `orbit status` prints. */
export interface DeviceStatus {
  device: { id: string; name: string }
  workspace: { id: string | undefined; name: string | undefined; rootUrl: string }
  counts: { contacts: number; removedContacts: number; orgs: number; devices: number }
  dataDir: string
  store: { file: string; bytes: number }
}

/** A read-only view of a device's data. Close it when done. */
export interface ReadView {
  readonly dataDir: string
  readonly config: DeviceConfig
  /** Whether reading needed the full (Automerge) open to refresh the projection. */
  readonly refreshed: boolean
  listContacts(query: ContactQuery): ContactPage
  /** Live or removed contact, or undefined. */
  getContact(id: string): Contact | undefined
  listOrgs(): Organization[]
  status(): DeviceStatus
  close(): void
}

/**
 * @throws StoreError `NOT_INITIALISED` (saying what to run), `CORRUPT_STORE`, `FOREIGN_STORE`, ...
 *   — nothing is written in any of these cases.
 */
export async function openReadView(dataDir: string): Promise<ReadView> {
  const file = storePath(dataDir)
  if (!existsSync(file)) throw notInitialised(dataDir)
  const first = tryOpen(file, dataDir, false)
  if (first !== 'stale') return first
  // A running `orbit serve` is the only writer and keeps the projection up to date itself.
  const { readDaemonLock } = await import('./lock.js')
  if (readDaemonLock(dataDir) !== undefined) return tryOpen(file, dataDir, false, true) as ReadView
  const { openDevice } = await import('./device.js')
  const { createLogger } = await import('../../adapters/log/pino.js')
  const device = await openDevice(dataDir, { logger: createLogger() })
  await device.close()
  const second = tryOpen(file, dataDir, true)
  // Another writer may have made it stale again in between; its rows are still a valid answer.
  return second === 'stale' ? (tryOpen(file, dataDir, true, true) as ReadView) : second
}

function tryOpen(file: string, dataDir: string, refreshed: boolean, acceptStale = false): ReadView | 'stale' {
  let db: OrbitDatabase
  try {
    db = openOrbitDatabase(file, { create: false, readonly: true })
  } catch (err) {
    if (err instanceof StoreError && err.code === 'NOT_INITIALISED') throw notInitialised(dataDir)
    // An older schema needs a migration, which only a read-write open does.
    if (err instanceof StoreError && err.code === 'NEEDS_MIGRATION') return 'stale'
    throw err
  }
  try {
    const config = new ConfigStore(db)
    const conf = readDeviceConfig(config, dataDir)
    const contacts = new ContactIndex(db)
    const orgs = new OrgIndex(db)
    if (!acceptStale && !isClean(config, contacts, orgs)) {
      db.close()
      return 'stale'
    }
    return new View(dataDir, file, conf, refreshed, db, config, contacts, orgs)
  } catch (err) {
    db.close()
    throw err
  }
}

function isClean(config: ConfigStore, contacts: ContactIndex, orgs: OrgIndex): boolean {
  const rootDocId = config.get(CONFIG_KEYS.rootDocId)
  const shardDocIds = config.get(CONFIG_KEYS.shardDocIds)
  if (typeof rootDocId !== 'string' || !Array.isArray(shardDocIds) || shardDocIds.length === 0) return false
  if (!orgs.isClean(ORG_SHARD, rootDocId)) return false
  return contacts.dirtyShards(shardDocIds.map((docId, shard) => ({ shard, docId: String(docId) }))).length === 0
}

class View implements ReadView {
  #closed = false
  constructor(
    readonly dataDir: string,
    private readonly file: string,
    readonly config: DeviceConfig,
    readonly refreshed: boolean,
    private readonly db: OrbitDatabase,
    private readonly store: ConfigStore,
    private readonly contacts: ContactIndex,
    private readonly orgs: OrgIndex,
  ) {}

  listContacts(q: ContactQuery): ContactPage {
    const filter = { includeDeleted: q.includeDeleted === true, ...(q.query ? { query: q.query } : {}) }
    // One read transaction: the page and its total agree even while a writer commits.
    return this.db.sqlite.transaction(() => ({
      total: this.contacts.count(filter),
      offset: q.offset,
      contacts: this.contacts.page({ ...filter, offset: q.offset, limit: q.limit }),
    }))()
  }

  getContact(id: string): Contact | undefined {
    return this.contacts.get(id)
  }

  listOrgs(): Organization[] {
    return this.orgs.page({ limit: Number.MAX_SAFE_INTEGER })
  }

  status(): DeviceStatus {
    const str = (key: string) => {
      const v = this.store.get(key)
      return typeof v === 'string' ? v : undefined
    }
    const devices = this.store.get(CONFIG_KEYS.deviceCount)
    const live = this.contacts.count({})
    return {
      device: { id: this.config.deviceId, name: this.config.deviceName },
      workspace: { id: str(CONFIG_KEYS.workspaceId), name: str(CONFIG_KEYS.workspaceName), rootUrl: this.config.rootUrl },
      counts: {
        contacts: live,
        removedContacts: this.contacts.count({ includeDeleted: true }) - live,
        orgs: this.orgs.count({}),
        devices: typeof devices === 'number' ? devices : 1,
      },
      dataDir: this.dataDir,
      store: { file: this.file, bytes: sizeOf(this.file) + sizeOf(`${this.file}-wal`) },
    }
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.db.close()
  }
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size
  } catch {
    return 0
  }
}

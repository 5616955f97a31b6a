/**
 * A device opened from its data dir: identity, SQLite store, automerge-repo `Repo`, the CRM
 * workspace, the listing projection, config and blobs — wired together. This module loads
 * Automerge; the CLI imports it lazily, only for commands that write or when the projection is
 * stale.
 */
import { mkdirSync, existsSync } from 'node:fs'
import type * as A from '@automerge/automerge'
import { Repo, type AutomergeUrl, type DocHandle, type DocumentId, type PeerId } from '@automerge/automerge-repo'
import { StoreError } from '../../core/errors.js'
import { toBase64Url } from '../../core/crypto/bytes.js'
import { generateIdentity, type DeviceIdentity } from '../../core/crypto/identity.js'
import type { OrgId, WorkspaceId } from '../../core/ids.js'
import { silentLogger, type Logger } from '../../core/log.js'
import { CrmWorkspace } from '../../core/model/workspace.js'
import type { MemberDevice } from '../../core/model/types.js'
import { FsBlobStore } from '../../adapters/blobstore-fs/index.js'
import { createLogger } from '../../adapters/log/pino.js'
import { loadIdentity, saveIdentity } from '../../adapters/identity-fs/index.js'
import {
  ConfigStore,
  ContactIndex,
  OrgIndex,
  SaveRetry,
  SqliteStorageAdapter,
  isDiskFull,
  openOrbitDatabase,
  type OrbitDatabase,
} from '../../adapters/storage-sqlite/index.js'
import { guardBackgroundSaves } from '../../adapters/storage-sqlite/background-saves.js'
import { compactIfDue } from '../../adapters/storage-sqlite/compact.js'
import { flushAndRecordHeads, flushReady } from '../../adapters/storage-sqlite/record-heads.js'
import { blobsPath, CONFIG_KEYS, storePath } from './data-dir.js'
import { notInitialised, readDeviceConfig } from './device-config.js'
import { docIdOf, IndexProjector } from './projection.js'
import { takeWriterLock, type WriterLockOptions } from './writer-lock.js'

export interface InitDeviceOptions {
  /** This device's display name. */
  name: string
  /** The new workspace's display name. Default `My CRM`. */
  workspaceName?: string
  /** Contact shard documents for the new workspace (default: the model's default). */
  shardCount?: number
  now?: () => number
  logger?: Logger
}

/** What `initDevice` created. */
export interface InitResult {
  dataDir: string
  deviceId: string
  deviceName: string
  workspaceId: WorkspaceId
  workspaceName: string
  rootUrl: AutomergeUrl
}

/**
 * Creates a device in `dataDir`: the directory (0700), a key pair (0600 key file), the SQLite store
 * and a new workspace with this device as its founding member. The config row that marks the data
 * dir as initialised is written last, so a crash half-way leaves a data dir that `init` completes.
 *
 * @throws StoreError `ALREADY_INITIALISED` if the data dir holds a device; the store's refusals
 *   (`FOREIGN_STORE`, `CORRUPT_STORE`, ...) for a file that is not an Orbit store — both untouched.
 */
export async function initDevice(dataDir: string, options: InitDeviceOptions): Promise<InitResult> {
  const now = options.now ?? Date.now
  const file = storePath(dataDir)
  if (existsSync(file)) {
    // Refuse foreign/corrupt files and initialised stores without writing a byte.
    const probe = openForProbe(file)
    try {
      const existing = probe && readDeviceConfig(new ConfigStore(probe), dataDir, { allowMissing: true })
      if (existing !== undefined) {
        throw new StoreError(
          `Orbit is already initialised in ${dataDir} (device "${existing.deviceName}", ${existing.deviceId}). ` +
            'Use `--data DIR` to create another device elsewhere.',
          { code: 'ALREADY_INITIALISED' },
        )
      }
    } finally {
      probe?.close()
    }
  }
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  } catch (cause) {
    throw new StoreError(`cannot create the data dir ${dataDir}: ${(cause as Error).message}. Choose another with \`--data DIR\`.`, {
      code: 'OPEN_FAILED',
      cause,
    })
  }
  const identity = loadIdentity(dataDir) ?? saveNew(dataDir)
  const db = openOrbitDatabase(file, { create: true })
  const repo = new Repo({ storage: new SqliteStorageAdapter(db), network: [], peerId: identity.deviceId as string as PeerId })
  try {
    const founder: MemberDevice = {
      id: identity.deviceId,
      publicKey: toBase64Url(identity.publicKey),
      name: options.name,
      addedAt: now(),
      addedBy: identity.deviceId,
    }
    const workspace = await CrmWorkspace.create(repo, {
      name: options.workspaceName ?? 'My CRM',
      founder,
      now,
      ...(options.shardCount === undefined ? {} : { shardCount: options.shardCount }),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
    })
    await flushAndRecordHeads(repo, db, [workspace.rootUrl, ...workspace.shardUrls].map(docIdOf))
    const config = new ConfigStore(db)
    const projector = new IndexProjector(db, repo, workspace, new ContactIndex(db), new OrgIndex(db), config, options.logger ?? silentLogger)
    await projector.rebuildDirty()
    db.transaction(() => {
      recordLayout(config, workspace)
      config.set(CONFIG_KEYS.deviceId, identity.deviceId)
      config.set(CONFIG_KEYS.deviceName, options.name)
      config.set(CONFIG_KEYS.initialisedAt, now())
      // Last: its presence is what "initialised" means.
      config.set(CONFIG_KEYS.rootUrl, workspace.rootUrl)
    })
    workspace.close()
    return {
      dataDir,
      deviceId: identity.deviceId,
      deviceName: options.name,
      workspaceId: workspace.workspaceId,
      workspaceName: workspace.name,
      rootUrl: workspace.rootUrl,
    }
  } finally {
    await shutdownRepo(repo)
    db.close()
  }
}

function openStore(file: string, dataDir: string): OrbitDatabase {
  try {
    return openOrbitDatabase(file, { create: false })
  } catch (err) {
    if (err instanceof StoreError && err.code === 'NOT_INITIALISED') throw notInitialised(dataDir)
    throw err
  }
}

/** Opens an existing file read-only to look at it; undefined for an empty (never initialised) store. */
function openForProbe(file: string): OrbitDatabase | undefined {
  try {
    return openOrbitDatabase(file, { create: false, readonly: true })
  } catch (err) {
    if (err instanceof StoreError && (err.code === 'NOT_INITIALISED' || err.code === 'NEEDS_MIGRATION')) return undefined
    throw err
  }
}

/** The document ids the read-only fast path checks for staleness (fixed for a workspace's life). */
export function recordLayout(config: ConfigStore, workspace: CrmWorkspace): void {
  config.set(CONFIG_KEYS.rootDocId, docIdOf(workspace.rootUrl))
  config.set(CONFIG_KEYS.shardDocIds, workspace.shardUrls.map(docIdOf))
}

function saveNew(dataDir: string): DeviceIdentity {
  const identity = generateIdentity()
  saveIdentity(dataDir, identity)
  return identity
}

export interface OpenDeviceOptions {
  now?: () => number
  logger?: Logger
}

/** {@link withDevice}'s options: the device's, and how its wait for the writer lock may end. */
export interface WithDeviceOptions extends OpenDeviceOptions {
  /** See {@link WriterLockOptions.yieldTo}. */
  yieldTo?: () => boolean
}

/** An open device. Call {@link OrbitDevice.close} when done (idempotent). */
export interface OrbitDevice {
  readonly dataDir: string
  readonly identity: DeviceIdentity
  readonly deviceName: string
  readonly db: OrbitDatabase
  /** The device's Repo; its peer id is the device id, so transports can bind peer ids strictly. */
  readonly repo: Repo
  readonly workspace: CrmWorkspace
  readonly index: ContactIndex
  readonly orgIndex: OrgIndex
  readonly config: ConfigStore
  readonly blobs: FsBlobStore
  /**
   * Whether the store takes writes, and the loop that retries failed saves (a full disk) until
   * it does: `storage.health` is `{ state: 'ok' }` or `{ state: 'disk-full', since, ... }`;
   * `storage.tryNow()` flushes at once and says whether the store is healthy after.
   */
  readonly storage: Pick<SaveRetry, 'health' | 'tryNow'>
  /** @throws UnknownIdError('organization') unless `id` names a live organization. */
  requireOrg(id: OrgId): Promise<void>
  /**
   * Resolves when every change so far is flushed to SQLite and projected into the listing tables.
   * @throws StoreError `DISK_FULL` when the disk has no space: the changes stay in memory, and
   *   `storage` retries them until they are saved (while the device stays open).
   */
  flush(): Promise<void>
  close(): Promise<void>
}

/**
 * Opens the device in `dataDir`, re-projecting any shard whose listing projection is stale.
 * @throws StoreError `NOT_INITIALISED` (with what to run), or the store's refusals.
 */
export async function openDevice(dataDir: string, options: OpenDeviceOptions = {}): Promise<OrbitDevice> {
  const log = options.logger ?? silentLogger
  const file = storePath(dataDir)
  if (!existsSync(file)) throw notInitialised(dataDir)
  const db = openStore(file, dataDir)
  let repo: Repo | undefined
  try {
    const config = new ConfigStore(db)
    const conf = readDeviceConfig(config, dataDir)
    const identity = loadIdentity(dataDir)
    if (identity === undefined) {
      throw new StoreError(`the device key ${dataDir}/identity.key is missing; restore it from a backup`, { code: 'IDENTITY_MISSING' })
    }
    if (identity.deviceId !== conf.deviceId) {
      throw new StoreError(`the device key in ${dataDir} does not belong to this store`, { code: 'IDENTITY_MISMATCH' })
    }
    repo = new Repo({ storage: new SqliteStorageAdapter(db), network: [], peerId: identity.deviceId as string as PeerId })
    const workspace = await CrmWorkspace.open(repo, conf.rootUrl as AutomergeUrl, {
      ...(options.now === undefined ? {} : { now: options.now }),
      logger: log,
    })
    const index = new ContactIndex(db)
    const orgIndex = new OrgIndex(db)
    if (config.get(CONFIG_KEYS.shardDocIds) === undefined) db.transaction(() => recordLayout(config, workspace))
    // Failed saves (a full disk) are retried until they succeed; see OpenDevice.
    const retry: { failed(error: unknown): void; holding(): boolean } = { failed: () => undefined, holding: () => false }
    const projector = new IndexProjector(
      db,
      repo,
      workspace,
      index,
      orgIndex,
      config,
      log.forComponent('orbit:projection'),
      (error) => retry.failed(error),
      () => retry.holding(),
    )
    projector.start()
    await projector.rebuildDirty()
    const device = new OpenDevice(dataDir, identity, conf.deviceName, db, repo, workspace, index, orgIndex, config, new FsBlobStore(blobsPath(dataDir)), projector, log, options.now)
    retry.failed = (error) => device.saveRetry.failed(error)
    retry.holding = () => device.saveRetry.holding
    return device
  } catch (err) {
    if (repo !== undefined) await shutdownRepo(repo)
    db.close()
    throw err
  }
}

/**
 * Opens the device, runs `fn`, and closes it — flushing first, so that when this resolves the
 * change is durable in SQLite and visible to the listing fast path. Logs to stderr through pino
 * (level `$ORBIT_LOG_LEVEL`, default `warn`) unless a logger is given. It opens the store itself:
 * commands that must go through a running `orbit serve` use the CLI's `withApi` instead
 * (src/apps/cli/api.ts).
 */
export async function withDevice<T>(dataDir: string, fn: (device: OrbitDevice) => Promise<T>, options: WithDeviceOptions = {}): Promise<T> {
  return withOpenDevice(dataDir, fn, { ...options, logger: options.logger ?? createLogger() })
}

/**
 * Opens the device (no daemon check), runs `fn`, flushes what it wrote and closes the device.
 * Holds the data dir's writer lock throughout, so concurrent commands run one after another
 * (src/apps/node/writer-lock.ts; StoreError `WRITER_BUSY` after a bounded wait).
 */
export async function withOpenDevice<T>(dataDir: string, fn: (device: OrbitDevice) => Promise<T>, options: WithDeviceOptions = {}): Promise<T> {
  const { yieldTo, ...open } = options
  const unlock = await lockWriters(dataDir, yieldTo === undefined ? {} : { yieldTo })
  try {
    const device = await openDevice(dataDir, open)
    try {
      const result = await fn(device)
      await device.flush()
      return result
    } finally {
      await device.close()
    }
  } catch (error) {
    throw isDiskFull(error) ? notSavedInProcess(dataDir, error) : error
  } finally {
    unlock()
  }
}

/** A command run in this process met a full disk: what it changed ends with the process. */
function notSavedInProcess(dataDir: string, cause: unknown): StoreError {
  return new StoreError(
    `the disk holding ${dataDir} is full, so this change was not saved. Free some space on it, then run the command again.`,
    { code: 'DISK_FULL', cause },
  )
}

/**
 * Takes the data dir's writer lock (writer-lock.ts), after refusing what `openDevice` would refuse
 * (missing, foreign or corrupt store) without creating the lock file: a refused command leaves the
 * data dir as it was. Returns the function that releases it.
 * @throws StoreError `NOT_INITIALISED` and the store's refusals, `WRITER_BUSY` after the bounded wait,
 *   `DAEMON_STARTED` when `options.yieldTo` ended the wait.
 */
export async function lockWriters(dataDir: string, options: WriterLockOptions = {}): Promise<() => void> {
  const file = storePath(dataDir)
  if (!existsSync(file)) throw notInitialised(dataDir)
  openForProbe(file)?.close()
  return takeWriterLock(dataDir, options)
}

class OpenDevice implements OrbitDevice {
  #closing: Promise<void> | undefined
  /**
   * Retries failed saves (docs/architecture.md, "Disk full"): automerge-repo's background saves
   * report to it instead of rejecting unhandled (background-saves.ts), and so do failed flushes.
   */
  readonly saveRetry: SaveRetry
  readonly #unguard: () => void
  readonly #log: Logger

  constructor(
    readonly dataDir: string,
    readonly identity: DeviceIdentity,
    readonly deviceName: string,
    readonly db: OrbitDatabase,
    readonly repo: Repo,
    readonly workspace: CrmWorkspace,
    readonly index: ContactIndex,
    readonly orgIndex: OrgIndex,
    readonly config: ConfigStore,
    readonly blobs: FsBlobStore,
    private readonly projector: IndexProjector,
    logger: Logger = silentLogger,
    now?: () => number,
  ) {
    this.#log = logger
    this.saveRetry = new SaveRetry({
      // Everything in memory to SQLite, then every shard whose projection a failure left stale.
      flush: async () => {
        await this.flush()
        await this.projector.rebuildDirty()
      },
      logger,
      ...(now === undefined ? {} : { now }),
    })
    this.#unguard = guardBackgroundSaves(
      repo,
      (error) => this.saveRetry.failed(error),
      () => this.saveRetry.holding,
    )
  }

  get storage(): Pick<SaveRetry, 'health' | 'tryNow'> {
    return this.saveRetry
  }

  async requireOrg(id: OrgId): Promise<void> {
    const org = await this.workspace.getOrg(id)
    if (org === undefined) {
      const { UnknownIdError } = await import('../../core/errors.js')
      throw new UnknownIdError('organization', id)
    }
  }

  async flush(): Promise<void> {
    // Flushes the Repo and records the workspace documents' heads (doc_heads), so the next sync
    // can tell which documents differ from a peer's without loading them.
    try {
      await flushAndRecordHeads(this.repo, this.db, [this.workspace.rootUrl, ...this.workspace.shardUrls].map(docIdOf))
    } catch (error) {
      // A failed save has reported itself; a full disk while recording the heads has not.
      if (isDiskFull(error)) this.saveRetry.failed(error)
      throw error
    }
    await this.projector.settle()
  }

  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  /**
   * Compacts the workspace documents automerge-repo left due for compaction (a bulk write's
   * shards; src/adapters/storage-sqlite/compact.ts), now that nothing writes them. Only a loaded
   * document whose recorded heads show it is exactly what is stored. Optional work: a failure (a
   * full disk) rolls back and leaves the chunks as they were.
   */
  #compactStored(): void {
    for (const url of [this.workspace.rootUrl, ...this.workspace.shardUrls]) {
      const handle = this.repo.handles[docIdOf(url) as DocumentId] as DocHandle<unknown> | undefined
      if (handle === undefined || !handle.isReady()) continue
      try {
        compactIfDue(this.db, handle.documentId, handle.doc() as A.Doc<unknown>)
      } catch (error) {
        this.#log.warn('could not compact a document at close; its chunks stay as they were', { documentId: handle.documentId, error: String(error) })
      }
    }
  }

  async #close(): Promise<void> {
    let flushed = false
    try {
      await this.flush()
      flushed = true
    } finally {
      this.saveRetry.stop()
      this.projector.stop()
      this.workspace.close()
      try {
        // After a failed flush (a full disk) this one fails the same way: close the store all the same.
        const shutdown = shutdownRepo(this.repo)
        await (flushed ? shutdown : shutdown.catch(() => undefined))
        if (flushed) this.#compactStored()
      } finally {
        this.#unguard()
        this.db.close()
      }
    }
  }
}

/**
 * `Repo.shutdown()` (disconnect, then flush) with the flush of the ready handles only: its own
 * flush rejects with "DocHandle is not ready" on a handle that is not (see `flushReady`).
 */
async function shutdownRepo(repo: Repo): Promise<void> {
  for (const adapter of repo.networkSubsystem.adapters) adapter.disconnect()
  await flushReady(repo)
}

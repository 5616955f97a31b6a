/**
 * Where a device keeps its data, and the names of the files inside. Light on purpose (no
 * Automerge): the CLI's read-only fast path imports it.
 *
 * ```
 * <data>/              mode 0700
 *   identity.key       the device's private key (0600, written by identity-fs)
 *   orbit.sqlite       Automerge chunks, config, and the SQLite projection of contacts/orgs
 *   blobs/ab/<sha256>  content-addressed images
 * ```
 */
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'

/** File name of the SQLite store inside a data dir. */
export const STORE_FILE = 'orbit.sqlite'
/** Folder of the blob store inside a data dir. */
export const BLOBS_DIR = 'blobs'

/** Config keys written by `initDevice` (JSON values in the store's config table). */
export const CONFIG_KEYS = {
  rootUrl: 'workspace.rootUrl',
  deviceName: 'device.name',
  deviceId: 'device.id',
  initialisedAt: 'device.initialisedAt',
  /** DocumentIds of the root and of the contact shards, in shard order (fixed per workspace). */
  rootDocId: 'workspace.rootDocId',
  shardDocIds: 'workspace.shardDocIds',
  /** Copied from the root document whenever its projection is refreshed. */
  workspaceId: 'workspace.id',
  workspaceName: 'workspace.name',
  deviceCount: 'workspace.deviceCount',
} as const

/**
 * The data dir to use: `flag` (the `--data` option) if given, else `$ORBIT_HOME`, else `~/.orbit`.
 * Relative paths are resolved against `cwd`.
 */
export function resolveDataDir(
  flag: string | undefined,
  env: Record<string, string | undefined> = process.env,
  cwd: string = process.cwd(),
  home: string = homedir(),
): string {
  const chosen = flag ?? (env.ORBIT_HOME !== undefined && env.ORBIT_HOME !== '' ? env.ORBIT_HOME : join(home, '.orbit'))
  return resolve(cwd, chosen)
}

/** Path of the SQLite store of `dataDir`. */
export const storePath = (dataDir: string): string => join(dataDir, STORE_FILE)
/** Path of the blob store of `dataDir`. */
export const blobsPath = (dataDir: string): string => join(dataDir, BLOBS_DIR)

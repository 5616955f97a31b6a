/**
 * Telling "the disk is full" apart from every other write failure (docs/protocol/storage.md §4).
 * SQLite reports ENOSPC on its database, WAL or journal file as `SQLITE_FULL`; the file system
 * adapters see `ENOSPC` (and `EDQUOT` for a quota) themselves.
 */
import { StoreError } from '../../core/errors.js'

/** Whether `error` (a better-sqlite3 or `node:fs` error, or one already mapped) means "no space left". */
export function isDiskFull(error: unknown): boolean {
  if (error instanceof StoreError) return error.code === 'DISK_FULL'
  const code = (error as { code?: unknown } | null)?.code
  return code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT'
}

/**
 * StoreError `DISK_FULL` for a write to `file` that found no space. SQLite rolled the
 * transaction back: the store holds exactly what it held before, and stays readable.
 */
export function diskFullError(file: string, cause: unknown): StoreError {
  return new StoreError(`the disk holding ${file} is full: nothing more can be saved there until some space is freed`, { code: 'DISK_FULL', cause })
}

/** `error` as StoreError `DISK_FULL` when it means "no space left", else unchanged. */
export function mapDiskFull(file: string, error: unknown): unknown {
  return isDiskFull(error) && !(error instanceof StoreError) ? diskFullError(file, error) : error
}

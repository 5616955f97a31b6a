/**
 * Device configuration (key -> JSON), in the same store as the documents.
 */
import type Database from 'better-sqlite3'
import { StoreError } from '../../core/errors.js'
import type { OrbitDatabase } from './database.js'
import { mapDiskFull } from './disk-full.js'

/**
 * A small key/value table for device settings (listen address, workspace root URL, ...).
 * Values are JSON; pass a parser (e.g. a zod schema's `parse`) to `get` to type and check them.
 *
 * @example
 * config.set('rootDocUrl', url)
 * const url = config.get('rootDocUrl', (v) => z.string().parse(v))
 */
export class ConfigStore {
  readonly #get: Database.Statement<[string], { value: string }>
  readonly #set: Database.Statement<[string, string]>
  readonly #delete: Database.Statement<[string]>
  readonly #keys: Database.Statement<[], { key: string }>
  readonly #file: string

  constructor(db: OrbitDatabase) {
    const s = db.sqlite
    this.#file = db.file
    this.#get = s.prepare(`SELECT value FROM config WHERE key = ?`)
    this.#set = s.prepare(`INSERT INTO config (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`)
    this.#delete = s.prepare(`DELETE FROM config WHERE key = ?`)
    this.#keys = s.prepare(`SELECT key FROM config ORDER BY key`)
  }

  /** The value, or undefined when unset. `parse` validates it (its errors propagate). */
  get<T = unknown>(key: string, parse?: (value: unknown) => T): T | undefined {
    const row = this.#get.get(key)
    if (row === undefined) return undefined
    let value: unknown
    try {
      value = JSON.parse(row.value)
    } catch (cause) {
      throw new StoreError(`config value ${key} is not valid JSON`, { code: 'CORRUPT_STORE', cause })
    }
    return parse === undefined ? (value as T) : parse(value)
  }

  /**
   * Store a JSON-serialisable value (`undefined` deletes the key).
   * @throws StoreError `DISK_FULL` when the disk has no space (nothing changed).
   */
  set(key: string, value: unknown): void {
    if (value === undefined) {
      this.delete(key)
      return
    }
    try {
      this.#set.run(key, JSON.stringify(value))
    } catch (error) {
      throw mapDiskFull(this.#file, error)
    }
  }

  /** Remove the key; true if it was set. @throws StoreError `DISK_FULL` as {@link ConfigStore.set}. */
  delete(key: string): boolean {
    try {
      return this.#delete.run(key).changes > 0
    } catch (error) {
      throw mapDiskFull(this.#file, error)
    }
  }

  /** All keys, sorted. */
  keys(): string[] {
    return this.#keys.all().map((r) => r.key)
  }
}

/**
 * The `sync_history` table: every finished sync session of every tier (docs/protocol/storage.md),
 * what `orbit sync history` lists. Written by the session recorder through {@link SyncHistoryPort}.
 */
import type Database from 'better-sqlite3'
import type { SyncHistoryEntry, SyncHistoryPort } from '../../core/engine/session-recorder.js'
import type { SyncMethod } from '../../core/sync/types.js'
import type { OrbitDatabase } from './database.js'

/**
 * How many sessions the history keeps: the newest ones; each insert drops the rows beyond it (in
 * the same transaction), so the table stays at a few MB however long a device runs.
 */
export const SYNC_HISTORY_MAX = 10_000

interface Row {
  id: string
  method: string
  device_id: string
  status: string
  changes_sent: number
  changes_received: number
  bytes_sent: number
  bytes_received: number
  started_at: number
  ended_at: number
  duration_ms: number
  documents: number | null
  error_name: string | null
  error_code: string | null
  error_message: string | null
  via: string | null
}

const METHODS = new Set<string>(['local-network', 'webrtc', 'qr-code'])
const int = (n: number): number => (Number.isFinite(n) ? Math.max(0, Math.round(n)) : 0)

/**
 * @example
 * const history = new SyncHistoryStore(db)
 * history.append(entry)
 * history.list({ deviceId, limit: 20 })   // newest first
 */
export class SyncHistoryStore implements SyncHistoryPort {
  readonly #db: OrbitDatabase
  readonly #insert: Database.Statement<unknown[]>
  readonly #trim: Database.Statement<[number]>
  readonly #all: Database.Statement<[number], Row>
  readonly #byDevice: Database.Statement<[string, number], Row>
  readonly #max: number

  constructor(db: OrbitDatabase, options: { max?: number } = {}) {
    this.#db = db
    this.#max = options.max ?? SYNC_HISTORY_MAX
    const s = db.sqlite
    this.#insert = s.prepare(
      `INSERT INTO sync_history (id, method, device_id, status, changes_sent, changes_received, bytes_sent, bytes_received, started_at, ended_at, duration_ms, documents, error_name, error_code, error_message, via)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    // seq only grows (INTEGER PRIMARY KEY takes max + 1), so the newest N are the highest N.
    this.#trim = s.prepare(`DELETE FROM sync_history WHERE seq <= (SELECT max(seq) FROM sync_history) - ?`)
    this.#all = s.prepare(`SELECT * FROM sync_history ORDER BY seq DESC LIMIT ?`)
    this.#byDevice = s.prepare(`SELECT * FROM sync_history WHERE device_id = ? ORDER BY seq DESC LIMIT ?`)
  }

  /** Appends one session and drops the oldest beyond the bound, in one transaction. */
  append(e: SyncHistoryEntry): void {
    this.#db.transaction(() => {
      this.#insert.run(
        e.id,
        e.method,
        e.deviceId,
        e.status,
        int(e.changesSent),
        int(e.changesReceived),
        int(e.bytesSent),
        int(e.bytesReceived),
        int(e.startedAt),
        int(e.endedAt),
        int(e.durationMs),
        e.documents === undefined ? null : int(e.documents),
        e.error?.name ?? null,
        e.error?.code ?? null,
        e.error?.message ?? null,
        e.via ?? null,
      )
      this.#trim.run(this.#max)
    })
  }

  /** Newest first. */
  list(query: { deviceId?: string; limit: number }): SyncHistoryEntry[] {
    const limit = Math.max(0, Math.floor(query.limit))
    const rows = query.deviceId === undefined ? this.#all.all(limit) : this.#byDevice.all(query.deviceId, limit)
    return rows.flatMap((r) => (METHODS.has(r.method) ? [fromRow(r)] : []))
  }
}

function fromRow(r: Row): SyncHistoryEntry {
  return {
    id: r.id,
    method: r.method as SyncMethod,
    deviceId: r.device_id,
    status: r.status === 'error' ? 'error' : 'completed',
    changesSent: r.changes_sent,
    changesReceived: r.changes_received,
    bytesSent: r.bytes_sent,
    bytesReceived: r.bytes_received,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    durationMs: r.duration_ms,
    ...(r.documents === null ? {} : { documents: r.documents }),
    ...(r.error_name === null ? {} : { error: { name: r.error_name, ...(r.error_code === null ? {} : { code: r.error_code }), message: r.error_message ?? '' } }),
    ...(r.via === null ? {} : { via: r.via }),
  }
}

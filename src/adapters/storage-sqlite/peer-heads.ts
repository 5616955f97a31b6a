/**
 * The `peer_heads` table: what each peer device is known to hold, per document, learnt on any
 * tier (docs/protocol/storage.md). Read by the QR tier (a bundle `--for` a device carries only
 * what it lacks) and by the peer sync state (`orbit peers`, `orbit status`).
 */
import type Database from 'better-sqlite3'
import type { PeerHeadsPort, PeerHeadsRecord } from '../../core/engine/peer-state.js'
import type { SyncMethod } from '../../core/sync/types.js'
import type { OrbitDatabase } from './database.js'

const HEX_HEAD = /^[0-9a-f]{64}$/
const METHODS = new Set<string>(['local-network', 'webrtc', 'qr-code'])

interface Row {
  doc_id: string
  heads: string
  ours: string | null
  contained: number | null
  via: string
  at: number
}

/**
 * @example
 * const peers = new PeerHeadsStore(db)
 * peers.put(deviceId, [{ documentId, heads, ours, via: 'local-network', at: Date.now() }])
 * peers.get(deviceId)
 */
export class PeerHeadsStore implements PeerHeadsPort {
  readonly #db: OrbitDatabase
  readonly #get: Database.Statement<[string], Row>
  readonly #put: Database.Statement<[string, string, string, string | null, number | null, string, number]> | undefined
  readonly #devices: Database.Statement<[], { device_id: string }>

  constructor(db: OrbitDatabase) {
    this.#db = db
    const s = db.sqlite
    this.#get = s.prepare(`SELECT doc_id, heads, ours, contained, via, at FROM peer_heads WHERE device_id = ?`)
    this.#put = db.readonly
      ? undefined
      : s.prepare(
          `INSERT INTO peer_heads (device_id, doc_id, heads, ours, contained, via, at) VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (device_id, doc_id) DO UPDATE SET heads = excluded.heads, ours = excluded.ours, contained = excluded.contained, via = excluded.via, at = excluded.at`,
        )
    this.#devices = s.prepare(`SELECT DISTINCT device_id FROM peer_heads ORDER BY device_id`)
  }

  /** Every document known of `deviceId`; a damaged row is skipped (unknown, not an error). */
  get(deviceId: string): PeerHeadsRecord[] {
    return this.#get.all(deviceId).flatMap((r) => {
      const heads = parseHeads(r.heads)
      if (heads === undefined || !METHODS.has(r.via)) return []
      const ours = r.ours === null ? undefined : parseHeads(r.ours)
      return [{ documentId: r.doc_id, heads, ours, ...(r.contained === null ? {} : { contained: r.contained === 1 }), via: r.via as SyncMethod, at: r.at }]
    })
  }

  /** Upserts in one transaction. */
  put(deviceId: string, records: readonly PeerHeadsRecord[]): void {
    const put = this.#put
    if (put === undefined || records.length === 0) return
    this.#db.transaction(() => {
      for (const r of records) {
        put.run(deviceId, r.documentId, JSON.stringify([...r.heads].sort()), r.ours === undefined ? null : JSON.stringify([...r.ours].sort()), r.contained === undefined ? null : r.contained ? 1 : 0, r.via, Math.round(r.at))
      }
    })
  }

  /** Devices anything is known of. */
  devices(): string[] {
    return this.#devices.all().map((r) => r.device_id)
  }

  /** The peer's heads per document, as the QR tier's `knownHeads` takes them. */
  headsOf(deviceId: string): Record<string, string[]> {
    return Object.fromEntries(this.get(deviceId).map((r) => [r.documentId, r.heads]))
  }
}

function parseHeads(json: string): string[] | undefined {
  try {
    const value: unknown = JSON.parse(json)
    if (!Array.isArray(value) || !value.every((h) => typeof h === 'string' && HEX_HEAD.test(h))) return undefined
    return value as string[]
  } catch {
    return undefined
  }
}

/**
 * The tier-neutral session model (docs/architecture.md, "The engine"): one sync session with one
 * peer, whatever carried it — wait until, for every document of the workspace, the peer's heads
 * (from the Automerge sync protocol) equal ours, or the deadline passes — and its report, the
 * same JSON for every tier (what `orbit sync`, `orbit webrtc` and `orbit qr` print).
 *
 * Used by every tier (LAN, WebRTC, QR), by `orbit pair join` for the first sync, and by the daemon.
 */
import { parseAutomergeUrl, type AutomergeUrl, type DocHandle, type PeerId, type Repo } from '@automerge/automerge-repo'
import { getHeads } from '@automerge/automerge'
import { z } from 'zod'
import { AbortedError, OrbitError, WireError } from '../errors.js'
import type { SyncMethod } from '../sync/types.js'
import type { SessionDocuments } from './doc-loader.js'

/** What `orbit sync`, `orbit webrtc` and the sync store record for one session, whatever the tier. */
export interface SyncReport {
  method: SyncMethod
  status: 'completed' | 'error'
  /** `address`: where the peer was reached; `candidateType` (WebRTC): host, srflx or relay. */
  peer: { deviceId: string; address?: string; candidateType?: string }
  changesSent: number
  changesReceived: number
  bytesSent: number
  bytesReceived: number
  durationMs: number
  /** Documents compared. */
  documents: number
  error?: { name: string; code?: string; message: string }
  /** How the tier reached the peer (`host:port`, `relay <deviceId>`): set by the orchestrator. */
  via?: string
  /** Tiers the orchestrator passed over before this one served (or before it gave up), and why. */
  skipped?: Array<{ method: SyncMethod; reason: string; detail: string }>
}

/** Counters of one peer at one moment, to diff a session's traffic out of lifetime totals. */
export interface TrafficSnapshot {
  changesSent: number
  changesReceived: number
  bytesSent: number
  bytesReceived: number
}

export function diffTraffic(after: TrafficSnapshot, before: TrafficSnapshot): TrafficSnapshot {
  return {
    changesSent: after.changesSent - before.changesSent,
    changesReceived: after.changesReceived - before.changesReceived,
    bytesSent: after.bytesSent - before.bytesSent,
    bytesReceived: after.bytesReceived - before.bytesReceived,
  }
}

/** The zod schema of {@link SyncReport}: what a control client accepts from a daemon. */
export const SyncReportSchema = z.object({
  method: z.enum(['local-network', 'webrtc', 'qr-code']),
  status: z.enum(['completed', 'error']),
  peer: z.object({ deviceId: z.string(), address: z.string().optional(), candidateType: z.string().optional() }),
  changesSent: z.number(),
  changesReceived: z.number(),
  bytesSent: z.number(),
  bytesReceived: z.number(),
  durationMs: z.number(),
  documents: z.number(),
  error: z.object({ name: z.string(), code: z.string().optional(), message: z.string() }).optional(),
  via: z.string().optional(),
  skipped: z.array(z.object({ method: z.enum(['local-network', 'webrtc', 'qr-code']), reason: z.string(), detail: z.string() })).optional(),
})

const ZERO: TrafficSnapshot = { changesSent: 0, changesReceived: 0, bytesSent: 0, bytesReceived: 0 }

/** A report of a session that failed, from the error that ended it. */
export function failedReport(method: SyncMethod, peer: SyncReport['peer'], error: unknown, traffic: TrafficSnapshot = ZERO, durationMs = 0): SyncReport {
  const e = error instanceof OrbitError ? error : new WireError(String(error), { code: 'SYNC' })
  return { method, status: 'error', peer, ...traffic, durationMs, documents: 0, error: { name: e.name, code: e.code, message: e.message } }
}

/**
 * Runs one session and reports it, completed or failed, for any tier: `sync` resolves with the
 * number of documents found in sync; the traffic is `current()` minus `before`, and the duration
 * runs from `started` to `now()`.
 */
export async function reportSession(
  method: SyncMethod,
  peer: SyncReport['peer'],
  counters: { before: TrafficSnapshot; current: () => TrafficSnapshot },
  clock: { started: number; now: () => number },
  sync: () => Promise<number>,
): Promise<SyncReport> {
  const base = { method, peer }
  try {
    const documents = await sync()
    return { ...base, status: 'completed', ...diffTraffic(counters.current(), counters.before), durationMs: clock.now() - clock.started, documents }
  } catch (error) {
    const e = error instanceof OrbitError ? error : new WireError(String(error), { code: 'SYNC' })
    return {
      ...base,
      status: 'error',
      ...diffTraffic(counters.current(), counters.before),
      durationMs: clock.now() - clock.started,
      documents: 0,
      error: { name: e.name, code: e.code, message: e.message },
    }
  }
}

interface SyncStateEvent {
  documentId: string
  peerId: PeerId
  syncState: { theirHeads: string[] | null }
}

const sameHeads = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && [...a].sort().join() === [...b].sort().join()

/**
 * Watches the peer's heads as the sync protocol reports them (`sync-state` events of the Repo's
 * synchronizer). Start it *before* the connection comes up so no report is missed.
 */
export class PeerHeadsWatcher {
  readonly #heads = new Map<string, Map<PeerId, string[]>>()
  readonly #repo: Repo
  readonly #onEvent: (event: SyncStateEvent) => void
  #wake: (() => void) | undefined

  constructor(repo: Repo) {
    this.#repo = repo
    this.#onEvent = (event) => {
      if (event.syncState.theirHeads === null) return
      let byPeer = this.#heads.get(event.documentId)
      if (byPeer === undefined) this.#heads.set(event.documentId, (byPeer = new Map()))
      byPeer.set(event.peerId, [...event.syncState.theirHeads])
      this.#wake?.()
    }
    ;(repo.synchronizer as unknown as { on(e: 'sync-state', l: (e: SyncStateEvent) => void): void }).on('sync-state', this.#onEvent)
  }

  /** Forget what `peerId` reported (a fresh connection must report again). */
  forget(peerId: PeerId): void {
    for (const byPeer of this.#heads.values()) byPeer.delete(peerId)
  }

  /** Documents among `handles` whose heads the peer has not matched yet. */
  behind(handles: readonly DocHandle<unknown>[], peerId: PeerId): DocHandle<unknown>[] {
    return handles.filter((h) => {
      const theirs = this.#heads.get(h.documentId)?.get(peerId)
      return theirs === undefined || !sameHeads(theirs, getHeads(h.doc() as object))
    })
  }

  /**
   * Resolves when the peer matches every handle's heads (with the number of documents in sync); rejects with AbortedError (`TIMEOUT`)
   * at the deadline or when `signal` aborts.
   */
  async until(
    handles: () => Promise<readonly DocHandle<unknown>[] | SessionDocuments>,
    peerId: PeerId,
    options: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<number> {
    const deadline = Date.now() + options.timeoutMs
    for (;;) {
      options.signal?.throwIfAborted()
      // A DocLoader's answer leaves out (and counts) documents in sync by the link's summaries.
      const got = await handles()
      const list = Array.isArray(got) ? got : (got as SessionDocuments).handles
      const inSync = Array.isArray(got) ? 0 : (got as SessionDocuments).inSync
      if (this.behind(list, peerId).length === 0) return list.length + inSync
      const left = deadline - Date.now()
      if (left <= 0) throw new AbortedError(`not in sync after ${options.timeoutMs} ms`, { code: 'TIMEOUT' })
      // Re-check on the next sync report, on local changes, or every 250 ms at the latest.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(left, 250))
        function done(): void {
          clearTimeout(timer)
          resolve()
        }
        this.#wake = done
      })
      this.#wake = undefined
    }
  }

  close(): void {
    ;(this.#repo.synchronizer as unknown as { off(e: 'sync-state', l: (e: SyncStateEvent) => void): void }).off('sync-state', this.#onEvent)
  }
}

/**
 * automerge-repo saves each peer's sync state through a 100 ms throttle that outlives the
 * connection; a save landing after the store closed throws (an unhandled rejection). Call this
 * after the network is down and before closing the device.
 */
export function settleSyncStateSaves(ms = 300): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/**
 * Shares only the workspace's documents: announced to members and served on request, nothing
 * else either way. Without it automerge-repo offers every document it holds (a joiner's old
 * workspace would spread to every member) and accepts any document a peer pushes. `allowed`
 * may grow (a joiner learns the shard ids from the root). Set it before the network is added.
 */
export function restrictSharing(repo: Repo, allowed: ReadonlySet<string>): void {
  const policy = async (_peer: PeerId, documentId?: string): Promise<boolean> => documentId !== undefined && allowed.has(documentId)
  repo.shareConfig = { announce: policy, access: policy }
}

/** The document ids of a workspace's root and shards. */
export function workspaceDocIds(rootUrl: string, shardUrls: readonly string[]): Set<string> {
  return new Set([rootUrl, ...shardUrls].map((u) => parseAutomergeUrl(u as AutomergeUrl).documentId as string))
}

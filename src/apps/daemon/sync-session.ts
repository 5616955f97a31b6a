/**
 * One sync session with one connected peer: wait until, for every document of the workspace, the
 * peer's heads (from the Automerge sync protocol) equal ours — both replicas hold the same
 * changes — or the deadline passes. Counts what crossed the wire meanwhile.
 *
 * Used by `orbit sync` with and without a daemon, and by `orbit pair join` for the first sync.
 */
import { parseAutomergeUrl, type AutomergeUrl, type DocHandle, type PeerId, type Repo } from '@automerge/automerge-repo'
import { getHeads } from '@automerge/automerge'
import { AbortedError, OrbitError, WireError } from '../../core/errors.js'
import type { DeviceId } from '../../core/ids.js'
import type { CountingNetworkAdapter } from '../../core/sync/counting.js'
import type { SyncMethod } from '../../core/sync/types.js'
import type { SessionDocuments } from '../../core/engine/doc-loader.js'
import type { TcpNetworkAdapter } from '../../adapters/transport-tcp/index.js'

/** What `orbit sync` and `orbit webrtc` print for one session, whatever the tier. */
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
}

/** Counters of one peer at one moment, to diff a session's traffic out of lifetime totals. */
export interface TrafficSnapshot {
  changesSent: number
  changesReceived: number
  bytesSent: number
  bytesReceived: number
}

export function snapshotTraffic(tcp: TcpNetworkAdapter, counting: CountingNetworkAdapter, deviceId: DeviceId, peerId: PeerId | undefined): TrafficSnapshot {
  const wire = tcp.traffic(deviceId)
  const repo = peerId === undefined ? undefined : counting.traffic(peerId)
  return {
    changesSent: repo?.sent.changes ?? 0,
    changesReceived: repo?.received.changes ?? 0,
    bytesSent: wire.bytesSent,
    bytesReceived: wire.bytesReceived,
  }
}

export function diffTraffic(after: TrafficSnapshot, before: TrafficSnapshot): TrafficSnapshot {
  return {
    changesSent: after.changesSent - before.changesSent,
    changesReceived: after.changesReceived - before.changesReceived,
    bytesSent: after.bytesSent - before.bytesSent,
    bytesReceived: after.bytesReceived - before.bytesReceived,
  }
}

/**
 * Runs one LAN session and reports it, completed or failed: `sync` resolves with the number of
 * documents found in sync; the traffic is `current()` minus `before`, and the duration runs from
 * `started` to `now()`.
 */
export async function reportLanSession(
  peer: SyncReport['peer'],
  counters: { before: TrafficSnapshot; current: () => TrafficSnapshot },
  clock: { started: number; now: () => number },
  sync: () => Promise<number>,
): Promise<SyncReport> {
  const base = { method: 'local-network' as const, peer }
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

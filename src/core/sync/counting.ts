/**
 * Counting what crosses a network adapter, per remote peer and direction: messages, bytes, and the
 * Automerge changes the sync messages carry. This is where `SyncSession.changesSent` /
 * `changesReceived` / `bytesSent` / `bytesReceived` come from — counted, not estimated.
 */
import { decodeSyncMessage, load, stats } from '@automerge/automerge'
import { NetworkAdapter } from '@automerge/automerge-repo'
import type {
  Message,
  NetworkAdapterInterface,
  PeerCandidatePayload,
  PeerDisconnectedPayload,
  PeerId,
  PeerMetadata,
} from '@automerge/automerge-repo'
import { inflateSync } from 'fflate'
import type { SyncSession } from './types.js'

/** Totals in one direction. */
export interface TrafficCounts {
  messages: number
  bytes: number
  /** Automerge changes carried by `sync`/`request` messages (a whole-document chunk counts all of its changes). */
  changes: number
}

/** Totals with one remote peer. */
export interface PeerTraffic {
  peerId: PeerId
  sent: TrafficCounts
  received: TrafficCounts
}

/** One message counted. */
export interface TrafficEvent {
  direction: 'sent' | 'received'
  peerId: PeerId
  type: string
  bytes: number
  changes: number
}

export interface CountingOptions {
  /**
   * Byte size of a message. Default: the payload (`data`) plus the UTF-8 length of the envelope's
   * strings (`type`, `senderId`, `targetId`, `documentId`) — a transport that knows its real
   * framed size should pass its own.
   */
  measure?: (message: Message) => number
  /** Called synchronously for every message counted. */
  onTraffic?: (event: TrafficEvent) => void
}

const encoder = new TextEncoder()

/** The default {@link CountingOptions.measure}. */
export function messageSize(message: Message): number {
  let n = message.data?.byteLength ?? 0
  for (const s of [message.type, message.senderId, message.targetId, message.documentId]) {
    if (typeof s === 'string') n += encoder.encode(s).byteLength
  }
  return n
}

/**
 * Automerge changes carried by a repo message: for `sync` and `request` messages, the changes of
 * the Automerge sync message inside (0 for other types, and for data that does not decode).
 */
export function changesInMessage(message: Message): number {
  if ((message.type !== 'sync' && message.type !== 'request') || message.data === undefined) return 0
  try {
    return changesInSyncMessage(message.data)
  } catch {
    return 0
  }
}

/**
 * Automerge changes in an encoded sync message. A change chunk counts one; Automerge 3 sends a whole
 * document chunk when the peer has nothing yet, which counts every change it holds.
 * @throws when `data` is not a sync message.
 */
export function changesInSyncMessage(data: Uint8Array): number {
  let n = 0
  for (const chunk of decodeSyncMessage(data).changes) n += changesInChunk(chunk)
  return n
}

const MAGIC = [0x85, 0x6f, 0x4a, 0x83]
const CHUNK_DOCUMENT = 0

/** Changes in one Automerge chunk (a document chunk holds many, a change chunk one). */
export function changesInChunk(chunk: Uint8Array): number {
  if (chunk.length < 9 || MAGIC.some((b, i) => chunk[i] !== b)) return 1
  if (chunk[8] !== CHUNK_DOCUMENT) return 1
  try {
    return documentChangeCount(chunk)
  } catch {
    // An encoding this parser does not know: ask Automerge (slower: it loads the document).
    return stats(load(chunk)).numChanges
  }
}

/**
 * Reads the number of changes of a document chunk without loading it: the row count of the change
 * actor column (RLE), per the Automerge binary format: header (magic, checksum, type, length),
 * actors, heads, change column metadata, op column metadata, then the columns.
 * @throws RangeError when the chunk is not a document chunk this parser understands.
 */
export function documentChangeCount(chunk: Uint8Array): number {
  if (chunk.length < 9 || MAGIC.some((b, i) => chunk[i] !== b) || chunk[8] !== CHUNK_DOCUMENT) {
    throw new RangeError('not an Automerge document chunk')
  }
  const r = new Reader(chunk, 9)
  const length = r.uleb()
  const end = r.pos + length
  if (end > chunk.length) throw new RangeError('truncated chunk')
  const actors = r.uleb()
  for (let i = 0; i < actors; i++) r.skip(r.uleb())
  r.skip(32 * r.uleb())
  const changeCols: { spec: number; len: number }[] = []
  for (let i = r.uleb(); i > 0; i--) changeCols.push({ spec: r.uleb(), len: r.uleb() })
  for (let i = r.uleb(); i > 0; i--) {
    r.uleb()
    r.uleb()
  }
  let at = r.pos
  for (const col of changeCols) {
    // Column spec: id << 4 | deflate bit (8) | type; the change actor column is id 0, type actor (1).
    if (col.spec >> 4 === 0 && (col.spec & 7) === 1) {
      let bytes = chunk.subarray(at, at + col.len)
      if ((col.spec & 8) !== 0) bytes = inflateSync(bytes)
      return rleRowCount(bytes)
    }
    at += col.len
  }
  if (at > end) throw new RangeError('bad column lengths')
  return 0 // no actor column: no changes
}

function rleRowCount(bytes: Uint8Array): number {
  const r = new Reader(bytes, 0)
  let rows = 0
  while (r.pos < bytes.length) {
    const n = r.sleb()
    if (n > 0) {
      r.uleb()
      rows += n
    } else if (n < 0) {
      for (let i = 0; i < -n; i++) r.uleb()
      rows += -n
    } else {
      rows += r.uleb()
    }
  }
  return rows
}

class Reader {
  constructor(
    readonly bytes: Uint8Array,
    public pos: number,
  ) {}

  uleb(): number {
    let result = 0
    let shift = 0
    for (;;) {
      const b = this.bytes[this.pos++]
      if (b === undefined) throw new RangeError('truncated LEB128')
      result += (b & 0x7f) * 2 ** shift
      if ((b & 0x80) === 0) return result
      shift += 7
      if (shift > 49) throw new RangeError('LEB128 too long')
    }
  }

  sleb(): number {
    let result = 0
    let shift = 0
    for (;;) {
      const b = this.bytes[this.pos++]
      if (b === undefined) throw new RangeError('truncated LEB128')
      result += (b & 0x7f) * 2 ** shift
      shift += 7
      if ((b & 0x80) === 0) return (b & 0x40) !== 0 ? result - 2 ** shift : result
      if (shift > 49) throw new RangeError('LEB128 too long')
    }
  }

  skip(n: number): void {
    if (this.pos + n > this.bytes.length) throw new RangeError('truncated')
    this.pos += n
  }
}

/**
 * The counters of a {@link SyncSession} from one peer's traffic (take it when the session ends;
 * `reset(peerId)` when it starts, so the totals are the session's own).
 */
export function sessionCounters(
  traffic: PeerTraffic | undefined,
): Pick<SyncSession, 'changesSent' | 'changesReceived' | 'bytesSent' | 'bytesReceived'> {
  return {
    changesSent: traffic?.sent.changes ?? 0,
    changesReceived: traffic?.received.changes ?? 0,
    bytesSent: traffic?.sent.bytes ?? 0,
    bytesReceived: traffic?.received.bytes ?? 0,
  }
}

function zero(): TrafficCounts {
  return { messages: 0, bytes: 0, changes: 0 }
}

/**
 * Decorates any automerge-repo network adapter and counts its traffic per remote peer, in both
 * directions. Give the Repo the wrapper instead of the adapter; read totals with
 * {@link CountingNetworkAdapter.traffic} or listen with `onTraffic`.
 *
 * Counts are of what crossed the adapter: a message delivered twice by the network is counted twice.
 *
 * @example
 * const counted = new CountingNetworkAdapter(tcpAdapter, { onTraffic: e => store.addTraffic(e) })
 * const repo = new Repo({ network: [counted] })
 * // later: counted.traffic(peerId)?.sent.changes -> SyncSession.changesSent
 */
export class CountingNetworkAdapter extends NetworkAdapter {
  readonly inner: NetworkAdapterInterface
  readonly #measure: (message: Message) => number
  readonly #listeners = new Set<(event: TrafficEvent) => void>()
  readonly #byPeer = new Map<PeerId, PeerTraffic>()

  constructor(inner: NetworkAdapterInterface, options: CountingOptions = {}) {
    super()
    this.inner = inner
    this.#measure = options.measure ?? messageSize
    if (options.onTraffic !== undefined) this.#listeners.add(options.onTraffic)
    inner.on('peer-candidate', (payload: PeerCandidatePayload) => this.emit('peer-candidate', payload))
    inner.on('peer-disconnected', (payload: PeerDisconnectedPayload) => this.emit('peer-disconnected', payload))
    inner.on('close', () => this.emit('close'))
    inner.on('message', (message: Message) => {
      this.#count('received', message.senderId, message)
      this.emit('message', message)
    })
  }

  isReady(): boolean {
    return this.inner.isReady()
  }

  whenReady(): Promise<void> {
    return this.inner.whenReady()
  }

  connect(peerId: PeerId, peerMetadata?: PeerMetadata): void {
    this.peerId = peerId
    this.peerMetadata = peerMetadata
    this.inner.connect(peerId, peerMetadata)
  }

  send(message: Message): void {
    this.#count('sent', message.targetId, message)
    this.inner.send(message)
  }

  disconnect(): void {
    this.inner.disconnect()
  }

  /** Totals with `peerId` since the wrapper was made (or last {@link reset}), or `undefined`. */
  traffic(peerId: PeerId): PeerTraffic | undefined {
    const t = this.#byPeer.get(peerId)
    return t === undefined ? undefined : { peerId, sent: { ...t.sent }, received: { ...t.received } }
  }

  /** Totals with every peer seen. */
  allTraffic(): PeerTraffic[] {
    return [...this.#byPeer.keys()].map(p => this.traffic(p) as PeerTraffic)
  }

  /** Forget the totals of one peer (e.g. when a session starts), or of all. */
  reset(peerId?: PeerId): void {
    if (peerId === undefined) this.#byPeer.clear()
    else this.#byPeer.delete(peerId)
  }

  /** Listen to every counted message. Returns `unsubscribe`. */
  onTraffic(listener: (event: TrafficEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  #count(direction: 'sent' | 'received', peerId: PeerId, message: Message): void {
    let t = this.#byPeer.get(peerId)
    if (t === undefined) this.#byPeer.set(peerId, (t = { peerId, sent: zero(), received: zero() }))
    const bytes = this.#measure(message)
    const changes = changesInMessage(message)
    const c = t[direction]
    c.messages++
    c.bytes += bytes
    c.changes += changes
    for (const listener of this.#listeners) {
      // A broken listener must not break the network path.
      try {
        listener({ direction, peerId, type: message.type, bytes, changes })
      } catch {
        /* ignored on purpose */
      }
    }
  }
}

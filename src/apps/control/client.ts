/**
 * The CLI's side of the control channel: find the `orbit serve` running on a data dir (its lock
 * file), send it one request, and turn its answer back into a result or a typed error.
 *
 * While a daemon runs on a data dir, commands go through it, so two processes never write the
 * same store: {@link remoteApi} is the `OrbitApi` (src/apps/node/api.ts) whose every call travels
 * over the socket (docs/protocol/control.md).
 */
import { connect } from 'node:net'
import { randomBytes, randomUUID } from 'node:crypto'
import { OrbitError, ValidationError, WireError } from '../../core/errors.js'
import type { BlobHash } from '../../core/ids.js'
import type { SyncReport } from '../../core/engine/sync-session.js'
import type { BlobStatus, DeviceRow, NodeBlobFetchResult, InviteInfo, OfflineAccept, OfflineInvite, OrbitApi, PeerRow, SyncHistoryEntry, WorkspaceApi } from '../node/api.js'
import { WORKSPACE_METHODS, type WorkspaceMethod } from '../node/api-methods.js'
import { pidAlive, readDaemonLock, type DaemonLockInfo } from '../node/lock.js'
import type { QrExportResult, QrImportResult } from '../node/qr-sync.js'
import type { WebRtcSyncReport } from '../node/webrtc-sync.js'
import { CONTROL_VERSION, MAX_BLOB_PART, MAX_CONTROL_LINE, PeersResultSchema, ResponseSchema, SyncHistoryResultSchema, type ControlErrorBody, type ControlOp, type OpParams } from './protocol.js'

/** A running daemon, as its lock file describes it. */
export type DaemonEndpoint = DaemonLockInfo

/** The daemon running on `dataDir`, or undefined when none is (no lock, or its pid is dead). */
export function findDaemon(dataDir: string): DaemonEndpoint | undefined {
  return readDaemonLock(dataDir)
}

/** Rebuilds the daemon's error so the CLI maps it like a local one (same name, code, field). */
export function errorFromBody(body: ControlErrorBody): OrbitError {
  const error = body.name === 'ValidationError' ? new ValidationError(body.message, body.field === undefined ? {} : { field: body.field }) : new OrbitError(body.message, { code: body.code })
  Object.defineProperty(error, 'name', { value: body.name, configurable: true, writable: true })
  if (body.name !== 'ValidationError') Object.defineProperty(error, 'code', { value: body.code })
  return error
}

/** How long a command waits for a starting daemon (its lock taken, its socket not yet listening). */
export const DAEMON_START_WAIT_MS = 30_000

/**
 * Sends one request and resolves with its result.
 *
 * A daemon takes its lock before it opens the store and listens on its socket (docs/protocol/control.md),
 * so a command run while it starts (or restarts) finds a live lock and no listener. When the
 * endpoint names the daemon's `pid` and that process is alive, a refused or missing socket is
 * retried (50 ms doubling to 500 ms, for at most `startWaitMs`): the request was never delivered,
 * so nothing runs twice.
 *
 * @throws the daemon's error (same `name`/`code`), or WireError `DAEMON_UNREACHABLE`.
 */
export async function callDaemon<O extends ControlOp>(
  endpoint: Pick<DaemonEndpoint, 'control'> & Partial<Pick<DaemonEndpoint, 'pid'>>,
  op: O,
  params: OpParams<O>,
  options: { timeoutMs?: number; startWaitMs?: number } = {},
): Promise<unknown> {
  const deadline = Date.now() + (options.startWaitMs ?? DAEMON_START_WAIT_MS)
  for (let pause = 50; ; pause = Math.min(2 * pause, 500)) {
    try {
      return await callDaemonOnce(endpoint, op, params, options)
    } catch (error) {
      const starting = error instanceof Error && notListening.has(error) && endpoint.pid !== undefined && pidAlive(endpoint.pid) && Date.now() + pause < deadline
      if (!starting) throw error
      await new Promise((resolve) => setTimeout(resolve, pause))
    }
  }
}

/** Errors of a socket that refused the connection or did not exist yet: nothing was sent. */
const notListening = new WeakSet<Error>()

function callDaemonOnce<O extends ControlOp>(endpoint: Pick<DaemonEndpoint, 'control'>, op: O, params: OpParams<O>, options: { timeoutMs?: number }): Promise<unknown> {
  const id = randomBytes(6).toString('hex')
  const timeoutMs = options.timeoutMs ?? 120_000
  return new Promise((resolve, reject) => {
    const socket = connect(endpoint.control)
    let buffer = ''
    let settled = false
    let connected = false
    const finish = (fn: () => void): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      fn()
    }
    const timer = setTimeout(
      () => finish(() => reject(new WireError(`the daemon did not answer within ${timeoutMs} ms`, { code: 'DAEMON_TIMEOUT' }))),
      timeoutMs,
    )
    socket.setEncoding('utf8')
    socket.on('connect', () => {
      connected = true
      socket.write(JSON.stringify({ v: CONTROL_VERSION, id, op, params }) + '\n')
    })
    socket.on('data', (chunk: string) => {
      buffer += chunk
      if (buffer.length > MAX_CONTROL_LINE) return finish(() => reject(new WireError('daemon answer too long', { code: 'BAD_RESPONSE' })))
      const nl = buffer.indexOf('\n')
      if (nl < 0) return
      finish(() => {
        let parsed
        try {
          parsed = ResponseSchema.parse(JSON.parse(buffer.slice(0, nl)))
        } catch (cause) {
          return reject(new WireError('the daemon sent a malformed answer', { code: 'BAD_RESPONSE', cause }))
        }
        if (parsed.ok) resolve(parsed.result)
        else reject(errorFromBody(parsed.error))
      })
    })
    socket.on('error', (error) =>
      finish(() => {
        const code = (error as NodeJS.ErrnoException).code
        const unreachable = new WireError(`cannot reach the daemon at ${endpoint.control}: ${error.message}; is \`orbit serve\` still running?`, {
          code: 'DAEMON_UNREACHABLE',
          cause: error,
        })
        if (!connected && (code === 'ECONNREFUSED' || code === 'ENOENT')) notListening.add(unreachable)
        reject(unreachable)
      }),
    )
    socket.on('close', () => finish(() => reject(new WireError('the daemon closed the connection', { code: 'DAEMON_UNREACHABLE' }))))
  })
}

/** Calls `op` on the daemon of `dataDir` if one runs; `undefined` (nothing sent) when none does. */
export async function callDaemonIfRunning<O extends ControlOp>(dataDir: string, op: O, params: OpParams<O>): Promise<{ result: unknown } | undefined> {
  const endpoint = findDaemon(dataDir)
  if (endpoint === undefined) return undefined
  return { result: await callDaemon(endpoint, op, params) }
}

/** Bytes as base64 for a JSON line. */
export const toBase64 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
export const fromBase64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'base64'))

/** What `qr.export` answers: the bundle as base64. */
export type QrExportWire = Omit<QrExportResult, 'bundle'> & { base64: string }
/** What `qr.import` answers: the reply bundle as base64. */
export interface QrImportWire {
  imported: QrImportResult
  replyBase64?: string
}

/**
 * The `OrbitApi` of the daemon at `endpoint`: each call is one control request, answered once it
 * is durable (the daemon flushes and projects before it answers a write).
 *
 * @example
 * const endpoint = findDaemon(dataDir)
 * const api = endpoint === undefined ? localApi(device) : remoteApi(endpoint)
 * await api.workspace.addContact({ name: 'Ada' })
 */
export function remoteApi(endpoint: Pick<DaemonEndpoint, 'control'>): OrbitApi {
  const call = (method: WorkspaceMethod) =>
    async (...args: unknown[]): Promise<unknown> => {
      const result = await callDaemon(endpoint, 'workspace.call', { method, args: args.map((a) => (a === undefined ? null : a)) })
      return result === null ? undefined : result
    }
  const workspace = Object.fromEntries(WORKSPACE_METHODS.map((m) => [m, call(m)])) as unknown as WorkspaceApi
  return {
    where: 'daemon',
    workspace,
    async requireOrg(id) {
      await callDaemon(endpoint, 'device.requireOrg', { id })
    },
    async putBlob(bytes) {
      if (bytes.length <= MAX_BLOB_PART) return (await callDaemon(endpoint, 'blobs.put', { base64: toBase64(bytes) })) as BlobHash
      // Larger than a control line carries: in parts, in order, the last one answered with the hash.
      const upload = randomUUID().replaceAll('-', '')
      let result: unknown
      for (let offset = 0; offset < bytes.length; offset += MAX_BLOB_PART) {
        const part = bytes.subarray(offset, offset + MAX_BLOB_PART)
        result = await callDaemon(endpoint, 'blobs.putPart', { upload, offset, base64: toBase64(part), done: offset + part.length >= bytes.length })
      }
      return result as BlobHash
    },
    blobs: async (query = {}) => (await callDaemon(endpoint, 'blobs.status', query.hash === undefined ? {} : { hash: query.hash })) as BlobStatus,
    // A large image over a slow link takes its time: the daemon answers when every fetch ended.
    fetchBlobs: async () => (await callDaemon(endpoint, 'blobs.fetch', {}, { timeoutMs: 24 * 3_600_000 })) as NodeBlobFetchResult,
    blobLimit: async (maxBytes) => ((await callDaemon(endpoint, 'blobs.limit', maxBytes === undefined ? {} : { maxBytes })) as { maxBytes: number }).maxBytes,
    listDevices: async () => ((await callDaemon(endpoint, 'device.list', {})) as { devices: DeviceRow[] }).devices,
    revokeDevice: async (id) => (await callDaemon(endpoint, 'device.revoke', { id })) as DeviceRow,
    // Parsed, not cast: a daemon of another version must not hand the CLI rows it cannot print.
    peers: async () => PeersResultSchema.parse(await callDaemon(endpoint, 'peers', {})).peers as PeerRow[],
    syncHistory: async (query = {}) =>
      SyncHistoryResultSchema.parse(
        await callDaemon(endpoint, 'sync.history', { ...(query.device === undefined ? {} : { device: query.device }), ...(query.limit === undefined ? {} : { limit: query.limit }) }),
      ).sessions as SyncHistoryEntry[],
    async sync({ target, timeoutMs, via }) {
      const params = { ...(target === undefined ? {} : { target }), ...(timeoutMs === undefined ? {} : { timeoutMs }), ...(via === undefined ? {} : { via }) }
      // The daemon bounds the session by timeoutMs; the margin covers its report.
      return (await callDaemon(endpoint, 'sync', params, { timeoutMs: (timeoutMs ?? 30_000) + 30_000 })) as SyncReport | { sessions: SyncReport[] }
    },
    createInvite: async (ttlMs) => (await callDaemon(endpoint, 'pair.invite', ttlMs === undefined ? {} : { ttlMs })) as InviteInfo,
    createOfflineInvite: async (ttlMs) => (await callDaemon(endpoint, 'pair.inviteOffline', ttlMs === undefined ? {} : { ttlMs })) as OfflineInvite,
    acceptOfflineJoin: async (code) => (await callDaemon(endpoint, 'pair.accept', { code })) as OfflineAccept,
    iceServers: async (change = {}) => ((await callDaemon(endpoint, 'webrtc.ice', change)) as { iceServers: string[] }).iceServers,
    hostAddresses: async (change = {}) => ((await callDaemon(endpoint, 'webrtc.host', change)) as { hostAddresses: string[] }).hostAddresses,
    async qrExport({ forDevice }) {
      const { base64, ...rest } = (await callDaemon(endpoint, 'qr.export', forDevice === undefined ? {} : { forDevice })) as QrExportWire
      return { ...rest, bundle: fromBase64(base64) }
    },
    webrtc: {
      offer: async (o = {}) => (await callDaemon(endpoint, 'webrtc.offer', o)) as { code: string; expiresAt: number },
      answer: async (code, o = {}) => (await callDaemon(endpoint, 'webrtc.answer', { code, ...o })) as { code: string; deviceId: string },
      accept: async (code, o = {}) => (await callDaemon(endpoint, 'webrtc.accept', { code, ...o })) as { deviceId: string; status: 'syncing' },
      // The daemon aborts the session at timeoutMs (default: the offer's, to connect and again to
      // sync); the margin covers its report and a slow close. A daemon that dies closes the socket.
      acceptAndWait: async (code, o = {}) =>
        (await callDaemon(endpoint, 'webrtc.accept', { code, wait: true, ...o }, { timeoutMs: (o.timeoutMs ?? 3_600_000) + 30_000 })) as WebRtcSyncReport,
      answered: async (code) => (await callDaemon(endpoint, 'webrtc.answered', { code }, { timeoutMs: 24 * 3_600_000 })) as WebRtcSyncReport,
      cancel: async (code) => (await callDaemon(endpoint, 'webrtc.cancel', { code })) as { cancelled: boolean },
    },
    async qrImport(bundle, { reply }) {
      const r = (await callDaemon(endpoint, 'qr.import', { base64: toBase64(bundle), ...(reply === undefined ? {} : { reply }) })) as QrImportWire
      return { imported: r.imported, ...(r.replyBase64 === undefined ? {} : { replyBundle: fromBase64(r.replyBase64) }) }
    },
  }
}

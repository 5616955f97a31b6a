/**
 * The daemon's side of the control protocol (src/apps/control/protocol.ts, docs/protocol/control.md):
 * one request line in, one response line out. Validation happens before any work; a bad request
 * changes nothing. Most ops are the daemon's `OrbitApi` (src/apps/node/api.ts) — the same calls a
 * command makes in-process — and the rest are the daemon's own (status, held WebRTC offers).
 */
import { z } from 'zod'
import { OrbitError, StoreError, ValidationError, WireError } from '../../core/errors.js'
import { isDiskFull } from '../../adapters/storage-sqlite/disk-full.js'
import type { OrgId } from '../../core/ids.js'
import { fromBase64, toBase64, type QrExportWire, type QrImportWire } from '../control/client.js'
import { CONTROL_VERSION, OP_PARAMS, READ_METHODS, RequestSchema, type ControlErrorBody, type ControlOp, type OpParams } from '../control/protocol.js'
import type { OrbitApi } from '../node/api.js'
import type { OrbitDevice } from '../node/device.js'
import type { JoinResult } from '../node/join.js'
import type { DaemonUi } from './daemon.js'

/** What the control server serves: the daemon's API (held WebRTC offers included) and its status. */
export interface ControlTarget {
  readonly api: OrbitApi
  /** `storage`: refuse writes while the disk is full (absent: never refuse). */
  readonly device: Pick<OrbitDevice, 'identity' | 'flush'> & Partial<Pick<OrbitDevice, 'storage'>>
  status(): Record<string, unknown>
  /** The web UI's address and secret link (`ui.url`); undefined when the daemon serves none. */
  ui?(): DaemonUi | undefined
  /** Join an invite's workspace by restarting the node (`pair.join`). */
  join?(code: string, options?: { address?: string; timeoutMs?: number }): Promise<JoinResult>
}

/** What a write needs of the device: its flush and (optionally) its storage health. */
export type WritingDevice = Pick<OrbitDevice, 'flush'> & Partial<Pick<OrbitDevice, 'storage'>>

/** Answers one raw request line; never throws. */
export async function handleControlLine(daemon: ControlTarget, line: string): Promise<string> {
  let id = '?'
  try {
    let raw: unknown
    try {
      raw = JSON.parse(line)
    } catch {
      throw new ValidationError('request is not JSON', { field: 'request' })
    }
    if (typeof raw === 'object' && raw !== null && typeof (raw as { id?: unknown }).id === 'string') id = String((raw as { id: string }).id).slice(0, 64)
    const request = parse(RequestSchema, raw, 'request')
    const params: unknown = parse(OP_PARAMS[request.op] as z.ZodType<unknown>, request.params, 'params')
    const result = await dispatch(daemon, request.op, params)
    return JSON.stringify({ v: CONTROL_VERSION, id, ok: true, result: result ?? null })
  } catch (error) {
    return JSON.stringify({ v: CONTROL_VERSION, id, ok: false, error: errorBody(error) })
  }
}

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value)
  if (r.success) return r.data
  const issue = r.error.issues[0]
  const field = [what, ...(issue?.path ?? []).map(String)].join('.')
  throw new ValidationError(`${field}: ${issue?.message ?? 'invalid'}`, { field })
}

export function errorBody(error: unknown): ControlErrorBody {
  if (error instanceof OrbitError) {
    const field = error instanceof ValidationError ? error.field : undefined
    return { name: error.name, code: error.code, message: error.message, ...(field === undefined ? {} : { field }) }
  }
  const e = error instanceof Error ? error : new Error(String(error))
  return { name: e.name || 'Error', code: 'INTERNAL', message: e.message }
}

async function dispatch(daemon: ControlTarget, op: ControlOp, params: unknown): Promise<unknown> {
  const { api } = daemon
  switch (op) {
    case 'ping':
      return { pid: process.pid, deviceId: daemon.device.identity.deviceId }
    case 'status':
      return daemon.status()
    case 'workspace.call': {
      const { method, args } = params as OpParams<'workspace.call'>
      const write = !READ_METHODS.has(method)
      if (write) await refuseWhileFull(daemon.device)
      const call = api.workspace[method] as (...a: unknown[]) => Promise<unknown>
      const result = await call(...args.map((a) => (a === null ? undefined : a)))
      // Answer a write once it is durable and in the listing projection the CLI reads.
      if (write) await flushOrExplain(daemon.device)
      return result
    }
    case 'device.requireOrg': {
      const { id } = params as OpParams<'device.requireOrg'>
      const { parseOrgId } = await import('../../core/ids.js')
      await api.requireOrg(parseOrgId(id, 'org') as OrgId)
      return null
    }
    case 'blobs.put':
      await refuseWhileFull(daemon.device)
      return api.putBlob(fromBase64((params as OpParams<'blobs.put'>).base64))
    case 'blobs.putPart': {
      const p = params as OpParams<'blobs.putPart'>
      if (p.done) await refuseWhileFull(daemon.device)
      return putPart(p, () => api.blobLimit(), (bytes) => api.putBlob(bytes))
    }
    case 'blobs.status': {
      const { hash } = params as OpParams<'blobs.status'>
      return api.blobs(hash === undefined ? {} : { hash })
    }
    case 'blobs.fetch':
      return api.fetchBlobs()
    case 'blobs.limit': {
      const { maxBytes } = params as OpParams<'blobs.limit'>
      return { maxBytes: await api.blobLimit(maxBytes) }
    }
    case 'pair.invite':
      return api.createInvite((params as OpParams<'pair.invite'>).ttlMs)
    case 'pair.inviteOffline':
      return api.createOfflineInvite((params as OpParams<'pair.inviteOffline'>).ttlMs)
    case 'pair.accept': {
      const result = await api.acceptOfflineJoin((params as OpParams<'pair.accept'>).code)
      // The joiner is a member: answer once that is durable and projected, like every write.
      await daemon.device.flush()
      return result
    }
    case 'webrtc.ice': {
      const p = params as OpParams<'webrtc.ice'>
      return { iceServers: await api.iceServers({ ...(p.add === undefined ? {} : { add: p.add }), ...(p.clear === undefined ? {} : { clear: p.clear }) }) }
    }
    case 'webrtc.host': {
      const p = params as OpParams<'webrtc.host'>
      return { hostAddresses: await api.hostAddresses({ ...(p.add === undefined ? {} : { add: p.add }), ...(p.clear === undefined ? {} : { clear: p.clear }) }) }
    }
    case 'device.list':
      return { devices: await api.listDevices() }
    case 'device.revoke':
      return api.revokeDevice((params as OpParams<'device.revoke'>).id)
    case 'peers':
      return { peers: await api.peers() }
    case 'sync.history': {
      const p = params as OpParams<'sync.history'>
      return { sessions: await api.syncHistory({ ...(p.device === undefined ? {} : { device: p.device }), ...(p.limit === undefined ? {} : { limit: p.limit }) }) }
    }
    case 'sync': {
      const p = params as OpParams<'sync'>
      return api.sync({ ...(p.target === undefined ? {} : { target: p.target }), ...(p.timeoutMs === undefined ? {} : { timeoutMs: p.timeoutMs }), ...(p.via === undefined ? {} : { via: p.via }) })
    }
    case 'qr.export': {
      const p = params as OpParams<'qr.export'>
      const { bundle, ...rest } = await api.qrExport(p.forDevice === undefined ? {} : { forDevice: p.forDevice })
      return { ...rest, base64: toBase64(bundle) } satisfies QrExportWire
    }
    case 'qr.import': {
      const p = params as OpParams<'qr.import'>
      const { imported, replyBundle } = await api.qrImport(fromBase64(p.base64), p.reply === undefined ? {} : { reply: p.reply })
      await daemon.device.flush()
      return { imported, ...(replyBundle === undefined ? {} : { replyBase64: toBase64(replyBundle) }) } satisfies QrImportWire
    }
    case 'webrtc.offer':
      return api.webrtc.offer(params as OpParams<'webrtc.offer'>)
    case 'webrtc.answer': {
      const { code, ...rest } = params as OpParams<'webrtc.answer'>
      return api.webrtc.answer(code, rest)
    }
    case 'webrtc.accept': {
      const { code, wait, timeoutMs } = params as OpParams<'webrtc.accept'>
      const options = timeoutMs === undefined ? {} : { timeoutMs }
      return wait === true ? api.webrtc.acceptAndWait(code, options) : api.webrtc.accept(code, options)
    }
    case 'webrtc.answered':
      return api.webrtc.answered((params as OpParams<'webrtc.answered'>).code)
    case 'webrtc.cancel':
      return api.webrtc.cancel((params as OpParams<'webrtc.cancel'>).code)
    case 'ui.url': {
      const ui = daemon.ui?.()
      if (ui === undefined) throw new WireError('this orbit serve runs without the web UI (--no-http); start it without --no-http', { code: 'HTTP_OFF' })
      return ui
    }
    case 'pair.join': {
      const { code, address, timeoutMs } = params as OpParams<'pair.join'>
      if (daemon.join === undefined) throw new WireError('this daemon cannot join a workspace while it runs', { code: 'UNSUPPORTED' })
      return daemon.join(code, { ...(address === undefined ? {} : { address }), ...(timeoutMs === undefined ? {} : { timeoutMs }) })
    }
  }
}

/**
 * While the disk is full (a save failed and its retry has not succeeded yet), a write is refused
 * before it changes anything — after one immediate retry, in case the space came back meanwhile.
 * Applying it would only add to what the daemon holds unsaved in memory. The HTTP API's writes
 * can use it as well.
 * @throws StoreError `DISK_FULL` (or `STORE_FAILING` for another persistent save failure).
 */
export async function refuseWhileFull(device: WritingDevice): Promise<void> {
  const storage = device.storage
  if (storage === undefined || storage.health.state === 'ok' || (await storage.tryNow())) return
  const health = storage.health
  throw new StoreError(
    `the disk holding this device's data is full (since ${new Date(health.since).toISOString()}), so nothing was changed. ` +
      'Free some space on it, then run the command again; `orbit serve` saves what it holds by itself once there is room.',
    { code: health.code === 'DISK_FULL' ? 'DISK_FULL' : 'STORE_FAILING' },
  )
}

/**
 * The flush that acknowledges a write. On a full disk the change was applied but not saved: the
 * daemon keeps it in memory and its save retry stores it once space returns (docs/architecture.md,
 * "Disk full"). Repeating the command would apply it twice, so the message says so.
 * @throws StoreError `DISK_FULL` with that explanation; any other flush error unchanged.
 */
export async function flushOrExplain(device: WritingDevice): Promise<void> {
  try {
    await device.flush()
  } catch (error) {
    if (!isDiskFull(error)) throw error
    throw new StoreError(
      'the disk holding this device\'s data is full, so this change is not saved yet. `orbit serve` keeps it in memory ' +
        'and saves it by itself once some space is freed (if the daemon stops before that, the change is lost): free some ' +
        'space, then check with `orbit contact list` before running the command again.',
      { code: 'DISK_FULL', cause: error },
    )
  }
}

/** Images arriving in parts (`blobs.putPart`), by upload id; dropped when idle for a minute. */
const uploads = new Map<string, { parts: Uint8Array[]; received: number; timer: ReturnType<typeof setTimeout> }>()

async function putPart(p: OpParams<'blobs.putPart'>, limit: () => Promise<number>, put: (bytes: Uint8Array) => Promise<unknown>): Promise<unknown> {
  const { ValidationError } = await import('../../core/errors.js')
  const part = fromBase64(p.base64)
  const up = uploads.get(p.upload) ?? { parts: [], received: 0, timer: setTimeout(() => undefined, 0) }
  clearTimeout(up.timer)
  if (p.offset !== up.received) {
    uploads.delete(p.upload)
    throw new ValidationError(`upload ${p.upload}: part at ${p.offset}, expected ${up.received}`, { field: 'offset' })
  }
  up.parts.push(part)
  up.received += part.length
  if (up.received > (await limit())) {
    uploads.delete(p.upload)
    throw new ValidationError(`the image is larger than this device's limit of ${await limit()} bytes (\`orbit blobs limit\`)`, { field: 'logo' })
  }
  if (!p.done) {
    up.timer = setTimeout(() => uploads.delete(p.upload), 60_000)
    up.timer.unref()
    uploads.set(p.upload, up)
    return { received: up.received }
  }
  uploads.delete(p.upload)
  const whole = new Uint8Array(up.received)
  let at = 0
  for (const x of up.parts) {
    whole.set(x, at)
    at += x.length
  }
  return put(whole)
}

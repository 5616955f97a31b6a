/**
 * The daemon's side of the control protocol (control-protocol.ts): one request line in, one
 * response line out. Validation happens before any work; a bad request changes nothing.
 */
import { z } from 'zod'
import { OrbitError, UnknownIdError, ValidationError } from '../../core/errors.js'
import type { OrgId } from '../../core/ids.js'
import {
  CONTROL_VERSION,
  OP_PARAMS,
  READ_METHODS,
  RequestSchema,
  type ControlErrorBody,
  type ControlOp,
  type OpParams,
} from './control-protocol.js'
import type { Daemon } from './daemon.js'

/** Answers one raw request line; never throws. */
export async function handleControlLine(daemon: Daemon, line: string): Promise<string> {
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

async function dispatch(daemon: Daemon, op: ControlOp, params: unknown): Promise<unknown> {
  const { device } = daemon
  switch (op) {
    case 'ping':
      return { pid: process.pid, deviceId: device.identity.deviceId }
    case 'status':
      return daemon.status()
    case 'workspace.call': {
      const { method, args } = params as OpParams<'workspace.call'>
      const ws = device.workspace as unknown as Record<string, (...a: unknown[]) => unknown>
      const result = await ws[method]!.apply(device.workspace, args.map((a) => (a === null ? undefined : a)))
      // Answer a write once it is durable and in the listing projection the CLI reads.
      if (!READ_METHODS.has(method)) await device.flush()
      return result
    }
    case 'device.requireOrg': {
      const { id } = params as OpParams<'device.requireOrg'>
      const { parseOrgId } = await import('../../core/ids.js')
      const org = await device.workspace.getOrg(parseOrgId(id, 'org') as OrgId)
      if (org === undefined) throw new UnknownIdError('organization', id)
      return null
    }
    case 'blobs.put': {
      const { base64 } = params as OpParams<'blobs.put'>
      return device.blobs.put(new Uint8Array(Buffer.from(base64, 'base64')))
    }
    case 'pair.invite':
      return daemon.createInvite((params as OpParams<'pair.invite'>).ttlMs)
    case 'device.list':
      return { devices: daemon.listDevices() }
    case 'device.revoke':
      return daemon.revokeDevice((params as OpParams<'device.revoke'>).id)
    case 'peers':
      return { peers: daemon.peers() }
    case 'sync': {
      const p = params as OpParams<'sync'>
      return daemon.sync(p.target, p.timeoutMs)
    }
    case 'webrtc.offer':
      return daemon.webrtc.offer(params as OpParams<'webrtc.offer'>)
    case 'webrtc.answer': {
      const { code, ...rest } = params as OpParams<'webrtc.answer'>
      return daemon.webrtc.answer(code, rest)
    }
    case 'webrtc.accept': {
      const { code, wait, timeoutMs } = params as OpParams<'webrtc.accept'>
      const options = timeoutMs === undefined ? {} : { timeoutMs }
      return wait === true ? daemon.webrtc.acceptAndWait(code, options) : daemon.webrtc.accept(code, options)
    }
    case 'webrtc.cancel':
      return daemon.webrtc.cancel((params as OpParams<'webrtc.cancel'>).code)
  }
}

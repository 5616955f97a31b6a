/**
 * The CLI's side of the control channel: find the `orbit serve` running on a data dir (its lock
 * file), send it one request, and turn its answer back into a result or a typed error.
 *
 * While a daemon runs on a data dir, commands that write go through it, so two processes never
 * write the same store: {@link remoteDevice} gives `withDevice` an `OrbitDevice` whose workspace
 * calls travel over the socket.
 */
import { connect } from 'node:net'
import { randomBytes } from 'node:crypto'
import { OrbitError, StoreError, ValidationError, WireError } from '../../core/errors.js'
import { readDaemonLock, type DaemonLockInfo } from '../daemon/lock.js'
import {
  CONTROL_VERSION,
  MAX_CONTROL_LINE,
  ResponseSchema,
  type ControlErrorBody,
  type ControlOp,
  type OpParams,
  type WorkspaceMethod,
} from '../daemon/control-protocol.js'
import type { OrbitDevice } from './device.js'

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

/**
 * Sends one request and resolves with its result.
 * @throws the daemon's error (same `name`/`code`), or WireError `DAEMON_UNREACHABLE`.
 */
export function callDaemon<O extends ControlOp>(
  endpoint: Pick<DaemonEndpoint, 'control'>,
  op: O,
  params: OpParams<O>,
  options: { timeoutMs?: number } = {},
): Promise<unknown> {
  const id = randomBytes(6).toString('hex')
  const timeoutMs = options.timeoutMs ?? 120_000
  return new Promise((resolve, reject) => {
    const socket = connect(endpoint.control)
    let buffer = ''
    let settled = false
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
    socket.on('connect', () => socket.write(JSON.stringify({ v: CONTROL_VERSION, id, op, params }) + '\n'))
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
      finish(() =>
        reject(
          new WireError(`cannot reach the daemon at ${endpoint.control}: ${error.message}; is \`orbit serve\` still running?`, {
            code: 'DAEMON_UNREACHABLE',
            cause: error,
          }),
        ),
      ),
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

/**
 * An `OrbitDevice` stand-in whose workspace, `requireOrg` and `blobs.put` run in the daemon of
 * `dataDir`, or undefined when no daemon runs there. Only what commands use through `withDevice`
 * exists; anything else throws StoreError `DAEMON_RUNNING`.
 *
 * @example
 * const remote = await remoteDevice(dataDir)
 * if (remote !== undefined) return fn(remote) // in withDevice, before opening the store
 */
export async function remoteDevice(dataDir: string): Promise<OrbitDevice | undefined> {
  const endpoint = findDaemon(dataDir)
  if (endpoint === undefined) return undefined
  const call = (method: WorkspaceMethod) =>
    async (...args: unknown[]): Promise<unknown> => {
      const result = await callDaemon(endpoint, 'workspace.call', { method, args: args.map((a) => (a === undefined ? null : a)) })
      return result === null ? undefined : result
    }
  const workspace = new Proxy(
    {},
    {
      get(_target, prop) {
        if (typeof prop !== 'string') return undefined
        // `then` must be absent, or awaiting the proxy would call it.
        if (prop === 'then') return undefined
        return call(prop as WorkspaceMethod)
      },
    },
  )
  const unavailable = (what: string): never => {
    throw new StoreError(`${what} is not available while \`orbit serve\` runs on ${dataDir}; stop it first`, { code: 'DAEMON_RUNNING' })
  }
  const device = {
    dataDir,
    workspace,
    blobs: {
      put: async (bytes: Uint8Array): Promise<unknown> => callDaemon(endpoint, 'blobs.put', { base64: Buffer.from(bytes).toString('base64') }),
    },
    requireOrg: async (id: string): Promise<void> => {
      await callDaemon(endpoint, 'device.requireOrg', { id })
    },
    // The daemon flushes and projects before it answers a write.
    flush: async (): Promise<void> => {},
    close: async (): Promise<void> => {},
  }
  return new Proxy(device, {
    get(target, prop, receiver) {
      if (typeof prop === 'string' && !(prop in target) && prop !== 'then') return unavailable(`device.${prop}`)
      return Reflect.get(target, prop, receiver) as unknown
    },
  }) as unknown as OrbitDevice
}

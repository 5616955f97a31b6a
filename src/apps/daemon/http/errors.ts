/**
 * HTTP errors of the web UI's API (docs/protocol/http.md, "Errors"): every refusal is one JSON
 * shape, `{ error: { name, code, message, field? } }`, and the status follows the error's class.
 */
import { OrbitError, UnknownIdError, ValidationError } from '../../../core/errors.js'

/** A refusal the HTTP layer makes itself (auth, Host, Origin, size, route), with its status. */
export class HttpError extends OrbitError {
  static override readonly name = 'HttpError'
  constructor(
    readonly status: number,
    code: string,
    message: string,
  ) {
    super(message, { code })
  }
}

/** The JSON body of an error response. */
export interface HttpErrorBody {
  error: { name: string; code: string; message: string; field?: string }
}

/**
 * The status and body for `error`: ValidationError 400, UnknownIdError 404, HttpError its own,
 * `DISK_FULL` 507 (docs/architecture.md, "Disk full"), any other OrbitError 409 (a refusal given
 * the device's state, e.g. `NO_PEER`, `DAEMON_RUNNING`), anything else 500 with no detail beyond
 * its message.
 */
export function httpErrorOf(error: unknown): { status: number; body: HttpErrorBody } {
  if (error instanceof HttpError) return { status: error.status, body: { error: { name: error.name, code: error.code, message: error.message } } }
  if (error instanceof ValidationError) {
    return { status: 400, body: { error: { name: error.name, code: error.code, message: error.message, ...(error.field === undefined ? {} : { field: error.field }) } } }
  }
  if (error instanceof UnknownIdError) return { status: 404, body: { error: { name: error.name, code: error.code, message: error.message } } }
  if (error instanceof OrbitError && error.code === 'DISK_FULL') return { status: 507, body: { error: { name: error.name, code: error.code, message: error.message } } }
  if (error instanceof OrbitError) return { status: 409, body: { error: { name: error.name, code: error.code, message: error.message } } }
  const e = error instanceof Error ? error : new Error(String(error))
  return { status: 500, body: { error: { name: 'Error', code: 'INTERNAL', message: e.message } } }
}

/**
 * The control protocol between the CLI and a running `orbit serve` (docs/protocol/control.md):
 * the `OrbitApi` of src/apps/node/api.ts, plus the daemon's own ops (status, WebRTC offers).
 *
 * Transport: a Unix socket (mode 0600, in the data dir). Each line is one UTF-8 JSON object;
 * the client sends one request line and reads one response line, per connection.
 *
 *   request  := { v: 1, id: string, op: Op, params: object }
 *   response := { v: 1, id, ok: true, result } | { v: 1, id, ok: false, error: { name, code, message, field? } }
 *
 * Every request is validated here (zod) before anything runs; a bad one gets a typed error
 * response (`ValidationError`) and changes nothing.
 */
import { z } from 'zod'
import { WORKSPACE_METHODS } from '../node/api-methods.js'

/** Version of the control protocol. */
export const CONTROL_VERSION = 1
/** Largest request or response line, bytes (a logo travels base64 in `blobs.put`). */
export const MAX_CONTROL_LINE = 8 * 1024 * 1024

export { READ_METHODS, WORKSPACE_METHODS, type WorkspaceMethod } from '../node/api-methods.js'

const Empty = z.object({}).strict()

/** Params of each op. */
export const OP_PARAMS = {
  ping: Empty,
  status: Empty,
  'workspace.call': z.object({ method: z.enum(WORKSPACE_METHODS), args: z.array(z.unknown()).max(4) }).strict(),
  'device.requireOrg': z.object({ id: z.string().max(200) }).strict(),
  'blobs.put': z.object({ base64: z.string().max(MAX_CONTROL_LINE) }).strict(),
  'pair.invite': z.object({ ttlMs: z.number().int().positive().max(7 * 24 * 3600 * 1000).optional() }).strict(),
  /** An invite for pairing by QR alone (`orbit pair invite --offline`), pending in the daemon's store. */
  'pair.inviteOffline': z.object({ ttlMs: z.number().int().positive().max(7 * 24 * 3600 * 1000).optional() }).strict(),
  /** Admit an offline joiner from its acceptance code (`orbit pair accept`); a write, flushed before the answer. */
  'pair.accept': z.object({ code: z.string().min(1).max(8192) }).strict(),
  'device.list': Empty,
  'device.revoke': z.object({ id: z.string().max(200) }).strict(),
  peers: Empty,
  /** Finished sync sessions, newest first (`orbit sync history`): one device (id or unique prefix) or all; `{ sessions }`. */
  'sync.history': z.object({ device: z.string().min(1).max(200).optional(), limit: z.number().int().min(1).max(10_000).optional() }).strict(),
  sync: z
    .object({
      /** A device id (or a unique prefix) or `host:port`; omitted = every connected or known member. */
      target: z.string().min(1).max(300).optional(),
      timeoutMs: z.number().int().positive().max(3_600_000).optional(),
      /** Which tier: 'auto' (the orchestrator's choice with fallback; the default) or one method. */
      via: z.enum(['auto', 'local-network', 'webrtc', 'qr-code']).optional(),
    })
    .strict(),
  /** Make and hold a WebRTC offer (`orbit webrtc offer` with a daemon); `orbit webrtc accept` gives it the answer. */
  'webrtc.offer': z.object({ ice: z.array(z.string().max(512)).max(16).optional(), hostAddresses: z.array(z.string().max(64)).max(16).optional(), timeoutMs: z.number().int().positive().max(3_600_000).optional(), ttlMs: z.number().int().positive().max(24 * 3_600_000).optional() }).strict(),
  /** Answer another device's offer; the daemon connects and syncs when the offerer applies the answer. */
  'webrtc.answer': z.object({ code: z.string().min(1).max(8192), ice: z.array(z.string().max(512)).max(16).optional(), hostAddresses: z.array(z.string().max(64)).max(16).optional(), timeoutMs: z.number().int().positive().max(3_600_000).optional(), ttlMs: z.number().int().positive().max(24 * 3_600_000).optional() }).strict(),
  /**
   * Hand an answer code to the held offer it answers. Returns once connected (the sync runs in the
   * background), or with `wait` the session's report once it ended. `timeoutMs` bounds the session
   * from the answer on (it is then aborted and fails `TIMEOUT`); default: the offer's `timeoutMs`.
   */
  'webrtc.accept': z.object({ code: z.string().min(1).max(8192), wait: z.boolean().optional(), timeoutMs: z.number().int().positive().max(3_600_000).optional() }).strict(),
  /** The QR bundle for one member (`--for`) or every other member; `{ base64, recipients, documents, pendingBlobs }`. */
  'qr.export': z.object({ forDevice: z.string().min(1).max(200).optional() }).strict(),
  /** Apply a decoded QR bundle (all or nothing); with `reply`, also the bundle that answers its sender. */
  'qr.import': z.object({ base64: z.string().min(1).max(MAX_CONTROL_LINE), reply: z.boolean().optional() }).strict(),
  /** The report of the session an answer made by `webrtc.answer` opens, once it ended. */
  'webrtc.answered': z.object({ code: z.string().min(1).max(8192) }).strict(),
  /** The stored ICE servers (`orbit webrtc ice list|add|clear`), after clearing and/or adding one (validated); `{ iceServers }`. */
  'webrtc.ice': z.object({ add: z.string().min(1).max(512).optional(), clear: z.boolean().optional() }).strict(),
  /** The stored host-candidate addresses (`orbit webrtc host list|add|clear`); `{ hostAddresses }`. */
  'webrtc.host': z.object({ add: z.string().min(1).max(64).optional(), clear: z.boolean().optional() }).strict(),
  /** Withdraw a held offer nobody answered yet (`orbit sync --via webrtc` giving up); `{ cancelled }`. */
  'webrtc.cancel': z.object({ code: z.string().min(1).max(8192) }).strict(),
  /** The web UI's secret link and address (`orbit ui`); WireError `HTTP_OFF` under `--no-http`. */
  'ui.url': Empty,
  /**
   * Join an invite's workspace with the daemon running (`orbit pair join`, the UI's `pair/join`):
   * the daemon stops its node, joins, and starts it again; the answer is the join's result.
   */
  'pair.join': z.object({ code: z.string().min(1).max(8192), address: z.string().min(3).max(300).optional(), timeoutMs: z.number().int().positive().max(3_600_000).optional() }).strict(),
} as const

const Method = z.enum(['local-network', 'webrtc', 'qr-code'])

/** `PeerRow.sync` (src/apps/node/api.ts) as the daemon answers it. */
export const PeerSyncSchema = z.object({
  state: z.enum(['in-sync', 'behind', 'ahead', 'diverged', 'unknown']),
  behind: z.number().int().min(0),
  ahead: z.number().int().min(0),
  unknown: z.number().int().min(0),
  documents: z.number().int().min(0),
  via: Method.optional(),
  at: z.number().optional(),
  reason: z.string().optional(),
  detail: z.string().optional(),
})

/** A row of `peers`' answer `{ peers: PeerRow[] }`. */
export const PeerRowSchema = z.object({
  deviceId: z.string(),
  name: z.string(),
  addresses: z.array(z.string()),
  lastSeen: z.number().nullable(),
  paired: z.boolean(),
  revoked: z.boolean(),
  connected: z.boolean(),
  link: z.enum(['local-network', 'webrtc']).optional(),
  discovered: z.boolean(),
  sync: PeerSyncSchema,
})
export const PeersResultSchema = z.object({ peers: z.array(PeerRowSchema) })

/** One session of `sync.history`'s answer `{ sessions }` (SyncHistoryEntry, src/core/engine/session-recorder.ts). */
export const SyncHistoryEntrySchema = z.object({
  id: z.string(),
  method: Method,
  deviceId: z.string(),
  status: z.enum(['completed', 'error']),
  changesSent: z.number(),
  changesReceived: z.number(),
  bytesSent: z.number(),
  bytesReceived: z.number(),
  startedAt: z.number(),
  endedAt: z.number(),
  durationMs: z.number(),
  documents: z.number().optional(),
  error: z.object({ name: z.string(), code: z.string().optional(), message: z.string() }).optional(),
  via: z.string().optional(),
})
export const SyncHistoryResultSchema = z.object({ sessions: z.array(SyncHistoryEntrySchema) })

export type ControlOp = keyof typeof OP_PARAMS
export const CONTROL_OPS = Object.keys(OP_PARAMS) as ControlOp[]
export type OpParams<O extends ControlOp> = z.infer<(typeof OP_PARAMS)[O]>

export const RequestSchema = z
  .object({
    v: z.literal(CONTROL_VERSION),
    id: z.string().min(1).max(64),
    op: z.enum(CONTROL_OPS as [ControlOp, ...ControlOp[]]),
    params: z.record(z.string(), z.unknown()).default({}),
  })
  .strict()
export type ControlRequest = z.infer<typeof RequestSchema>

export const ErrorBodySchema = z.object({
  name: z.string(),
  code: z.string(),
  message: z.string(),
  field: z.string().optional(),
})
export type ControlErrorBody = z.infer<typeof ErrorBodySchema>

export const ResponseSchema = z.discriminatedUnion('ok', [
  z.object({ v: z.literal(CONTROL_VERSION), id: z.string(), ok: z.literal(true), result: z.unknown() }),
  z.object({ v: z.literal(CONTROL_VERSION), id: z.string(), ok: z.literal(false), error: ErrorBodySchema }),
])
export type ControlResponse = z.infer<typeof ResponseSchema>

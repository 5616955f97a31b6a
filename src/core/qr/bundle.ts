/**
 * The QR sync bundle, version 1: what a receiver lacks, compressed (bundle-codec.ts), sealed so only
 * the chosen workspace members can read it and signed by the sender (crypto/seal.ts). The
 * workspace id travels in clear in the header — so a bundle of another workspace is refused with a
 * clear message before any decryption — and is authenticated as the seal's associated data.
 *
 * ```
 * bundle := "OB" (0x4F 0x42) • u8 version 0x01 • str workspaceId • sealed
 * sealed := seal({ plaintext: payload, aad: the header bytes before `sealed` })
 * ```
 */
import type * as Automerge from '@automerge/automerge'
import { CryptoError, OrbitError, QrError } from '../errors.js'
import type { DeviceIdentity } from '../crypto/identity.js'
import { openSealed, seal, type SealRecipient } from '../crypto/seal.js'
import { applyChanges, collectChanges, type AppliedDoc, type Heads, type SourceDoc } from './apply.js'
import { decodePayload, encodePayload, type BundleDoc } from './bundle-codec.js'
import { ByteReader, ByteWriter } from './bytes.js'

export const BUNDLE_VERSION = 1
const MAGIC_0 = 0x4f
const MAGIC_1 = 0x42

/** A reader of the bundle: its device id and Ed25519 public key (e.g. a workspace MemberDevice). */
export type BundleRecipient = SealRecipient

export interface CreateBundleInput {
  workspaceId: string
  sender: DeviceIdentity
  /** Who may open it (typically every other member device, or the one `--for DEVICE`). */
  recipients: BundleRecipient[]
  docs: SourceDoc[]
  /** What the receiver is known to have, per document; absent (or no entry) = send everything. */
  knownHeads?: Record<string, Heads>
  /** Blob hashes the documents refer to but that this bundle does not carry. */
  pendingBlobs?: string[]
}

/** A verified, decrypted bundle. Nothing has been applied yet. */
export interface OpenedBundle {
  senderId: string
  workspaceId: string
  docs: BundleDoc[]
  pendingBlobs: string[]
  /** Documents left out as already known to the receiver (count and digest of their heads). */
  unchanged: { count: number; digest: Uint8Array }
}

export interface OpenBundleOptions {
  me: DeviceIdentity
  /** The Ed25519 public key of a member device, `undefined` for unknown or revoked ones. */
  resolveSender: (deviceId: string) => Uint8Array | undefined
  /** The receiver's workspace: bundles of any other one are refused. */
  workspaceId: string
}

function header(workspaceId: string): Uint8Array {
  return new ByteWriter().u8(MAGIC_0).u8(MAGIC_1).u8(BUNDLE_VERSION).str(workspaceId).finish()
}

/**
 * Builds a sealed bundle of everything the receiver lacks. Pass it to `encodeFrames`.
 *
 * @example
 * const bundle = createBundle({ workspaceId, sender: me, recipients: [peer], docs, knownHeads: peerState.heads })
 * await writeFrameSet(dir, encodeFrames(bundle))
 */
export function createBundle(input: CreateBundleInput): Uint8Array {
  if (input.recipients.length === 0) throw new QrError('a bundle needs at least one recipient', { code: 'QR_BUNDLE' })
  const { docs, unchanged } = collectChanges(input.docs, input.knownHeads)
  const payload = encodePayload({ workspaceId: input.workspaceId, docs, unchanged, pendingBlobs: input.pendingBlobs ?? [] })
  const aad = header(input.workspaceId)
  const sealed = seal({ plaintext: payload, sender: input.sender, recipients: input.recipients, aad })
  return new ByteWriter().bytes(aad).bytes(sealed).finish()
}

/** The workspace id a bundle claims, without opening it (e.g. to pick the data dir). */
export function peekBundleWorkspace(bytes: Uint8Array): string {
  return readHeader(bytes).workspaceId
}

function readHeader(bytes: Uint8Array): { workspaceId: string; aad: Uint8Array; sealed: Uint8Array } {
  const r = new ByteReader(bytes, 'QR bundle')
  if (r.u8() !== MAGIC_0 || r.u8() !== MAGIC_1) throw new QrError('not an Orbit QR bundle', { code: 'QR_BUNDLE' })
  const version = r.u8()
  if (version !== BUNDLE_VERSION) throw new QrError(`unsupported QR bundle version ${version}`, { code: 'QR_VERSION' })
  const workspaceId = r.str()
  const aad = bytes.subarray(0, r.offset)
  return { workspaceId, aad, sealed: r.take(r.remaining) }
}

/**
 * Verifies, decrypts and parses a bundle. Throws `QrError`: code `QR_FOREIGN_WORKSPACE` for a
 * bundle of another workspace, `QR_SEAL` when it is not for this device, was tampered with or its
 * sender is unknown (the `CryptoError` is the `cause`), `QR_BUNDLE`/`QR_VERSION` when malformed.
 */
export function openBundle(bytes: Uint8Array, options: OpenBundleOptions): OpenedBundle {
  const { workspaceId, aad, sealed } = readHeader(bytes)
  if (workspaceId !== options.workspaceId) {
    throw new QrError(`this bundle belongs to another workspace (${workspaceId})`, { code: 'QR_FOREIGN_WORKSPACE' })
  }
  let opened: { plaintext: Uint8Array; senderId: string }
  try {
    opened = openSealed(sealed, { me: options.me, resolveSender: options.resolveSender, aad })
  } catch (cause) {
    if (cause instanceof CryptoError || cause instanceof OrbitError) {
      throw new QrError(`the bundle cannot be opened here: ${cause.message}`, { code: 'QR_SEAL', cause })
    }
    throw cause
  }
  const payload = decodePayload(opened.plaintext)
  if (payload.workspaceId !== workspaceId) {
    throw new QrError('the bundle contents name another workspace than its header', { code: 'QR_BUNDLE' })
  }
  return {
    senderId: opened.senderId,
    workspaceId,
    docs: payload.docs,
    pendingBlobs: payload.pendingBlobs,
    unchanged: payload.unchanged ?? { count: 0, digest: new Uint8Array(8) },
  }
}

export interface ApplyBundleResult<T = unknown> {
  /** `nothing-new` when the receiver already had all of it (a replay): nothing to store. */
  status: 'applied' | 'nothing-new'
  senderId: string
  /** Every document of the bundle; store those with `changed`. The caller's documents are untouched. */
  docs: AppliedDoc<T>[]
  /** The sender's heads per document: merge into the per-peer state, pass as `knownHeads` to the reply. */
  senderHeads: Record<string, Heads>
  /** Blobs referred to but not carried: fetch them over a live tier later. */
  pendingBlobs: string[]
}

/**
 * Applies an opened bundle, all or nothing (see `applyChanges`): every document's changes are
 * loaded into clones first; if any fails, `QrError` (code `QR_APPLY`) and nothing is returned.
 * Pass `documentIds` (every document the receiver has) to also learn the sender's heads for the
 * documents it left out as unchanged.
 *
 * @example
 * const opened = openBundle(bytes, { me, resolveSender, workspaceId })
 * const result = applyBundle(opened, (id) => docs.get(id))
 * for (const d of result.docs) if (d.changed) docs.set(d.documentId, d.doc)
 * const reply = createBundle({ ..., knownHeads: result.senderHeads })
 */
export function applyBundle<T = unknown>(
  opened: OpenedBundle,
  current: (documentId: string) => Automerge.Doc<T> | undefined,
  documentIds?: string[],
): ApplyBundleResult<T> {
  const unchanged = documentIds === undefined ? undefined : { ...opened.unchanged, documentIds }
  const result = applyChanges<T>(opened.docs, current, unchanged)
  return { ...result, senderId: opened.senderId, pendingBlobs: opened.pendingBlobs }
}

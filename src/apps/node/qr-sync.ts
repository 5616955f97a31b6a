/**
 * QR sync for an open device: build the bundle a peer lacks, apply a received one (all or
 * nothing), and remember per peer the heads it is known to have (the `peer_heads` table, shared
 * with every tier: a device that last synced over LAN is known to hold what that session carried),
 * so that each bundle `--for` a device carries only what it lacks.
 */
import { flushReady } from '../../adapters/storage-sqlite/record-heads.js'
import * as Automerge from '@automerge/automerge'
import { stringifyAutomergeUrl, type AutomergeUrl, type DocHandle, type DocumentId } from '@automerge/automerge-repo'
import { PairingError, QrError } from '../../core/errors.js'
import { fromBase64Url } from '../../core/crypto/bytes.js'
import type { BlobHash, DeviceId } from '../../core/ids.js'
import { CrmWorkspace } from '../../core/model/workspace.js'
import { membershipPolicy } from '../../core/engine/membership.js'
import type { RootDoc } from '../../core/model/types.js'
import type { Heads } from '../../core/qr/apply.js'
import { applyBundle, createBundle, openBundle, peekBundleWorkspace, type BundleRecipient } from '../../core/qr/bundle.js'
import { CONFIG_KEYS } from './data-dir.js'
import type { OrbitDevice } from './device.js'
import { PENDING_JOIN_KEY, readPendingJoin, type PendingJoin } from './pair-offline.js'
import { ownData } from './join-rules.js'
import { deviceSyncState } from './sync-state.js'

export interface QrExportOptions {
  /** Only this member device may read the bundle, and it carries only what that device lacks. */
  forDevice?: string
}

export interface QrExportResult {
  bundle: Uint8Array
  recipients: string[]
  /** Documents the bundle carries changes for (all of them without `forDevice`: it cannot know what is lacking). */
  documents: number
  /** Blobs referred to that the bundle does not carry. */
  pendingBlobs: string[]
}

export interface QrImportResult {
  status: 'applied' | 'nothing-new'
  senderId: string
  /** Documents the bundle carries changes for (what `qr export` reported as its `documents`). */
  documents: number
  /** Of those, the documents that changed on this device (the others it already had). */
  changedDocuments: number
  /** Blobs the bundle refers to that this device does not have yet (a live tier fetches them). */
  pendingBlobs: string[]
  /** Set when this bundle completed an offline join: the workspace this device now shows. */
  adoptedWorkspace?: string
}

/**
 * A workspace adopted by a pending offline joiner during this open (see {@link importQrBundle}):
 * `device.workspace` still shows the old one until the device is opened again, so a reply
 * written in the same run must use this one.
 */
const adopted = new WeakMap<OrbitDevice, CrmWorkspace>()

function workspaceOf(device: OrbitDevice): CrmWorkspace {
  return adopted.get(device) ?? device.workspace
}

async function handlesById(device: OrbitDevice): Promise<Map<string, DocHandle<unknown>>> {
  const handles = await workspaceOf(device).allHandles()
  return new Map(handles.map((h) => [h.documentId as string, h]))
}

/** Senders and recipients are current members: the membership policy decides, as on every tier. */
function memberKey(device: OrbitDevice, deviceId: string): Uint8Array | undefined {
  return membershipPolicy(workspaceOf(device)).memberKey(deviceId)
}

/** The heads `peerId` is known to have, per document, learnt on any tier (empty when never heard from). */
export function peerHeads(device: OrbitDevice, peerId: string): Record<string, Heads> {
  return deviceSyncState(device).knownHeads(peerId)
}

/** Stores the sender's heads of a bundle just applied, with this device's heads now (all loaded). */
function rememberSenderHeads(device: OrbitDevice, senderId: string, senderHeads: Record<string, Heads>, ours: (documentId: string) => string[] | undefined): void {
  const at = Date.now()
  deviceSyncState(device).heads.put(
    senderId,
    Object.entries(senderHeads)
      .filter(([, heads]) => heads.length > 0)
      // Applied all or nothing: this device now holds every head the sender stated.
      .map(([documentId, heads]) => ({ documentId, heads: [...heads], ours: ours(documentId), contained: true, via: 'qr-code' as const, at })),
  )
}

function referencedBlobs(handles: Iterable<DocHandle<unknown>>): string[] {
  const found = new Set<string>()
  const visit = (records: unknown): void => {
    if (records === null || typeof records !== 'object') return
    for (const record of Object.values(records as Record<string, unknown>)) {
      const logo = (record as { logo?: unknown } | null)?.logo
      if (typeof logo === 'string') found.add(logo)
    }
  }
  for (const h of handles) {
    const doc = h.doc() as { orgs?: unknown; contacts?: unknown } | undefined
    visit(doc?.orgs)
    visit(doc?.contacts)
  }
  return [...found].sort()
}

/**
 * The bundle to show another device. With `forDevice`, sealed for that device only and holding only
 * what it is known to lack; otherwise sealed for every other member and holding everything.
 */
export async function exportQrBundle(device: OrbitDevice, options: QrExportOptions = {}): Promise<QrExportResult> {
  const me = device.identity.deviceId
  let recipients: BundleRecipient[]
  if (options.forDevice !== undefined) {
    const key = memberKey(device, options.forDevice)
    if (key === undefined || options.forDevice === me) {
      throw new QrError(`${options.forDevice} is not another member device of this workspace (see \`orbit peers\`)`, { code: 'QR_RECIPIENT' })
    }
    // memberKey() only returns a key for a recorded member, so the id is a real device id.
    recipients = [{ deviceId: options.forDevice as DeviceId, publicKey: key }]
  } else {
    const policy = membershipPolicy(workspaceOf(device))
    recipients = policy.peers(me).map((id) => ({ deviceId: id, publicKey: policy.memberKey(id)! }))
    if (recipients.length === 0) {
      throw new QrError('no other device in this workspace yet: pair one first (`orbit pair invite`)', { code: 'QR_RECIPIENT' })
    }
  }
  const handles = await handlesById(device)
  const docs = [...handles].map(([documentId, h]) => ({ documentId, doc: h.doc() as Automerge.Doc<unknown> }))
  const knownHeads = options.forDevice === undefined ? undefined : peerHeads(device, options.forDevice)
  const pendingBlobs = referencedBlobs(handles.values())
  const bundle = createBundle({
    workspaceId: workspaceOf(device).workspaceId,
    sender: device.identity,
    recipients,
    docs,
    ...(knownHeads === undefined ? {} : { knownHeads }),
    pendingBlobs,
  })
  // What the bundle carries, by the rule createBundle uses (collectChanges in src/core/qr/apply.ts):
  // heads the peer is said to know but this device lacks do not count as known. The import reports
  // the same number as the bundle's documents, and how many of them changed anything there.
  const documents = docs.filter(({ documentId, doc }) => {
    const heads = Automerge.getHeads(doc)
    const known = (knownHeads?.[documentId] ?? []).filter((h) => Automerge.hasHeads(doc, [h]))
    return known.length !== heads.length || heads.some((x) => !known.includes(x))
  }).length
  return { bundle, recipients: recipients.map((r) => r.deviceId), documents, pendingBlobs }
}

/**
 * Opens, verifies and applies a bundle: all documents or none. Remembers the sender's heads so a
 * reply (`exportQrBundle(device, { forDevice: result.senderId })`) is minimal.
 */
export async function importQrBundle(device: OrbitDevice, bytes: Uint8Array): Promise<QrImportResult> {
  const pending = adopted.has(device) ? undefined : readPendingJoin(device.config)
  if (pending !== undefined && peekBundleWorkspace(bytes) === pending.workspaceId && pending.workspaceId !== device.workspace.workspaceId) {
    return adoptFirstBundle(device, bytes, pending)
  }
  const opened = openBundle(bytes, {
    me: device.identity,
    workspaceId: workspaceOf(device).workspaceId,
    resolveSender: (id) => memberKey(device, id),
  })
  const handles = await handlesById(device)
  const unknown = opened.docs.find((d) => !handles.has(d.documentId))
  if (unknown !== undefined) {
    throw new QrError(`the bundle holds document ${unknown.documentId}, which is not part of this workspace here`, { code: 'QR_APPLY' })
  }
  // Verified on clones first (throws before anything changes); then applied to the live handles.
  const result = applyBundle(opened, (id) => handles.get(id)?.doc() as Automerge.Doc<unknown> | undefined, [...handles.keys()])
  let changed = 0
  for (const item of result.docs) {
    if (!item.changed) continue
    const changes = opened.docs.find((d) => d.documentId === item.documentId)!.changes
    handles.get(item.documentId)!.update((doc) => Automerge.loadIncremental(doc, changes))
    changed++
  }
  rememberSenderHeads(device, opened.senderId, result.senderHeads, (id) => {
    const doc = handles.get(id)?.doc() as Automerge.Doc<unknown> | undefined
    return doc === undefined ? undefined : Automerge.getHeads(doc)
  })
  const missing: string[] = []
  for (const hash of result.pendingBlobs) {
    if (!/^[0-9a-f]{64}$/.test(hash) || !(await device.blobs.has(hash as BlobHash))) missing.push(hash)
  }
  return { status: result.status, senderId: opened.senderId, documents: opened.docs.length, changedDocuments: changed, pendingBlobs: missing }
}

/**
 * A pending offline joiner's first bundle (docs/protocol/pairing.md, "QR-only pairing"): opened only
 * if sealed to this device and signed by the inviter named in the invite; it must hold the whole
 * workspace — its root (type `orbit-root`, the invite's workspace id, this device a member) and
 * every shard the root lists, nothing else. Then the documents are stored, the config's root URL
 * becomes the inviter's (the layout is re-recorded and re-projected on the next open, as after a
 * live join) and the pending join is forgotten. Anything else: QrError (PairingError
 * `WORKSPACE_NOT_EMPTY` if this device made data of its own meanwhile), nothing stored.
 */
async function adoptFirstBundle(device: OrbitDevice, bytes: Uint8Array, pending: PendingJoin): Promise<QrImportResult> {
  const inviterKey = fromBase64Url(pending.inviterPublicKey, 'inviterPublicKey')
  const opened = openBundle(bytes, {
    me: device.identity,
    workspaceId: pending.workspaceId,
    resolveSender: (id) => (id === pending.inviterDeviceId ? inviterKey : undefined),
  })
  const result = applyBundle(opened, () => undefined)
  const docs = new Map(result.docs.map((d) => [d.documentId, d.doc]))
  const roots = result.docs.filter((d) => {
    const doc = d.doc as Partial<RootDoc>
    return doc.type === 'orbit-root' && doc.workspaceId === pending.workspaceId
  })
  const refuse = (why: string): QrError => new QrError(`this first bundle of workspace ${pending.workspaceId} cannot be adopted: ${why}`, { code: 'QR_APPLY' })
  if (roots.length !== 1) throw refuse('it does not carry the workspace root; ask the inviter for a full export (`orbit qr export --for <this device>`)')
  const rootId = roots[0]!.documentId
  const root = roots[0]!.doc as Partial<RootDoc>
  const me = device.identity.deviceId
  if (root.devices?.[me] === undefined || root.revocations?.[me] !== undefined || root.devices[me]?.revokedAt !== undefined) {
    throw refuse('this device is not a member yet; the inviter runs `orbit pair accept` with this device\'s acceptance code first')
  }
  // Same rule as when the join started: adopting must not hide data made here since.
  if ((await ownData(device.workspace, me)).total > 0) {
    throw new PairingError(
      'this device has data of its own since `orbit pair join --offline` (contacts, organizations or devices); adopting the workspace would hide it. Join from a fresh data dir instead',
      { code: 'WORKSPACE_NOT_EMPTY' },
    )
  }
  const shardIds = (Array.isArray(root.shards) ? root.shards : []).map((u) => (u.startsWith('automerge:') ? u.slice('automerge:'.length) : u))
  const expected = new Set([rootId, ...shardIds])
  if (shardIds.length === 0 || shardIds.some((id) => !docs.has(id)) || [...docs.keys()].some((id) => !expected.has(id))) {
    throw refuse('it does not hold exactly the workspace root and its shards')
  }
  for (const [documentId, doc] of docs) {
    device.repo.import(Automerge.save(doc), { docId: documentId as DocumentId })
  }
  await flushReady(device.repo)
  const rootUrl = stringifyAutomergeUrl({ documentId: rootId as DocumentId })
  const workspace = await CrmWorkspace.open(device.repo, rootUrl as AutomergeUrl)
  adopted.set(device, workspace)
  device.db.transaction(() => {
    device.config.set(CONFIG_KEYS.rootUrl, rootUrl)
    device.config.delete(CONFIG_KEYS.rootDocId)
    device.config.delete(CONFIG_KEYS.shardDocIds)
    device.config.delete(PENDING_JOIN_KEY)
    rememberSenderHeads(device, opened.senderId, result.senderHeads, (id) => {
      const doc = docs.get(id) as Automerge.Doc<unknown> | undefined
      return doc === undefined ? undefined : Automerge.getHeads(doc)
    })
  })
  const missing: string[] = []
  for (const hash of result.pendingBlobs) {
    if (!/^[0-9a-f]{64}$/.test(hash) || !(await device.blobs.has(hash as BlobHash))) missing.push(hash)
  }
  return { status: 'applied', senderId: opened.senderId, documents: docs.size, changedDocuments: docs.size, pendingBlobs: missing, adoptedWorkspace: pending.workspaceId }
}

/**
 * QR sync for an open device: build the bundle a peer lacks, apply a received one (all or
 * nothing), and remember per peer the heads it is known to have (config key
 * `qr.peerHeads.<deviceId>`), so that each reply carries only what the other side lacks.
 */
import * as Automerge from '@automerge/automerge'
import type { DocHandle } from '@automerge/automerge-repo'
import { QrError } from '../../core/errors.js'
import { fromBase64Url } from '../../core/crypto/bytes.js'
import type { BlobHash, DeviceId } from '../../core/ids.js'
import type { Heads } from '../../core/qr/apply.js'
import { applyBundle, createBundle, openBundle, type BundleRecipient } from '../../core/qr/bundle.js'
import type { OrbitDevice } from './device.js'

const PEER_HEADS_KEY = 'qr.peerHeads.'

export interface QrExportOptions {
  /** Only this member device may read the bundle, and it carries only what that device lacks. */
  forDevice?: string
}

export interface QrExportResult {
  bundle: Uint8Array
  recipients: string[]
  /** Documents with changes in the bundle. */
  documents: number
  /** Blobs referred to that the bundle does not carry. */
  pendingBlobs: string[]
}

export interface QrImportResult {
  status: 'applied' | 'nothing-new'
  senderId: string
  /** Documents that changed on this device. */
  changedDocuments: number
  /** Blobs the bundle refers to that this device does not have yet (a live tier fetches them). */
  pendingBlobs: string[]
}

async function handlesById(device: OrbitDevice): Promise<Map<string, DocHandle<unknown>>> {
  const handles = await device.workspace.allHandles()
  return new Map(handles.map((h) => [h.documentId as string, h]))
}

function memberKey(device: OrbitDevice, deviceId: string): Uint8Array | undefined {
  if (device.workspace.memberStatus(deviceId) !== 'member') return undefined
  const record = device.workspace.getDevice(deviceId)
  return record === undefined ? undefined : fromBase64Url(record.publicKey, 'publicKey')
}

/** The heads `peerId` is known to have, per document (empty when never heard from). */
export function peerHeads(device: OrbitDevice, peerId: string): Record<string, Heads> {
  const value = device.config.get<Record<string, Heads>>(PEER_HEADS_KEY + peerId)
  return value !== undefined && typeof value === 'object' && value !== null ? value : {}
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
    recipients = device.workspace
      .listDevices()
      .filter((d) => d.id !== me && device.workspace.memberStatus(d.id) === 'member')
      .map((d) => ({ deviceId: d.id, publicKey: fromBase64Url(d.publicKey, 'publicKey') }))
    if (recipients.length === 0) {
      throw new QrError('no other device in this workspace yet: pair one first (`orbit pair invite`)', { code: 'QR_RECIPIENT' })
    }
  }
  const handles = await handlesById(device)
  const docs = [...handles].map(([documentId, h]) => ({ documentId, doc: h.doc() as Automerge.Doc<unknown> }))
  const knownHeads = options.forDevice === undefined ? undefined : peerHeads(device, options.forDevice)
  const pendingBlobs = referencedBlobs(handles.values())
  const bundle = createBundle({
    workspaceId: device.workspace.workspaceId,
    sender: device.identity,
    recipients,
    docs,
    ...(knownHeads === undefined ? {} : { knownHeads }),
    pendingBlobs,
  })
  const documents = docs.filter(({ documentId, doc }) => {
    const known = knownHeads?.[documentId]
    const heads = Automerge.getHeads(doc)
    return known === undefined || known.length !== heads.length || heads.some((x) => !known.includes(x))
  }).length
  return { bundle, recipients: recipients.map((r) => r.deviceId), documents, pendingBlobs }
}

/**
 * Opens, verifies and applies a bundle: all documents or none. Remembers the sender's heads so a
 * reply (`exportQrBundle(device, { forDevice: result.senderId })`) is minimal.
 */
export async function importQrBundle(device: OrbitDevice, bytes: Uint8Array): Promise<QrImportResult> {
  const opened = openBundle(bytes, {
    me: device.identity,
    workspaceId: device.workspace.workspaceId,
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
  const known = peerHeads(device, opened.senderId)
  device.config.set(PEER_HEADS_KEY + opened.senderId, { ...known, ...result.senderHeads })
  const missing: string[] = []
  for (const hash of result.pendingBlobs) {
    if (!/^[0-9a-f]{64}$/.test(hash) || !(await device.blobs.has(hash as BlobHash))) missing.push(hash)
  }
  return { status: result.status, senderId: opened.senderId, changedDocuments: changed, pendingBlobs: missing }
}

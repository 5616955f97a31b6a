/**
 * `orbit pair join CODE`: the joining device's side of pairing, end to end.
 *
 * 1. Parse the invite (code text, or the text of its QR code) and check it has not expired.
 * 2. The local workspace must be empty (only this device, no contacts, no organizations): joining
 *    replaces which workspace this data dir shows, so data would be hidden — refused, with a
 *    clear message, rather than lost.
 * 3. Pair over the secure channel with the device that issued the invite (its key is in the
 *    invite: nobody else can answer), proving the one-time secret.
 * 4. Connect again as a member and sync the inviter's workspace until both sides' heads match.
 * 5. Adopt it: the config's root URL becomes the inviter's, the listing layout is re-recorded and
 *    re-projected on the next open, and the inviter's address is remembered for the daemon.
 *
 * Runs without a daemon on this data dir (a running one holds the store: stop it first).
 */
import { flushReady } from '../../adapters/storage-sqlite/record-heads.js'
import { connect } from 'node:net'
import { isValidAutomergeUrl, parseAutomergeUrl, type AutomergeUrl, type DocHandle, type DocumentId, type Repo } from '@automerge/automerge-repo'
import { HandshakeError, OrbitError, PairingError, StoreError, WireError } from '../../core/errors.js'
import { silentLogger, type Logger } from '../../core/log.js'
import { CrmWorkspace } from '../../core/model/workspace.js'
import { assertInviteUsable, joinWithInvite, parseInviteCode, type Invite, type PairAccept } from '../../core/pairing/index.js'
import type { DeviceIdentity } from '../../core/crypto/identity.js'
import { fixedMembership } from '../../core/engine/membership.js'
import { settleSyncStateSaves, workspaceDocIds } from '../../core/engine/sync-session.js'
import { FramedSocket } from '../../adapters/transport-tcp/framed-socket.js'
import { DEFAULT_MAX_FRAME_BYTES } from '../../adapters/transport-tcp/index.js'
import { CONFIG_KEYS } from './data-dir.js'
import { assertMayJoin } from './join-rules.js'
import { lockWriters, openDevice, recordLayout } from './device.js'
import { IndexProjector } from './projection.js'
import { readDaemonLock } from './lock.js'
import { parseHostPort, rememberPeerAddress } from './known-peers.js'
import { DEFAULT_SYNC_TIMEOUT_MS, LanTier } from './tiers/lan-tier.js'

export interface JoinOptions {
  /** Try this `host:port` instead of the invite's addresses. */
  address?: string
  timeoutMs?: number
  logger?: Logger
  now?: () => number
}

/** What `orbit pair join` prints. */
export interface JoinResult {
  workspace: { id: string; name: string }
  inviter: { deviceId: string; name: string; address: string }
  members: Array<{ deviceId: string; name: string }>
  contacts: number
  organizations: number
  durationMs: number
}

/**
 * @throws PairingError (`MALFORMED`, `CHECKSUM`, `EXPIRED`, `REFUSED`, `WORKSPACE_NOT_EMPTY`,
 *   `ALREADY_MEMBER`, ...), StoreError (`DAEMON_RUNNING`, `NOT_INITIALISED`), WireError/HandshakeError
 *   when the inviter cannot be reached.
 */
export async function joinWorkspace(dataDir: string, codeText: string, options: JoinOptions = {}): Promise<JoinResult> {
  // A bad code is refused first, whatever else is true (and again, cheaply, in `join`).
  assertInviteUsable(parseInviteCode(codeText), (options.now ?? Date.now)())
  const daemon = readDaemonLock(dataDir)
  if (daemon !== undefined) {
    throw new StoreError(
      `orbit serve is running on ${dataDir} (pid ${daemon.pid}); joining replaces this device's workspace, so stop it first, run \`orbit pair join\`, then start \`orbit serve\` again`,
      { code: 'DAEMON_RUNNING' },
    )
  }
  // The data dir's one writer while it joins (writer-lock.ts).
  const unlock = await lockWriters(dataDir)
  try {
    return await join(dataDir, codeText, options)
  } finally {
    unlock()
  }
}

async function join(dataDir: string, codeText: string, options: JoinOptions): Promise<JoinResult> {
  const now = options.now ?? Date.now
  const started = now()
  const invite = parseInviteCode(codeText)
  assertInviteUsable(invite, now())
  const log = options.logger ?? silentLogger
  const device = await openDevice(dataDir, { logger: log, now })
  let accept: PairAccept | undefined
  let address = ''
  // The wait for automerge-repo's throttled sync-state saves (sync-session.ts) runs beside the
  // projection below: the store stays open until both are done.
  let syncStatesSaved: Promise<void> = Promise.resolve()
  try {
    const ws = device.workspace
    const me = device.identity.deviceId
    await assertMayJoin(ws, me, invite, 'pair join CODE', '; run `orbit sync` to sync it')

    // Pair with the first address that answers; a refusal is final (the secret is single-use).
    const addresses = options.address === undefined ? invite.addresses : [options.address]
    let lastError: unknown = new WireError('the invite carries no address; give one with --address HOST:PORT', { code: 'NO_ADDRESS' })
    for (const candidate of addresses) {
      try {
        accept = await pairAt(candidate, invite, device.identity, device.deviceName, now)
        address = candidate
        break
      } catch (error) {
        if (error instanceof PairingError) throw error
        lastError = error
      }
    }
    if (accept === undefined) {
      throw lastError instanceof OrbitError ? lastError : new WireError(`cannot reach the inviting device: ${String(lastError)}`, { code: 'UNREACHABLE' })
    }

    // First sync, as a member now, into the inviter's workspace (only its members are accepted:
    // the pairing answer names them, before the root that lists them has arrived).
    // Only the inviter's workspace travels: its root now, its shards once the root names them.
    const share = workspaceDocIds(accept.rootUrl, [])
    let handles: DocHandle<unknown>[] = []
    // How many updates each shard's document took: one means it arrived whole, in one step.
    const updates = new Map<DocumentId, number>()
    const link = new LanTier({
      device,
      policy: fixedMembership(accept.members),
      share,
      handles: async () => handles,
      ...(options.logger === undefined ? {} : { logger: options.logger }),
    })
    try {
      const { host, port } = parseHostPort(address)
      const { peerId } = await link.dial(host, port, invite.inviterDeviceId)
      // Plain handles, not a CrmWorkspace: its shard adoption on first arrival is not needed here.
      handles = await fetchWorkspaceDocs(device.repo, accept.rootUrl, share, updates)
      await link.watcher.until(async () => handles, peerId, { timeoutMs: options.timeoutMs ?? DEFAULT_SYNC_TIMEOUT_MS })
      await flushReady(device.repo)
    } finally {
      await link.close()
      syncStatesSaved = settleSyncStateSaves()
    }

    // Project the listing now, from the documents still in memory: the re-open below then finds
    // every shard clean and loads none of them (reloading them all from SQLite was a third of a
    // 10k join). A shard that arrived in one update was materialized from nothing in one step, as
    // a load is, and its object is read; one that took several sync batches is read from its
    // state, which costs a second materialization (projection.ts, the module comment).
    const joined = await CrmWorkspace.open(device.repo, accept.rootUrl as AutomergeUrl, { now, logger: log })
    const projector = new IndexProjector(device.db, device.repo, joined, device.index, device.orgIndex, device.config, log.forComponent('orbit:projection'))
    const inOneStep = (n: number): boolean => updates.get(parseAutomergeUrl(joined.shardUrls[n] as AutomergeUrl).documentId) === 1
    await projector.rebuildDirty({ fromState: (n) => !inOneStep(n) })
    const config = device.config
    const rootUrl = accept.rootUrl
    device.db.transaction(() => {
      config.set(CONFIG_KEYS.rootUrl, rootUrl)
      recordLayout(config, joined)
      rememberPeerAddress(config, invite.inviterDeviceId, address)
    })
  } finally {
    await syncStatesSaved
    await device.close()
  }

  const fresh = await openDevice(dataDir, { ...(options.logger === undefined ? {} : { logger: options.logger }), now })
  try {
    const ws = fresh.workspace
    return {
      workspace: { id: ws.workspaceId, name: ws.name },
      inviter: { deviceId: invite.inviterDeviceId, name: invite.inviterName, address },
      members: ws.listDevices().filter((d) => ws.memberStatus(d.id) === 'member').map((d) => ({ deviceId: d.id, name: d.name })),
      // From the listing (clean: projected above), not by loading every shard again.
      contacts: fresh.index.count(),
      organizations: fresh.orgIndex.count(),
      durationMs: now() - started,
    }
  } finally {
    await fresh.close()
  }
}

async function pairAt(address: string, invite: Invite, identity: DeviceIdentity, name: string, now: () => number): Promise<PairAccept> {
  const { host, port } = parseHostPort(address)
  const socket = connect({ host, port })
  const framed = new FramedSocket(socket, DEFAULT_MAX_FRAME_BYTES)
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new WireError(`no answer from ${address}`, { code: 'TIMEOUT' })), 5000)
      socket.once('connect', () => {
        clearTimeout(timer)
        resolve()
      })
      framed.onClose((error) => {
        clearTimeout(timer)
        reject(error ?? new WireError('closed', { code: 'CLOSED' }))
      })
    })
    try {
      const { accept } = await joinWithInvite(framed.io, { invite, identity, deviceName: name, now: now() })
      return accept
    } catch (error) {
      // The inviter refuses unknown devices at the handshake when it has no pending invite: to the
      // user that is the same answer as a wrong secret, and must not say more.
      if (error instanceof HandshakeError && error.code === 'REFUSED') {
        throw new PairingError('pairing was refused: the invite is wrong, expired or already used; ask for a new one', { code: 'REFUSED', cause: error })
      }
      throw error
    }
  } finally {
    framed.close()
  }
}

/**
 * The inviter's root document, then every shard it lists, fetched over the connected peer; each
 * once it is ready. `updates` counts the updates (heads changes) of each shard's handle from its
 * creation: it is watched before any sync message can reach it (`find` creates the handle
 * synchronously; messages are handled on later ticks).
 */
async function fetchWorkspaceDocs(repo: Repo, rootUrl: string, share: Set<string>, updates: Map<DocumentId, number>): Promise<DocHandle<unknown>[]> {
  let root: DocHandle<unknown>
  try {
    root = await repo.find(rootUrl as AutomergeUrl)
  } catch (cause) {
    throw new PairingError('the inviting device did not send its workspace', { code: 'UNAVAILABLE', cause })
  }
  const doc = root.doc() as { type?: unknown; shards?: unknown }
  const shards = doc.shards
  if (doc.type !== 'orbit-root' || !Array.isArray(shards) || shards.length === 0 || !shards.every((u) => typeof u === 'string' && isValidAutomergeUrl(u))) {
    throw new PairingError('the inviting device sent something that is not an Orbit workspace', { code: 'MALFORMED' })
  }
  for (const id of workspaceDocIds(rootUrl, shards as string[])) share.add(id)
  const loaded = await Promise.all(
    (shards as AutomergeUrl[]).map((u) => {
      const found = repo.find(u)
      const { documentId } = parseAutomergeUrl(u)
      const handle = repo.handles[documentId]
      if (handle !== undefined && !updates.has(documentId)) {
        updates.set(documentId, 0)
        handle.on('heads-changed', () => updates.set(documentId, (updates.get(documentId) ?? 0) + 1))
      }
      return found
    }),
  )
  return [root, ...loaded]
}

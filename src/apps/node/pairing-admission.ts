/**
 * Pairing admission on a running node (docs/protocol/pairing.md): it issues one-time invites,
 * keeps them in SQLite, tells the membership policy whether pairing is open (an invite is
 * pending), and answers a joiner's pairing session: on a correct secret the joiner becomes a
 * member of the workspace (replicated to every other member with the next sync).
 */
import { silentLogger, type Logger } from '../../core/log.js'
import { decodePublicKey, encodePublicKey } from '../../core/crypto/identity.js'
import { answerPairing, createInvite, type Joiner, type PairWorkspace, type PendingInvite } from '../../core/pairing/index.js'
import type { DeviceInfo } from '../../core/sync/types.js'
import type { PairingConnection } from '../../adapters/transport-tcp/index.js'
import type { InviteInfo } from './api.js'
import type { OrbitDevice } from './device.js'
import { SqliteInviteStore } from './invite-store-sqlite.js'

export interface PairingAdmissionOptions {
  device: OrbitDevice
  /** Addresses put into invites. */
  addresses: () => string[]
  /** A device just paired (for the peers view). */
  onPaired?: (peer: DeviceInfo) => void
  logger?: Logger
  now?: () => number
}

/** Refused pairing attempts after which every pending invite is withdrawn (docs/protocol/pairing.md). */
export const MAX_FAILED_PAIRINGS = 5
/** After a refused attempt, the next one is answered no sooner than this (ms). */
export const PAIRING_RETRY_DELAY_MS = 1000

export class PairingAdmission {
  readonly invites: SqliteInviteStore
  readonly #o: PairingAdmissionOptions
  readonly #log: Logger
  readonly #now: () => number
  /** Refused attempts since the last invite was issued or withdrawn. */
  #failures = 0
  /** When the last attempt was refused (0: none): the next answer waits for the retry delay. */
  #lastFailureAt = 0

  constructor(options: PairingAdmissionOptions) {
    this.#o = options
    this.invites = new SqliteInviteStore(options.device.db)
    this.#log = (options.logger ?? silentLogger).forComponent('orbit:pairing')
    this.#now = options.now ?? Date.now
  }

  /** Whether an unknown device may pair now: an invite is pending (the policy's `pairingOpen`). */
  isOpen(): boolean {
    return this.pending() > 0
  }

  pending(): number {
    return this.invites.list(this.#now()).length
  }

  async createInvite(ttlMs?: number): Promise<InviteInfo> {
    const { device } = this.#o
    const ws = device.workspace
    const addresses = this.#o.addresses()
    const { code, pending, invite } = createInvite({
      identity: device.identity,
      workspaceId: ws.workspaceId,
      deviceName: device.deviceName,
      addresses,
      now: this.#now(),
      ...(ttlMs === undefined ? {} : { ttlMs }),
    })
    await this.invites.purgeExpired(this.#now())
    await this.invites.put(pending)
    this.#failures = 0
    return {
      code,
      expiresAt: invite.expiresAt,
      addresses,
      inviter: { deviceId: device.identity.deviceId, name: device.deviceName },
      workspace: { id: ws.workspaceId, name: ws.name },
    }
  }

  /**
   * Answers one pairing session (the transport's `onPairingSession`), then closes it. Guessing is
   * bounded: after a refusal the next attempt is answered no sooner than
   * {@link PAIRING_RETRY_DELAY_MS}, and after {@link MAX_FAILED_PAIRINGS} refusals every pending
   * invite is withdrawn (the user makes a new one).
   */
  async answer(conn: PairingConnection): Promise<void> {
    try {
      const wait = this.#lastFailureAt + PAIRING_RETRY_DELAY_MS - this.#now()
      if (this.#lastFailureAt > 0 && wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
      const decision = await answerPairing(conn.io, conn.session, { store: this.invites, now: this.#now, admit: (invite, joiner) => this.#admit(invite, joiner) })
      if (!decision.accepted) await this.#refused()
      if (decision.accepted) {
        this.#log.info('device paired', { deviceId: decision.joiner.deviceId, name: decision.joiner.name })
        this.#o.onPaired?.({
          deviceId: decision.joiner.deviceId,
          deviceName: decision.joiner.name,
          lastSeen: this.#now(),
          addresses: conn.remoteAddress === undefined ? [] : [conn.remoteAddress],
          paired: true,
        })
      } else this.#log.info('pairing refused', { remote: conn.remoteAddress })
      // Let the joiner read the answer and hang up first (closing now could cut the last frame).
      await conn.io.receive(AbortSignal.timeout(5000)).catch(() => undefined)
    } catch (error) {
      this.#log.info('pairing failed', { error: String(error) })
    } finally {
      conn.close()
    }
  }

  async #refused(): Promise<void> {
    this.#lastFailureAt = this.#now()
    if (++this.#failures < MAX_FAILED_PAIRINGS) return
    this.#failures = 0
    const withdrawn = await this.invites.list(this.#now())
    for (const invite of withdrawn) await this.invites.take(invite.secretHash)
    if (withdrawn.length > 0) {
      this.#log.warn(`${MAX_FAILED_PAIRINGS} pairing attempts were refused: every pending invite is withdrawn; make a new one with \`orbit pair invite\``, { withdrawn: withdrawn.length })
    }
  }

  purgeExpired(): Promise<void> {
    return Promise.resolve(this.invites.purgeExpired(this.#now())).then(() => undefined)
  }

  async #admit(_invite: PendingInvite, joiner: Joiner): Promise<PairWorkspace> {
    const { device } = this.#o
    const ws = device.workspace
    await ws.addDevice({
      id: joiner.deviceId,
      publicKey: encodePublicKey(joiner.publicKey),
      name: joiner.name || 'device',
      addedAt: this.#now(),
      addedBy: device.identity.deviceId,
    })
    await device.flush()
    const members = ws
      .listDevices()
      .filter((d) => ws.memberStatus(d.id) === 'member')
      .slice(0, 255)
      .map((d) => ({ deviceId: d.id, publicKey: decodePublicKey(d.publicKey), name: d.name }))
    return { workspaceName: ws.name, rootUrl: ws.rootUrl, members }
  }
}

/**
 * The acceptance suite of the tier port (src/core/engine/tier.ts): every tier — LAN, WebRTC, QR —
 * runs it with real parts (loopback TCP, werift on 127.0.0.1, QR frames rendered to PNG and
 * decoded from the pixels). A tier file supplies two member devices with a tier each, and for
 * tiers that need something carried by hand, a carrier that hands A's output to B's `respond`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateIdentity } from '../../src/core/crypto/identity.js'
import type { DeviceId } from '../../src/core/ids.js'
import { SyncReportSchema, type SyncReport } from '../../src/core/engine/sync-session.js'
import type { Carrier, Tier } from '../../src/core/engine/tier.js'
import { SYNC_METHODS, type SyncMethod } from '../../src/core/sync/types.js'
import type { SyncStore } from '../../src/core/sync/store.js'
import type { OrbitDevice } from '../../src/apps/node/device.js'

export interface TierEnd {
  device: OrbitDevice
  tier: Tier
  store: SyncStore
}

export interface TierPair {
  a: TierEnd
  b: TierEnd
  /** For tiers whose `reach` says `needs-code`: carries A's output to B's `respond` and back. */
  carrier?: Carrier
  close(): Promise<void>
}

/** A carrier that hands what A produced to B's tier and brings back B's reply (and keeps B's report). */
export function respondingCarrier(b: () => Tier, reports: Array<Promise<SyncReport>>): Carrier {
  return {
    async carry(outgoing) {
      const response = await b().respond!(outgoing)
      reports.push(response.report)
      if (response.reply === undefined) throw new Error('the peer tier gave no reply')
      return response.reply
    },
  }
}

async function contactNames(device: OrbitDevice): Promise<string[]> {
  return (await device.workspace.listContacts()).map((c) => c.name).sort()
}

export function runTierAcceptance(method: SyncMethod, setup: () => Promise<TierPair>): void {
  describe(`tier acceptance: ${method}`, () => {
    let pair: TierPair
    beforeAll(async () => {
      pair = await setup()
    }, 60_000)
    afterAll(async () => {
      await pair?.close()
    }, 60_000)

    it('names its method, and its priority is the method’s place among SYNC_METHODS', () => {
      expect(pair.a.tier.method).toBe(method)
      expect(pair.a.tier.priority).toBe(SYNC_METHODS.indexOf(method))
    })

    it('refuses a device outside the workspace with a reason, and a session with it with a typed error', async () => {
      const stranger = generateIdentity().deviceId as DeviceId
      expect(pair.a.tier.reach(stranger)).toMatchObject({ ok: false, reason: 'not-member' })
      const error = await pair.a.tier.session(stranger, pair.carrier === undefined ? {} : { carrier: pair.carrier }).catch((e: unknown) => e)
      expect(error).toMatchObject({ name: 'WireError', code: 'NOT_MEMBER' })
    })

    it('says whether it can reach the member now, and a carrier is needed exactly when it says `needs-code`', () => {
      const reach = pair.a.tier.reach(pair.b.device.identity.deviceId)
      if (reach.ok) expect(pair.carrier).toBeUndefined()
      else {
        expect(reach.reason).toBe('needs-code')
        expect(pair.carrier).toBeDefined()
      }
    })

    it('a session converges both devices, reports in the tier-neutral shape and is recorded in the sync store', async () => {
      await pair.a.device.workspace.addContact({ name: `Ada via ${method}` })
      await pair.b.device.workspace.addContact({ name: `Grace via ${method}` })
      const b = pair.b.device.identity.deviceId
      const report = await pair.a.tier.session(b, { timeoutMs: 30_000, ...(pair.carrier === undefined ? {} : { carrier: pair.carrier }) })
      expect(SyncReportSchema.parse(report)).toEqual(report)
      expect(report).toMatchObject({ method, status: 'completed', peer: { deviceId: b } })
      expect(report.bytesSent).toBeGreaterThan(0)
      expect(report.bytesReceived).toBeGreaterThan(0)
      expect(report.documents).toBeGreaterThan(0)
      await pair.b.device.flush()
      const both = [`Ada via ${method}`, `Grace via ${method}`]
      expect(await contactNames(pair.a.device)).toEqual(expect.arrayContaining(both))
      // The peer may still be applying the last message when A's side is in sync: wait for it by evidence.
      for (let i = 0; !(await contactNames(pair.b.device)).includes(both[0]!); i++) {
        if (i > 200) throw new Error(`B never saw A's contact over ${method}`)
        await new Promise((r) => setTimeout(r, 50))
      }
      expect(await contactNames(pair.b.device)).toEqual(expect.arrayContaining(both))
      // Recorded through the session recorder: finished (one exchange, or a closed channel), or
      // — a live link that stays up — still active, with the traffic counted so far.
      const state = pair.a.store.getState()
      const recorded = [...state.recentSessions, ...Object.values(state.activeSessions)].find((s) => s.method === method && s.peerId === b)
      expect(recorded).toMatchObject({ method, peerId: b })
      expect(['completed', 'syncing']).toContain(recorded!.status)
      expect(recorded!.bytesSent + recorded!.bytesReceived).toBeGreaterThan(0)
    }, 90_000)

    it('refuses a member once it is revoked (reach and session)', async () => {
      const b = pair.b.device.identity.deviceId
      await pair.a.device.workspace.revokeDevice(b)
      expect(pair.a.tier.reach(b)).toMatchObject({ ok: false, reason: 'not-member' })
      const error = await pair.a.tier.session(b, pair.carrier === undefined ? {} : { carrier: pair.carrier }).catch((e: unknown) => e)
      expect(error).toMatchObject({ name: 'WireError', code: 'NOT_MEMBER' })
    })
  })
}

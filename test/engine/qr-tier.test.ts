/** The QR tier (frames rendered to PNG, decoded from the pixels), against the tier acceptance suite. */
import { membershipPolicy } from '../../src/core/engine/membership.js'
import { sessionRecorder } from '../../src/core/engine/session-recorder.js'
import type { SyncReport } from '../../src/core/engine/sync-session.js'
import { createSyncStore } from '../../src/core/sync/store.js'
import type { OrbitDevice } from '../../src/apps/node/device.js'
import { QrTier } from '../../src/apps/node/tiers/qr-tier.js'
import { twoMembers } from './fixtures.js'
import { respondingCarrier, runTierAcceptance, type TierEnd } from './tier-acceptance.js'

function qrEnd(device: OrbitDevice): TierEnd {
  const store = createSyncStore({ localDeviceId: device.identity.deviceId })
  return { device, tier: new QrTier({ device, policy: membershipPolicy(device.workspace), recorder: sessionRecorder(store) }), store }
}

runTierAcceptance('qr-code', async () => {
  const devices = await twoMembers()
  const a = qrEnd(devices.a)
  const b = qrEnd(devices.b)
  const reports: Array<Promise<SyncReport>> = []
  return {
    a,
    b,
    carrier: respondingCarrier(() => b.tier, reports),
    async close() {
      await Promise.allSettled(reports)
      await a.tier.close()
      await b.tier.close()
      await devices.close()
    },
  }
})

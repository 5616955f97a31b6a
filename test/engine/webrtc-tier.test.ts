/** The WebRTC tier (werift on 127.0.0.1, codes carried in-process), against the tier acceptance suite. */
import { membershipPolicy } from '../../src/core/engine/membership.js'
import { sessionRecorder } from '../../src/core/engine/session-recorder.js'
import { settleSyncStateSaves, type SyncReport } from '../../src/core/engine/sync-session.js'
import { createSyncStore } from '../../src/core/sync/store.js'
import type { OrbitDevice } from '../../src/apps/node/device.js'
import { WebRtcTier } from '../../src/apps/node/tiers/webrtc-tier.js'
import { twoMembers } from './fixtures.js'
import { respondingCarrier, runTierAcceptance, type TierEnd } from './tier-acceptance.js'

function webrtcEnd(device: OrbitDevice): TierEnd {
  const store = createSyncStore({ localDeviceId: device.identity.deviceId })
  const tier = new WebRtcTier({ device, policy: membershipPolicy(device.workspace), recorder: sessionRecorder(store), run: { hostAddresses: ['127.0.0.1'], ice: [] } })
  return { device, tier, store }
}

runTierAcceptance('webrtc', async () => {
  const devices = await twoMembers()
  const a = webrtcEnd(devices.a)
  const b = webrtcEnd(devices.b)
  const reports: Array<Promise<SyncReport>> = []
  return {
    a,
    b,
    carrier: respondingCarrier(() => b.tier, reports),
    async close() {
      await Promise.allSettled(reports)
      await a.tier.close()
      await b.tier.close()
      await settleSyncStateSaves()
      await devices.close()
    },
  }
})

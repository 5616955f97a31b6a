/** The LAN tier on loopback TCP (secure channel), against the tier acceptance suite. */
import { membershipPolicy } from '../../src/core/engine/membership.js'
import { sessionRecorder } from '../../src/core/engine/session-recorder.js'
import { settleSyncStateSaves, workspaceDocIds } from '../../src/core/engine/sync-session.js'
import { createSyncStore } from '../../src/core/sync/store.js'
import type { OrbitDevice } from '../../src/apps/node/device.js'
import { rememberPeerAddress } from '../../src/apps/node/known-peers.js'
import { LanTier } from '../../src/apps/node/tiers/lan-tier.js'
import { twoMembers } from './fixtures.js'
import { runTierAcceptance, type TierEnd } from './tier-acceptance.js'

function lanEnd(device: OrbitDevice, listen?: { host: string; port: number }): TierEnd & { tier: LanTier } {
  const store = createSyncStore({ localDeviceId: device.identity.deviceId })
  const tier = new LanTier({
    device,
    policy: membershipPolicy(device.workspace),
    share: workspaceDocIds(device.workspace.rootUrl, device.workspace.shardUrls),
    recorder: sessionRecorder(store),
    ...(listen === undefined ? {} : { listen }),
  })
  return { device, tier, store }
}

runTierAcceptance('local-network', async () => {
  const devices = await twoMembers()
  const b = lanEnd(devices.b, { host: '127.0.0.1', port: 0 })
  const bound = await b.tier.listen()
  const a = lanEnd(devices.a)
  // Where B was reached before: what a remembered address gives `reach`.
  rememberPeerAddress(devices.a.config, devices.b.identity.deviceId, `127.0.0.1:${bound!.port}`)
  return {
    a,
    b,
    async close() {
      await a.tier.close()
      await b.tier.close()
      await settleSyncStateSaves()
      await devices.close()
    },
  }
})

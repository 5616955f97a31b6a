/**
 * automerge-repo's own network adapter acceptance suite, over real werift peer connections on
 * loopback host candidates, each carrying the secure channel.
 */
import { runNetworkAdapterTests } from '@automerge/automerge-repo/helpers/tests/network-adapter-tests.js'
import { generateIdentity, type DeviceIdentity } from '../../src/core/crypto/identity.js'
import { WebRtcNetworkAdapter } from '../../src/adapters/transport-webrtc/network-adapter.js'
import type { WebRtcConnection } from '../../src/adapters/transport-webrtc/connection.js'
import { answerOffer, createOffer } from '../../src/adapters/transport-webrtc/signalling.js'
import { membersOf } from './test-identity.js'

async function connect(a: DeviceIdentity, b: DeviceIdentity, members: DeviceIdentity[]): Promise<[WebRtcConnection, WebRtcConnection]> {
  const base = { resolveMember: membersOf(...members), hostAddresses: ['127.0.0.1'], connectTimeoutMs: 15_000 }
  const offer = await createOffer({ ...base, identity: a })
  const answer = await answerOffer(offer.code, { ...base, identity: b })
  const [x, y] = await Promise.all([offer.accept(answer.code), answer.connection])
  return [x, y]
}

// The suite names its peers "alice", "bob", "a", "left"...: accept any peer id on an authenticated channel.
const anyPeerId = { acceptPeerId: () => true }

runNetworkAdapterTests(async () => {
  const [alice, bob, charlie] = [generateIdentity(), generateIdentity(), generateIdentity()]
  const members = [alice, bob, charlie]
  const [ab, ba] = await connect(alice, bob, members)
  const [ac, ca] = await connect(alice, charlie, members)
  const [bc, cb] = await connect(bob, charlie, members)
  const connections = [ab, ba, ac, ca, bc, cb]
  const adapter = (c: WebRtcConnection) => new WebRtcNetworkAdapter(c, anyPeerId)
  return {
    // The first adapter of each peer faces the next peer, so the suite's two-peer tests use a–b.
    adapters: [
      [adapter(ab), adapter(ac)],
      [adapter(ba), adapter(bc)],
      [adapter(ca), adapter(cb)],
    ],
    teardown: () => {
      for (const c of connections) void c.close()
    },
  }
}, 'WebRTC (werift, loopback, secure channel)')

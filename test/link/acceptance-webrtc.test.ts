/**
 * "A byte pipe carries the link" through the WebRTC transport: real werift peer connections on
 * loopback host candidates, the secure channel inside, WebRtcNetworkAdapter unchanged but for a
 * subclass that exposes its link to the test.
 */
import { generateIdentity, type DeviceIdentity } from '../../src/core/crypto/identity.js'
import { WebRtcNetworkAdapter, type WebRtcNetworkAdapterOptions } from '../../src/adapters/transport-webrtc/network-adapter.js'
import type { WebRtcConnection } from '../../src/adapters/transport-webrtc/connection.js'
import { answerOffer, createOffer } from '../../src/adapters/transport-webrtc/signalling.js'
import type { Link } from '../../src/core/link/link.js'
import { membersOf } from '../webrtc/test-identity.js'
import { runLinkPipeSuite, type SideOptions } from './pipe-suite.js'

class ExposedWebRtc extends WebRtcNetworkAdapter {
  firstLink(): Link | undefined {
    return this.links()[0] as Link | undefined
  }
}

async function connect(a: DeviceIdentity, b: DeviceIdentity): Promise<[WebRtcConnection, WebRtcConnection]> {
  const base = { resolveMember: membersOf(a, b), hostAddresses: ['127.0.0.1'], connectTimeoutMs: 15_000 }
  const offer = await createOffer({ ...base, identity: a })
  const answer = await answerOffer(offer.code, { ...base, identity: b })
  return Promise.all([offer.accept(answer.code), answer.connection])
}

function options(side: SideOptions): WebRtcNetworkAdapterOptions {
  return {
    ...(side.summary ? { summary: side.summary } : {}),
    ...(side.authorize ? { authorize: side.authorize } : {}),
    ...(side.versions ? { linkVersions: side.versions } : {}),
  }
}

runLinkPipeSuite(
  'WebRTC (werift, loopback, secure channel)',
  async (leftOptions, rightOptions) => {
    const [l, r] = [generateIdentity(), generateIdentity()]
    const [cl, cr] = await connect(l, r)
    const left = new ExposedWebRtc(cl, options(leftOptions))
    const right = new ExposedWebRtc(cr, options(rightOptions))
    return {
      left: { adapter: left, deviceId: l.deviceId, link: () => left.firstLink() },
      right: { adapter: right, deviceId: r.deviceId, link: () => right.firstLink() },
      // The data channel is open already; each hello goes out when its Repo connects.
      async open() {},
      async close() {
        await Promise.all([cl.close(), cr.close()])
      },
    }
  },
  { timeoutMs: 60_000 },
)

/**
 * "A byte pipe carries the link" through the TCP transport: real sockets on 127.0.0.1, the secure
 * channel, TcpNetworkAdapter unchanged but for a subclass that exposes its links to the test.
 */
import { generateIdentity } from '../../src/core/crypto/identity.js'
import { TcpNetworkAdapter, type TcpNetworkAdapterOptions } from '../../src/adapters/transport-tcp/index.js'
import type { Link } from '../../src/core/link/link.js'
import { runLinkPipeSuite, type SideOptions } from './pipe-suite.js'

class ExposedTcp extends TcpNetworkAdapter {
  firstLink(): Link | undefined {
    return this.links()[0] as Link | undefined
  }
}

function options(side: SideOptions): Partial<TcpNetworkAdapterOptions> {
  return {
    ...(side.summary ? { summary: side.summary } : {}),
    ...(side.authorize ? { recheck: side.authorize } : {}),
    ...(side.versions ? { linkVersions: side.versions } : {}),
    ...(side.peerId ? { peerIdPolicy: 'bound' as const } : {}),
  }
}

runLinkPipeSuite('TCP + secure channel', async (leftOptions, rightOptions) => {
  const [l, r] = [generateIdentity(), generateIdentity()]
  const members = new Set([l.deviceId, r.deviceId])
  const common = { authorize: (remote: { deviceId: string }) => (members.has(remote.deviceId as never) ? ('member' as const) : ('refuse' as const)), handshakeTimeoutMs: 5000 }
  const left = new ExposedTcp({ identity: l, listen: { host: '127.0.0.1', port: 0 }, ...common, ...options(leftOptions) })
  const right = new ExposedTcp({ identity: r, ...common, ...options(rightOptions) })
  const port = (await left.listen())!.port
  return {
    left: { adapter: left, deviceId: l.deviceId, link: () => left.firstLink() },
    right: { adapter: right, deviceId: r.deviceId, link: () => right.firstLink() },
    async open() {
      await right.dial('127.0.0.1', port, { reconnect: false, expectedDeviceId: l.deviceId })
    },
    async close() {
      right.disconnect()
      left.disconnect()
    },
  }
})

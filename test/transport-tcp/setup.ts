/** Shared set-up for the TCP transport tests: real sockets on 127.0.0.1, the real secure channel. */
import { generateIdentity, type DeviceIdentity } from '../../src/core/crypto/identity.js'
import type { DeviceId } from '../../src/core/ids.js'
import { TcpNetworkAdapter, type TcpNetworkAdapterOptions } from '../../src/adapters/transport-tcp/index.js'

/** Fast reconnects for tests (hyperswarm's tests do the same). */
export const TEST_BACKOFF = [20, 50, 100, 200]

export interface TestDevice {
  identity: DeviceIdentity
  adapter: TcpNetworkAdapter
  port: number
}

/**
 * `n` devices that are all members of one workspace, each listening on 127.0.0.1:<ephemeral>.
 * `members` decides authorization; by default everyone created here is a member.
 */
export async function makeDevices(
  n: number,
  options: Partial<TcpNetworkAdapterOptions> & {
    members?: Set<DeviceId>
    /** Extra options for device `index` (e.g. a different AEAD on one side). */
    perDevice?: (index: number) => Partial<TcpNetworkAdapterOptions>
  } = {},
): Promise<TestDevice[]> {
  const identities = Array.from({ length: n }, () => generateIdentity())
  const members = options.members ?? new Set(identities.map((i) => i.deviceId))
  const devices: TestDevice[] = []
  const { perDevice, members: _members, ...common } = options
  for (const [index, identity] of identities.entries()) {
    const adapter = new TcpNetworkAdapter({
      identity,
      listen: { host: '127.0.0.1', port: 0 },
      authorize: (remote) => (members.has(remote.deviceId) ? 'member' : 'refuse'),
      backoff: TEST_BACKOFF,
      handshakeTimeoutMs: 5000,
      ...common,
      ...perDevice?.(index),
    })
    const address = await adapter.listen()
    devices.push({ identity, adapter, port: address!.port })
  }
  return devices
}

/** Resolves when `adapter` has completed `n` handshakes (counting from now). */
export function sessions(adapter: TcpNetworkAdapter, n: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0
    const off = adapter.on2('session', () => {
      if (++seen >= n) {
        off()
        resolve()
      }
    })
  })
}

/** automerge-repo's own network adapter acceptance suite over the in-memory link host. */
import { runNetworkAdapterTests } from '@automerge/automerge-repo/helpers/tests/network-adapter-tests.js'
import type { DeviceId } from '../../src/core/ids.js'
import { MemoryLinkAdapter, memoryPipePair } from './memory.js'

runNetworkAdapterTests(async () => {
  // The suite names its peers "alice", "bob", "a", "left"...: any peer id over an authenticated pipe.
  const any = { acceptPeerId: () => true }
  const [a, b, c] = ['dev-a', 'dev-b', 'dev-c'] as DeviceId[]
  const pair = (x: DeviceId, y: DeviceId): [MemoryLinkAdapter, MemoryLinkAdapter] => {
    const [px, py] = memoryPipePair(x, y)
    const ax = new MemoryLinkAdapter(any)
    const ay = new MemoryLinkAdapter(any)
    ax.attach(px)
    ay.attach(py, 'remote')
    return [ax, ay]
  }
  const [ab, ba] = pair(a!, b!)
  const [ac, ca] = pair(a!, c!)
  const [bc, cb] = pair(b!, c!)
  return { adapters: [[ab, ac], [ba, bc], [ca, cb]] }
}, 'in-memory link')

/**
 * The in-memory pipe through both acceptance suites: automerge-repo's own network adapter suite
 * and the link's "a byte pipe carries the link" (pipe-suite.ts).
 */
import { runNetworkAdapterTests } from '@automerge/automerge-repo/helpers/tests/network-adapter-tests.js'
import type { DeviceId } from '../../src/core/ids.js'
import type { LinkAdapterOptions } from '../../src/core/link/link-adapter.js'
import { MemoryLinkAdapter, memoryPipePair } from './memory.js'
import { runLinkPipeSuite, type SideOptions } from './pipe-suite.js'

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

let n = 0
function options(side: SideOptions, me: DeviceId): LinkAdapterOptions {
  return {
    localDeviceId: me,
    ...(side.summary ? { summary: side.summary } : {}),
    ...(side.authorize ? { authorize: side.authorize } : {}),
    ...(side.versions ? { versions: side.versions } : {}),
  }
}

runLinkPipeSuite('in-memory pipe', async (leftOptions, rightOptions) => {
  n++
  const [l, r] = [`left-device-${n}`, `right-device-${n}`] as DeviceId[]
  const left = new MemoryLinkAdapter(options(leftOptions, l!))
  const right = new MemoryLinkAdapter(options(rightOptions, r!))
  return {
    left: { adapter: left, deviceId: l!, link: () => left.allLinks()[0] },
    right: { adapter: right, deviceId: r!, link: () => right.allLinks()[0] },
    async open() {
      const [pl, pr] = memoryPipePair(l!, r!)
      right.attach(pr, 'local')
      left.attach(pl, 'remote')
    },
    async close() {
      for (const link of [...left.allLinks(), ...right.allLinks()]) link.close()
    },
  }
})

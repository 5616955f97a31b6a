import { runNetworkAdapterTests } from '@automerge/automerge-repo/helpers/tests/network-adapter-tests.js'
import { MemoryHub } from '../../src/adapters/network-memory/index.js'

// automerge-repo's own contract for network adapters, run on three ports of one hub (auto delivery).
runNetworkAdapterTests(async () => {
  const hub = new MemoryHub()
  return { adapters: [hub.createAdapter('a'), hub.createAdapter('b'), hub.createAdapter('c')] }
}, 'MemoryHub')

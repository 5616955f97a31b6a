/**
 * automerge-repo's own network adapter acceptance suite, over real TCP sockets on 127.0.0.1 with
 * the secure channel (Noise XX handshake, encrypted frames) on every connection.
 */
import { runNetworkAdapterTests } from '@automerge/automerge-repo/helpers/tests/network-adapter-tests.js'
import { makeDevices, sessions } from './setup.js'

runNetworkAdapterTests(async () => {
  // The suite names its peers "alice", "bob", …: the 'bound' policy lets a device pick a peer id
  // that no other device holds (production uses peer id = device id).
  const [a, b, c] = await makeDevices(3, { peerIdPolicy: 'bound' })
  const ignore = (): undefined => undefined
  // Handshakes run before the Repos exist, so the suite's short pauses only cover `join`.
  const ready = Promise.all([sessions(a!.adapter, 2), sessions(b!.adapter, 2), sessions(c!.adapter, 2)])
  b!.adapter.dial('127.0.0.1', a!.port).catch(ignore)
  c!.adapter.dial('127.0.0.1', a!.port).catch(ignore)
  c!.adapter.dial('127.0.0.1', b!.port).catch(ignore)
  await ready
  return {
    adapters: [a!.adapter, b!.adapter, c!.adapter],
    teardown: () => {
      for (const d of [a, b, c]) d!.adapter.disconnect()
    },
  }
}, 'TCP + secure channel')

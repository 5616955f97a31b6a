/** mDNS adapter lifecycle checks that send no packets (the real-packet tests are in test/lan). */
import { describe, expect, it } from 'vitest'
import { createMdnsDiscovery } from '../../src/adapters/discovery-mdns/index.js'

describe('mDNS discovery lifecycle', () => {
  it('refuses an interface address this machine does not have, before opening a socket', async () => {
    const discovery = createMdnsDiscovery({ interfaceAddress: '192.0.2.77' }) // TEST-NET-1, never local
    await expect(discovery.start()).rejects.toMatchObject({ name: 'ValidationError', field: 'interface' })
    // And the failed start can be stopped (a no-op) and retried with the same result.
    await discovery.stop()
    await expect(discovery.start()).rejects.toMatchObject({ name: 'ValidationError' })
  })

  it('stop without start is a no-op, and lists no peers', async () => {
    const discovery = createMdnsDiscovery({ interfaceAddress: '127.0.0.1' })
    await discovery.stop()
    await discovery.stop()
    expect(discovery.peers()).toEqual([])
  })
})

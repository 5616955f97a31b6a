/**
 * Reconnects over TCP: per-peer sync state persists (storageId, isEphemeral: false), so a redial
 * sends only what is missing; two devices dialling each other at once end with one connection.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { Repo, type PeerId } from '@automerge/automerge-repo'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openOrbitDatabase, SqliteStorageAdapter } from '../../src/adapters/storage-sqlite/index.js'
import type { TcpNetworkAdapter } from '../../src/adapters/transport-tcp/index.js'
import { nodeChaChaPoly } from '../../src/adapters/crypto-node/index.js'
import { nobleChaChaPoly } from '../../src/core/crypto/noise.js'
import { performHandshake } from '../../src/core/crypto/channel.js'
import { makeDevices, type TestDevice } from './setup.js'

type Book = { contacts: Record<string, { name: string; email: string }> }

const cleanups: Array<() => void | Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c()
})

/** A Repo on a real SQLite store (the persisted sync state is what makes a redial cheap). */
function repoOn(d: TestDevice): Repo {
  const dir = mkdtempSync(join(tmpdir(), 'orbit-tcp-reconnect-'))
  const db = openOrbitDatabase(join(dir, 'orbit.sqlite'), { create: true, synchronous: 'normal' })
  const repo = new Repo({ network: [d.adapter], storage: new SqliteStorageAdapter(db), peerId: d.identity.deviceId as unknown as PeerId })
  cleanups.push(async () => {
    // The repo saves sync states on a throttle: let it finish before the store closes.
    await repo.shutdown()
    db.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return repo
}

function connected(adapter: TcpNetworkAdapter): Promise<void> {
  return new Promise((resolve) => {
    const off = adapter.on2('device-connected', () => {
      off()
      resolve()
    })
  })
}

describe('TCP transport reconnects', () => {
  it('after a reconnect, sends only what is missing', async () => {
    const [a, b] = await makeDevices(2)
    const ra = repoOn(a!)
    const rb = repoOn(b!)
    const handle = ra.create<Book>({ contacts: {} })
    handle.change((d) => {
      for (let i = 0; i < 2000; i++) d.contacts[`ct_${i}`] = { name: `Contact ${i}`, email: `c${i}@example.com` }
    })
    await b!.adapter.dial('127.0.0.1', a!.port)
    const hb = await rb.find<Book>(handle.url)
    expect(Object.keys(hb.doc().contacts)).toHaveLength(2000)
    await ra.flush()
    await rb.flush()
    const initial = b!.adapter.traffic(a!.identity.deviceId).bytesReceived

    b!.adapter.disconnect()
    handle.change((d) => {
      d.contacts.ct_7!.name = 'Edited while apart'
    })
    const back = connected(b!.adapter)
    const changed = new Promise((r) => hb.once('change', r))
    rb.networkSubsystem.reconnect() // the Repo calls connect() again: listen + redial
    await back
    await changed
    expect(hb.doc().contacts.ct_7!.name).toBe('Edited while apart')
    const afterReconnect = b!.adapter.traffic(a!.identity.deviceId).bytesReceived - initial
    console.info(`initial sync: ${initial} bytes received; after reconnect: ${afterReconnect} bytes`)
    expect(afterReconnect).toBeLessThan(initial / 20)
  })

  it('two devices dialling each other at once keep one connection and sync over it', async () => {
    const [a, b] = await makeDevices(2, { duplicateDrainMs: 100 })
    const ra = repoOn(a!)
    const rb = repoOn(b!)
    const handle = ra.create<Book>({ contacts: { ct_1: { name: 'Ana', email: 'ana@example.com' } } })
    const ids = await Promise.all([a!.adapter.dial('127.0.0.1', b!.port), b!.adapter.dial('127.0.0.1', a!.port)])
    expect(ids).toEqual([b!.identity.deviceId, a!.identity.deviceId])
    const hb = await rb.find<Book>(handle.url)
    expect(hb.doc().contacts.ct_1!.name).toBe('Ana')
    // The duplicate drains and closes: one link per side remains, to the other device.
    while (a!.adapter.openConnections() + b!.adapter.openConnections() > 2) await new Promise((r) => setTimeout(r, 20))
    expect(a!.adapter.connectedDevices().map((c) => c.deviceId)).toEqual([b!.identity.deviceId])
    expect(b!.adapter.connectedDevices().map((c) => c.deviceId)).toEqual([a!.identity.deviceId])
    const changed = new Promise((r) => handle.once('change', r))
    hb.change((d) => {
      d.contacts.ct_1!.name = 'Ana María'
    })
    await changed
    expect(handle.doc().contacts.ct_1!.name).toBe('Ana María')
  })

  it('encrypts with Node\'s native AEAD by default, on the dialling and the listening side', async () => {
    const used: unknown[] = []
    const [a, b] = await makeDevices(2, { handshake: (io, opts) => (used.push(opts.aead), performHandshake(io, opts)) })
    repoOn(a!)
    repoOn(b!)
    await b!.adapter.dial('127.0.0.1', a!.port)
    expect(used).toHaveLength(2)
    expect(used.every((aead) => aead === nodeChaChaPoly)).toBe(true)
  })

  it('interoperates with the Node AEAD on one side and @noble on the other', async () => {
    const [a, b] = await makeDevices(2, { perDevice: (i) => (i === 0 ? { aead: nodeChaChaPoly } : { aead: nobleChaChaPoly }) })
    const ra = repoOn(a!)
    const rb = repoOn(b!)
    const handle = ra.create<Book>({ contacts: {} })
    handle.change((d) => {
      // Big enough that the sync message spans several channel frames.
      for (let i = 0; i < 3000; i++) d.contacts[`ct_${i}`] = { name: `Contact ${i}`, email: `c${i}@example.com` }
    })
    await b!.adapter.dial('127.0.0.1', a!.port)
    const hb = await rb.find<Book>(handle.url)
    expect(Object.keys(hb.doc().contacts)).toHaveLength(3000)
    expect(b!.adapter.traffic(a!.identity.deviceId).bytesReceived).toBeGreaterThan(65_536)
  })
})

describe('TCP transport traffic counters', () => {
  it('bytesSent is current when read, not only after the next frame arrives', async () => {
    // Keep-alives off: after the message below, A receives nothing, so a tally that only ran on
    // received frames would leave A's bytesSent short of what B has received.
    const [a, b] = await makeDevices(2, { heartbeatMs: 600_000, idleTimeoutMs: 3_600_000 })
    cleanups.push(() => a!.adapter.disconnect(), () => b!.adapter.disconnect())
    const peerA = a!.identity.deviceId as string as PeerId
    const peerB = b!.identity.deviceId as string as PeerId
    const candidates = (adapter: TcpNetworkAdapter) => new Promise<PeerId>((resolve) => adapter.once('peer-candidate', ({ peerId }) => resolve(peerId)))
    const seenByA = candidates(a!.adapter)
    const seenByB = candidates(b!.adapter)
    a!.adapter.connect(peerA, { isEphemeral: true })
    b!.adapter.connect(peerB, { isEphemeral: true })
    await b!.adapter.dial('127.0.0.1', a!.port)
    expect(await seenByA).toBe(peerB)
    expect(await seenByB).toBe(peerA)
    const arrived = new Promise<void>((resolve) => b!.adapter.once('message', () => resolve()))
    a!.adapter.send({ type: 'ephemeral', senderId: peerA, targetId: peerB, documentId: 'doc' as never, sessionId: 's', count: 1, data: new Uint8Array(50_000) } as never)
    await arrived
    const sent = a!.adapter.traffic(b!.identity.deviceId).bytesSent
    const received = b!.adapter.traffic(a!.identity.deviceId).bytesReceived
    expect(received).toBeGreaterThan(50_000)
    expect(sent).toBe(received)
  })
})

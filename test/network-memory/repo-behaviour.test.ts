/**
 * Characterization of automerge-repo 2.5 behaviour that the live tiers must design around,
 * observed on the memory network. If one of these starts failing after an upgrade, the library
 * changed: revisit the orchestrator's notes (it may be good news).
 */
import { Repo, type PeerId } from '@automerge/automerge-repo'
import { afterEach, beforeEach, expect, it, vi } from 'vitest'
import { MemoryHub } from '../../src/adapters/network-memory/index.js'
import { tick, useFakeTime } from '../convergence/world.js'

beforeEach(() => useFakeTime())
afterEach(() => {
  vi.useRealTimers()
})

async function run(ms: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms)
  await tick()
}

it('two adapters to the same peer: one carries everything, and losing either one drops the peer', async () => {
  const hub = new MemoryHub({ autoLink: false })
  const [a1, a2, b1, b2] = ['a-lan', 'a-webrtc', 'b-lan', 'b-webrtc'].map(n => hub.createAdapter(n)) as [
    ReturnType<MemoryHub['createAdapter']>, ReturnType<MemoryHub['createAdapter']>, ReturnType<MemoryHub['createAdapter']>, ReturnType<MemoryHub['createAdapter']>,
  ]
  const lan = hub.link(a1, b1)
  const webrtc = hub.link(a2, b2)
  const a = new Repo({ network: [a1, a2], peerId: 'A' as PeerId })
  const b = new Repo({ network: [b1, b2], peerId: 'B' as PeerId })
  await run(10)
  const handle = a.create<{ n: number }>({ n: 1 })
  await run(300)
  const remote = await b.find<{ n: number }>(handle.url)
  expect(remote.doc().n).toBe(1)
  // The first adapter that announced the peer carries all of its traffic.
  expect(lan.stats.delivered).toBeGreaterThan(0)
  expect(webrtc.stats.delivered).toBe(0)

  lan.cut()
  await run(10)
  // The WebRTC link is still live, yet both repos forgot the peer...
  expect(webrtc.live).toBe(true)
  expect(a.peers).toEqual([])
  expect(b.peers).toEqual([])
  handle.change(d => {
    d.n = 2
  })
  await run(500)
  // ...so nothing flows until some adapter announces the peer again.
  expect(remote.doc().n).toBe(1)
  lan.restore()
  await run(500)
  expect(remote.doc().n).toBe(2)
  await Promise.all([a.shutdown(), b.shutdown()])
})

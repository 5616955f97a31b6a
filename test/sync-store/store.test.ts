import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { createSyncStore, deriveStatus, RECENT_SESSIONS_MAX } from '../../src/core/sync/store.js'
import type { DeviceId } from '../../src/core/ids.js'
import type { DeviceInfo, SyncMethod } from '../../src/core/sync/types.js'
import { WireError } from '../../src/core/errors.js'

function setup() {
  let t = 1000
  let n = 0
  const store = createSyncStore({
    localDeviceId: 'devLocal' as DeviceId,
    now: () => t,
    newSessionId: () => `s${++n}`,
  })
  return { store, advance: (ms: number) => (t += ms), s: () => store.getState() }
}

const peer = (id: string, lastSeen: number): DeviceInfo => ({
  deviceId: id as DeviceId,
  deviceName: id,
  lastSeen,
  addresses: ['10.0.0.1'],
  paired: false,
})

describe('sync store', () => {
  it('starts idle', () => {
    const { s } = setup()
    expect(s()).toMatchObject({
      localDeviceId: 'devLocal',
      status: 'idle',
      currentMethod: null,
      activeSessions: {},
      recentSessions: [],
      lastSyncTimestamp: null,
    })
  })

  it('session lifecycle: start -> syncing -> complete removes it from active', () => {
    const { s, advance } = setup()
    const id = s().startSession({ peerId: 'devB' as DeviceId, method: 'webrtc' })
    expect(s().status).toBe('connecting')
    expect(s().currentMethod).toBe('webrtc')
    s().updateSession(id, { status: 'syncing' })
    s().addTraffic(id, { changesSent: 2, bytesSent: 100 })
    s().addTraffic(id, { changesSent: 1, changesReceived: 4 })
    expect(s().status).toBe('syncing')
    advance(50)
    const done = s().completeSession(id)
    expect(done).toMatchObject({ status: 'completed', completedAt: 1050, changesSent: 3, changesReceived: 4, bytesSent: 100 })
    expect(s().activeSessions).toEqual({})
    expect(s().recentSessions).toEqual([done])
    expect(s().lastSyncTimestamp).toBe(1050)
    expect(s().status).toBe('completed')
    expect(s().currentMethod).toBeNull()
  })

  it('failSession keeps the error name and does not move lastSyncTimestamp', () => {
    const { s } = setup()
    const id = s().startSession({ method: 'local-network' })
    const failed = s().failSession(id, new WireError('bad frame'))
    expect(failed?.error).toEqual({ name: 'WireError', message: 'bad frame' })
    expect(s().status).toBe('error')
    expect(s().lastSyncTimestamp).toBeNull()
  })

  it('updateSession of an unknown id is ignored (no half session)', () => {
    const { s } = setup()
    s().updateSession('nope', { changesSent: 5 })
    expect(s().activeSessions).toEqual({})
    expect(s().completeSession('nope')).toBeUndefined()
    expect(s().recentSessions).toEqual([])
  })

  it('updateSession to a terminal status finishes the session', () => {
    const { s } = setup()
    const id = s().startSession({ method: 'qr-code' })
    s().updateSession(id, { status: 'completed', changesReceived: 7 })
    expect(s().activeSessions).toEqual({})
    expect(s().recentSessions[0]).toMatchObject({ id, status: 'completed', changesReceived: 7 })
  })

  it('status picks the most advanced active session; ties go to the better method', () => {
    const { s } = setup()
    const qr = s().startSession({ method: 'qr-code', status: 'syncing' })
    s().startSession({ method: 'local-network', status: 'connecting' })
    expect([s().status, s().currentMethod]).toEqual(['syncing', 'qr-code'])
    s().startSession({ method: 'webrtc', status: 'syncing' })
    expect([s().status, s().currentMethod]).toEqual(['syncing', 'webrtc'])
    s().completeSession(qr)
    expect([s().status, s().currentMethod]).toEqual(['syncing', 'webrtc'])
  })

  it('discovering shows when no session runs', () => {
    const { s } = setup()
    s().setDiscovering(true)
    expect(s().status).toBe('discovering')
    const id = s().startSession({ method: 'local-network' })
    expect(s().status).toBe('connecting')
    s().completeSession(id)
    expect(s().status).toBe('discovering')
    s().setDiscovering(false)
    expect(s().status).toBe('completed')
  })

  it('recentSessions is newest first and bounded', () => {
    const { s } = setup()
    for (let i = 0; i < RECENT_SESSIONS_MAX + 10; i++) s().completeSession(s().startSession({ method: 'webrtc' }))
    expect(s().recentSessions).toHaveLength(RECENT_SESSIONS_MAX)
    expect(s().recentSessions[0]!.id).toBe(`s${RECENT_SESSIONS_MAX + 10}`)
  })

  it('peers: upsert, remove, expire', () => {
    const { s, advance } = setup()
    s().upsertPeer(peer('a', 1000))
    s().upsertPeer(peer('b', 1000))
    advance(5000)
    s().upsertPeer({ ...peer('b', 6000), port: 4000 })
    expect(s().discoveredPeers.b).toMatchObject({ lastSeen: 6000, port: 4000 })
    expect(s().expirePeers(3000)).toEqual(['a'])
    expect(Object.keys(s().discoveredPeers)).toEqual(['b'])
    s().removePeer('b')
    expect(s().discoveredPeers).toEqual({})
  })

  it('notifies subscribers (what React useStore relies on)', () => {
    const { store, s } = setup()
    const seen: string[] = []
    const unsubscribe = store.subscribe((state) => seen.push(state.status))
    const id = s().startSession({ method: 'webrtc' })
    s().completeSession(id)
    unsubscribe()
    expect(seen).toEqual(['connecting', 'completed'])
  })

  it('property: derived fields always equal deriveStatus of the state', () => {
    type Op = { kind: 'start' | 'sync' | 'complete' | 'fail' | 'disc'; method: SyncMethod; pick: number }
    const op = fc.record({
      kind: fc.constantFrom('start', 'sync', 'complete', 'fail', 'disc'),
      method: fc.constantFrom<SyncMethod>('local-network', 'webrtc', 'qr-code'),
      pick: fc.nat(),
    }) as fc.Arbitrary<Op>
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const { s } = setup()
        for (const o of ops) {
          const ids = Object.keys(s().activeSessions)
          const target = ids[o.pick % Math.max(ids.length, 1)] ?? 'none'
          if (o.kind === 'start') s().startSession({ method: o.method })
          else if (o.kind === 'sync') s().updateSession(target, { status: 'syncing' })
          else if (o.kind === 'complete') s().completeSession(target)
          else if (o.kind === 'fail') s().failSession(target, 'boom')
          else s().setDiscovering(!s().discovering)
          const state = s()
          expect({ status: state.status, currentMethod: state.currentMethod }).toEqual(deriveStatus(state))
          for (const session of Object.values(state.activeSessions)) {
            expect(['connecting', 'syncing']).toContain(session.status)
          }
        }
      }),
    )
  })
})

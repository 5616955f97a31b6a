/**
 * Sessions of every tier into the sync store through one recorder (src/core/engine/session-recorder.ts):
 * a live link's session counts traffic and ends with its report; a failed report fails it with the
 * report's error name; a one-exchange session (QR) is recorded whole; ending twice changes nothing.
 */
import { describe, expect, it } from 'vitest'
import type { DeviceId } from '../../src/core/ids.js'
import { sessionRecorder } from '../../src/core/engine/session-recorder.js'
import type { SyncReport } from '../../src/core/engine/sync-session.js'
import { createSyncStore } from '../../src/core/sync/store.js'

const peer = 'b'.repeat(32) as DeviceId
const report = (over: Partial<SyncReport> = {}): SyncReport => ({
  method: 'webrtc',
  status: 'completed',
  peer: { deviceId: peer },
  changesSent: 3,
  changesReceived: 4,
  bytesSent: 500,
  bytesReceived: 600,
  durationMs: 10,
  documents: 17,
  ...over,
})

describe('sessionRecorder', () => {
  it('a live session is active while it runs, counts traffic, and ends with its report', () => {
    const store = createSyncStore({ localDeviceId: 'a'.repeat(32) as DeviceId })
    const recorder = sessionRecorder(store)
    const s = recorder.begin({ method: 'local-network', deviceId: peer })
    s.traffic({ changesSent: 1, bytesSent: 100 })
    s.traffic({ changesReceived: 2, bytesReceived: 50 })
    expect(store.getState().activeSessions[s.id]).toMatchObject({ method: 'local-network', status: 'syncing', changesSent: 1, bytesSent: 100, changesReceived: 2 })
    expect(store.getState().status).toBe('syncing')
    s.end()
    s.end(report({ status: 'error' }))
    expect(store.getState().activeSessions[s.id]).toBeUndefined()
    expect(store.getState().recentSessions[0]).toMatchObject({ id: s.id, status: 'completed', changesSent: 1, bytesReceived: 50 })
  })

  it('a failed report fails the session with its error; a QR exchange is recorded whole', () => {
    const store = createSyncStore({ localDeviceId: 'a'.repeat(32) as DeviceId })
    const recorder = sessionRecorder(store)
    const s = recorder.begin({ method: 'webrtc', deviceId: peer })
    s.end(report({ status: 'error', error: { name: 'WebRtcError', code: 'TIMEOUT', message: 'not in sync' } }))
    expect(store.getState().recentSessions[0]).toMatchObject({ status: 'error', error: { name: 'WebRtcError', message: 'not in sync' }, bytesSent: 500 })
    recorder.record(report({ method: 'qr-code', changesReceived: 2 }))
    expect(store.getState().recentSessions[0]).toMatchObject({ method: 'qr-code', status: 'completed', changesReceived: 2, peerId: peer })
    expect(Object.keys(store.getState().activeSessions)).toEqual([])
  })

  it('with no store, sessions are reported but recorded nowhere (and nothing throws)', () => {
    const recorder = sessionRecorder(undefined)
    const s = recorder.begin({ method: 'qr-code', deviceId: peer })
    s.traffic({ bytesSent: 1 })
    // Its own id (a history, when given one, still needs it), unique per session.
    expect(s.id).toMatch(/^ss_local_/)
    expect(recorder.begin({ method: 'qr-code', deviceId: peer }).id).not.toBe(s.id)
    expect(() => {
      s.end(report())
      recorder.record(report())
    }).not.toThrow()
  })
})

/**
 * The daemon's WebRTC side ({@link createDaemonWebRtc}) on a device opened the way `orbit serve`
 * opens it, against `orbit webrtc offer|answer` as real child processes on loopback: it holds an
 * offer, takes the answer later, syncs in the background and records the session in its sync
 * store; it also answers an offer; an answer for no held offer is refused.
 */
import { join } from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createSyncStore } from '../../src/core/sync/store.js'
import type { SyncSession } from '../../src/core/sync/types.js'
import { openDevice, type OrbitDevice } from '../../src/apps/node/device.js'
import { restrictSharing, workspaceDocIds } from '../../src/core/engine/sync-session.js'
import { createDaemonWebRtc, type DaemonWebRtc } from '../../src/apps/node/webrtc-sync.js'
import { Scratch, addMemberCopy, contactNames, requireBuilt } from './helpers.js'

const LOOPBACK = ['--host', '127.0.0.1']
const scratch = new Scratch()
let device: OrbitDevice | undefined
let webrtc: DaemonWebRtc | undefined
beforeAll(requireBuilt)
afterEach(async () => {
  await webrtc?.close()
  await device?.close()
  webrtc = undefined
  device = undefined
  await scratch.cleanup()
})

/** Resolves with the first finished session the store records. */
function finished(store: ReturnType<typeof createSyncStore>): Promise<SyncSession> {
  return new Promise((resolve) => {
    const check = (): boolean => {
      const s = store.getState().recentSessions[0]
      if (s === undefined) return false
      resolve(s)
      return true
    }
    if (check()) return
    const off = store.subscribe(() => {
      if (check()) off()
    })
  })
}

describe('createDaemonWebRtc', () => {
  it('holds an offer, accepts the answer later, syncs in the background into its sync store; answers offers too', async () => {
    const root = scratch.root()
    const a = join(root, 'a')
    const b = join(root, 'b')
    await scratch.json(a, ['init', '--name', 'Alpha'])
    const bId = await addMemberCopy(a, b, 'Beta')
    const d = join(root, 'd')
    await addMemberCopy(a, d, 'Delta')
    await scratch.json(a, ['contact', 'add', '--name', 'Ada Lovelace'])
    await scratch.json(b, ['contact', 'add', '--name', 'Grace Hopper'])

    device = await openDevice(a)
    await device.workspace.loadAllShards()
    restrictSharing(device.repo, workspaceDocIds(device.workspace.rootUrl, device.workspace.shardUrls))
    const store = createSyncStore({ localDeviceId: device.identity.deviceId })
    webrtc = createDaemonWebRtc(device, { store })

    // An answer for an offer this daemon does not hold.
    const other = scratch.start(['--data', d, '--json', 'webrtc', 'offer', ...LOOPBACK])
    const otherOffer = (JSON.parse(await other.line(0)) as { code: string }).code
    const held = await webrtc.offer({ hostAddresses: ['127.0.0.1'] })
    expect(held.code).toMatch(/^orbit-rtc1\./)
    const stray = await webrtc.answer(otherOffer, { hostAddresses: ['127.0.0.1'] })
    await expect(webrtc.accept(stray.code)).rejects.toMatchObject({ name: 'WebRtcError', code: 'CODE_WRONG_OFFER' })

    // B answers the held offer; the daemon takes the answer and syncs in the background.
    const answering = scratch.start(['--data', b, '--json', 'webrtc', 'answer', held.code, ...LOOPBACK])
    const answer = (JSON.parse(await answering.line(0)) as { code: string }).code
    const session = finished(store)
    const accepted = await webrtc.accept(answer)
    expect(accepted).toEqual({ deviceId: bId, status: 'syncing' })
    const rb = await answering.exited
    expect(rb.code, rb.stderr).toBe(0)
    const recorded = await session
    expect(recorded).toMatchObject({ method: 'webrtc', status: 'completed', peerId: bId })
    expect(recorded.changesReceived).toBeGreaterThan(0)
    expect(recorded.changesSent).toBeGreaterThan(0)
    expect(webrtc.sessions()[0]).toMatchObject({ method: 'webrtc', status: 'completed', peer: { deviceId: bId } })
    expect(await contactNames(scratch, b)).toEqual(['Ada Lovelace', 'Grace Hopper'])

    // The stray answer's offerer (a child on D) gets its answer and syncs with the daemon too.
    other.write(stray.code + '\n')
    const ro = await other.exited
    expect(ro.code, ro.stderr).toBe(0)
    expect(JSON.parse(await other.line(1))).toMatchObject({ method: 'webrtc', status: 'completed' })

    await webrtc.close()
    webrtc = undefined
    await device.close()
    device = undefined
    expect(await contactNames(scratch, a)).toEqual(['Ada Lovelace', 'Grace Hopper'])
  })
})

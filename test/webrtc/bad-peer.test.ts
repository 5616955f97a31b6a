/**
 * Misbehaving peers on a real werift connection: a member device that opens the channel and sends
 * garbage instead of the handshake, or garbage after it. The honest side closes with a typed error
 * and delivers nothing.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { RTCDataChannel, RTCPeerConnection } from 'werift'
import { secureConnection, type WebRtcConnection } from '../../src/adapters/transport-webrtc/connection.js'
import { WebRtcNetworkAdapter } from '../../src/adapters/transport-webrtc/network-adapter.js'
import { CHANNEL_LABEL, channelOpen, createPeerConnection, gatheringComplete, localSdp } from '../../src/adapters/transport-webrtc/peer.js'
import { answerOffer, memberAuthorizer } from '../../src/adapters/transport-webrtc/signalling.js'
import { generateIdentity, type DeviceIdentity } from '../../src/core/crypto/identity.js'
import { encodeSignalCode, parseSignalCode } from '../../src/core/webrtc/signal.js'
import { membersOf } from './test-identity.js'

const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  await Promise.all(cleanup.splice(0).map((f) => f().catch(() => undefined)))
})

/** A raw werift offerer holding a valid member key, so its code is accepted; what it sends is up to the test. */
async function rawOfferer(identity: DeviceIdentity, members: DeviceIdentity[]): Promise<{ pc: RTCPeerConnection; code: string; open(answerCode: string): Promise<RTCDataChannel> }> {
  const pc = createPeerConnection({ hostAddresses: ['127.0.0.1'] })
  cleanup.push(() => pc.close())
  const dc = pc.createDataChannel(CHANNEL_LABEL, { ordered: true })
  await pc.setLocalDescription(await pc.createOffer())
  await gatheringComplete(pc, 5000)
  const code = encodeSignalCode({ type: 'offer', sdp: localSdp(pc), expiresAt: Date.now() + 60_000, candidateFilter: (c) => c.address === '127.0.0.1' }, identity)
  return {
    pc,
    code,
    async open(answerCode) {
      const answer = parseSignalCode(answerCode, { now: Date.now, resolveMember: membersOf(...members) })
      await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp })
      return channelOpen(pc, Promise.resolve(dc), 10_000)
    },
  }
}

describe('a peer that opens the channel and sends garbage', () => {
  it('garbage instead of the handshake: the honest side refuses with a typed error', async () => {
    const mallory = generateIdentity()
    const bob = generateIdentity()
    const members = [mallory, bob]
    const raw = await rawOfferer(mallory, members)
    const answer = await answerOffer(raw.code, { identity: bob, resolveMember: membersOf(...members), hostAddresses: ['127.0.0.1'], handshakeTimeoutMs: 5000 })
    cleanup.push(() => answer.close())
    const dc = await raw.open(answer.code)
    // A well-framed data-channel message whose frame is not a handshake frame.
    dc.send(Buffer.from([0, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3]))
    const error = (await answer.connection.catch((e: unknown) => e)) as Error
    expect(['HandshakeError', 'WireError']).toContain(error.name)
  })

  it('garbage after the handshake: the connection closes with WireError and nothing reaches the repo', async () => {
    const mallory = generateIdentity()
    const bob = generateIdentity()
    const members = [mallory, bob]
    const raw = await rawOfferer(mallory, members)
    const answer = await answerOffer(raw.code, { identity: bob, resolveMember: membersOf(...members), hostAddresses: ['127.0.0.1'] })
    cleanup.push(() => answer.close())
    const dc = await raw.open(answer.code)
    // Mallory runs an honest handshake first, so the channel is authenticated...
    const mallorySide: WebRtcConnection = await secureConnection(raw.pc, dc, { identity: mallory, role: 'initiator', authorize: memberAuthorizer(membersOf(...members)) })
    cleanup.push(() => mallorySide.close())
    const bobSide = await answer.connection
    const adapter = new WebRtcNetworkAdapter(bobSide)
    const delivered: unknown[] = []
    adapter.on('message', (m) => delivered.push(m))
    adapter.connect(bob.deviceId as never)
    const closed = new Promise<Error | undefined>((resolve) => bobSide.onClose(resolve))
    // ...then writes a frame that is not sealed by the session.
    dc.send(Buffer.concat([Buffer.from([0]), Buffer.alloc(64, 0x41)]))
    const error = await closed
    expect(error?.name).toBe('WireError')
    expect(delivered).toEqual([])
    expect(bobSide.closed).toBe(true)
  })

  it('an unknown fragment flag closes the channel with a typed WebRtcError', async () => {
    const mallory = generateIdentity()
    const bob = generateIdentity()
    const members = [mallory, bob]
    const raw = await rawOfferer(mallory, members)
    const answer = await answerOffer(raw.code, { identity: bob, resolveMember: membersOf(...members), hostAddresses: ['127.0.0.1'] })
    cleanup.push(() => answer.close())
    const dc = await raw.open(answer.code)
    const mallorySide = await secureConnection(raw.pc, dc, { identity: mallory, role: 'initiator', authorize: memberAuthorizer(membersOf(...members)) })
    cleanup.push(() => mallorySide.close())
    const bobSide = await answer.connection
    const got: Uint8Array[] = []
    bobSide.onMessage((m) => got.push(m))
    const closed = new Promise<Error | undefined>((resolve) => bobSide.onClose(resolve))
    dc.send(Buffer.from([7, 1, 2, 3]))
    expect(await closed).toMatchObject({ name: 'WebRtcError', code: 'CHANNEL_PROTOCOL' })
    expect(got).toEqual([])
  })

  it('a member presenting another peer id on the repo channel is disconnected', async () => {
    const mallory = generateIdentity()
    const bob = generateIdentity()
    const members = [mallory, bob]
    const raw = await rawOfferer(mallory, members)
    const answer = await answerOffer(raw.code, { identity: bob, resolveMember: membersOf(...members), hostAddresses: ['127.0.0.1'] })
    cleanup.push(() => answer.close())
    const dc = await raw.open(answer.code)
    const mallorySide = await secureConnection(raw.pc, dc, { identity: mallory, role: 'initiator', authorize: memberAuthorizer(membersOf(...members)) })
    cleanup.push(() => mallorySide.close())
    const bobSide = await answer.connection
    const bobAdapter = new WebRtcNetworkAdapter(bobSide)
    const candidates: unknown[] = []
    bobAdapter.on('peer-candidate', (p) => candidates.push(p))
    bobAdapter.connect(bob.deviceId as never)
    const closed = new Promise<Error | undefined>((resolve) => bobSide.onClose(resolve))
    // Mallory's repo claims to be bob's other device.
    new WebRtcNetworkAdapter(mallorySide, { acceptPeerId: () => true }).connect('someone-else' as never)
    expect(await closed).toMatchObject({ name: 'HandshakeError', code: 'PEER_ID_MISMATCH' })
    expect(candidates).toEqual([])
  })
})

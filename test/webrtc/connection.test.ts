import { afterEach, describe, expect, it } from 'vitest'
import type { DeviceIdentity } from '../../src/core/crypto/identity.js'
import { generateIdentity } from '../../src/core/crypto/identity.js'
import type { WebRtcConnection } from '../../src/adapters/transport-webrtc/connection.js'
import { answerOffer, createOffer, type WebRtcPeerOptions } from '../../src/adapters/transport-webrtc/signalling.js'
import { createNonceLedger } from '../../src/core/webrtc/signal.js'
import { membersOf } from './test-identity.js'

const open: { close(): Promise<void> }[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()))
})

function loopback(identity: DeviceIdentity, members: DeviceIdentity[], extra: Partial<WebRtcPeerOptions> = {}): WebRtcPeerOptions {
  return { identity, resolveMember: membersOf(...members), hostAddresses: ['127.0.0.1'], connectTimeoutMs: 10_000, ...extra }
}

export async function connectPair(a: DeviceIdentity, b: DeviceIdentity): Promise<[WebRtcConnection, WebRtcConnection]> {
  const offer = await createOffer(loopback(a, [a, b]))
  const answer = await answerOffer(offer.code, loopback(b, [a, b]))
  const [ca, cb] = await Promise.all([offer.accept(answer.code), answer.connection])
  return [ca, cb]
}

function nextMessage(c: WebRtcConnection): Promise<Uint8Array> {
  return new Promise((resolve) => {
    const off = c.onMessage((m) => {
      off()
      resolve(m)
    })
  })
}

describe('WebRTC connection over loopback host candidates', () => {
  it('authenticates both devices and carries messages both ways, large ones chunked', async () => {
    const a = generateIdentity()
    const b = generateIdentity()
    const [ca, cb] = await connectPair(a, b)
    open.push(ca, cb)
    expect(ca.remoteDeviceId).toBe(b.deviceId)
    expect(cb.remoteDeviceId).toBe(a.deviceId)
    expect(ca.authorization).toBe('member')

    const hello = nextMessage(cb)
    await ca.send(new TextEncoder().encode('hello'))
    expect(new TextDecoder().decode(await hello)).toBe('hello')

    const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 31) & 0xff)
    const got = nextMessage(ca)
    await cb.send(big)
    const received = await got
    expect(received.length).toBe(big.length)
    expect(Buffer.compare(received, big)).toBe(0)
  })

  it('refuses an offer from a device outside the workspace before any connection', async () => {
    const a = generateIdentity()
    const b = generateIdentity()
    const offer = await createOffer(loopback(a, [a, b]))
    open.push(offer)
    await expect(answerOffer(offer.code, loopback(b, [b]))).rejects.toMatchObject({ name: 'WebRtcError', code: 'CODE_NOT_MEMBER' })
  })

  it('refuses an answer to another offer, and a second answer to the same offer', async () => {
    const a = generateIdentity()
    const b = generateIdentity()
    const offer1 = await createOffer(loopback(a, [a, b]))
    const offer2 = await createOffer(loopback(a, [a, b]))
    open.push(offer1, offer2)
    const answer2 = await answerOffer(offer2.code, loopback(b, [a, b]))
    open.push(answer2)
    await expect(offer1.accept(answer2.code)).rejects.toMatchObject({ name: 'WebRtcError', code: 'CODE_WRONG_OFFER' })
    const connection = await offer2.accept(answer2.code)
    open.push(connection, await answer2.connection)
    await expect(offer2.accept(answer2.code)).rejects.toMatchObject({ name: 'WebRtcError', code: 'OFFER_USED' })
  })

  it('tells the other side when one side closes', async () => {
    const [ca, cb] = await connectPair(generateIdentity(), generateIdentity())
    open.push(ca, cb)
    const closed = new Promise<Error | undefined>((resolve) => cb.onClose(resolve))
    await ca.close()
    expect(await closed).toBeUndefined()
    expect(cb.closed).toBe(true)
    await expect(cb.send(new Uint8Array([1]))).rejects.toMatchObject({ name: 'WebRtcError' })
  })

  it('stops waiting for the other side when its AbortSignal fires', async () => {
    const a = generateIdentity()
    const b = generateIdentity()
    const offer = await createOffer(loopback(a, [a, b]))
    open.push(offer)
    const controller = new AbortController()
    const answer = await answerOffer(offer.code, loopback(b, [a, b], { signal: controller.signal, connectTimeoutMs: 60_000 }))
    open.push(answer)
    // The offerer never applies the answer; the answering side gives up when told to.
    controller.abort()
    await expect(answer.connection).rejects.toMatchObject({ name: 'AbortedError' })
  })

  it('answers an offer code once: the same code again is refused as replayed', async () => {
    const a = generateIdentity()
    const b = generateIdentity()
    const offer = await createOffer(loopback(a, [a, b]))
    open.push(offer)
    const nonces = createNonceLedger(Date.now)
    const first = await answerOffer(offer.code, loopback(b, [a, b], { nonces }))
    open.push(first)
    await expect(answerOffer(offer.code, loopback(b, [a, b], { nonces }))).rejects.toMatchObject({ name: 'WebRtcError', code: 'CODE_REPLAYED' })
  })
})

/**
 * werift plumbing: a peer connection with one ordered, reliable data channel, non-trickle
 * (the local description is read only once ICE gathering completed), bounded in time.
 */
import { RTCPeerConnection, type RTCDataChannel } from 'werift'
import { AbortedError, WebRtcError } from '../../core/errors.js'
import type { IceServer } from '../../core/webrtc/ice-server.js'

/** The data channel's label; the answering side accepts no other. */
export const CHANNEL_LABEL = 'orbit-sync/1'

/** How a peer connection gathers candidates. */
export interface PeerNetworkOptions {
  /** STUN/TURN servers (see `parseIceServer`). None by default: host candidates only. */
  readonly iceServers?: readonly IceServer[]
  /**
   * Use only these local addresses for host candidates (e.g. `['127.0.0.1']` for loopback tests).
   * By default every non-internal interface address is used.
   */
  readonly hostAddresses?: readonly string[]
  /** `relay` forces TURN. Default `all`. */
  readonly iceTransportPolicy?: 'all' | 'relay'
  /** Upper bound on gathering; whatever was gathered by then goes into the code. Default 5 s. */
  readonly gatherTimeoutMs?: number
}

/** Creates a configured werift peer connection. */
export function createPeerConnection(options: PeerNetworkOptions): RTCPeerConnection {
  const hosts = options.hostAddresses
  const v4 = hosts?.find((h) => h.includes('.'))
  return new RTCPeerConnection({
    iceServers: (options.iceServers ?? []).map((s) => ({ ...s })),
    iceTransportPolicy: options.iceTransportPolicy ?? 'all',
    ...(hosts === undefined
      ? {}
      : {
          iceAdditionalHostAddresses: [...hosts],
          // Bind the sockets to the chosen address so no check leaves through another interface.
          ...(v4 === undefined ? {} : { iceInterfaceAddresses: { udp4: v4 } }),
          iceUseIpv6: hosts.some((h) => h.includes(':')),
        }),
  })
}

/** Resolves once ICE gathering is complete (or the timeout passed: partial gathering still yields a usable code). */
export async function gatheringComplete(pc: RTCPeerConnection, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  if (pc.iceGatheringState === 'complete') return
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(finish, timeoutMs)
    const { unSubscribe } = pc.iceGatheringStateChange.subscribe((state) => {
      if (state === 'complete') finish()
    })
    const onAbort = (): void => {
      cleanup()
      reject(new AbortedError('ICE gathering aborted', { cause: signal?.reason }))
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    function cleanup(): void {
      clearTimeout(timer)
      unSubscribe()
      signal?.removeEventListener('abort', onAbort)
    }
    function finish(): void {
      cleanup()
      resolve()
    }
  })
}

/** The local SDP once gathering completed. */
export function localSdp(pc: RTCPeerConnection): string {
  const sdp = pc.localDescription?.sdp
  if (sdp === undefined) throw new WebRtcError('no local description', { code: 'NO_LOCAL_DESCRIPTION' })
  return sdp
}

/**
 * Waits until `dc` is open, failing with `WebRtcError` `NO_ROUTE` when ICE fails or
 * `timeoutMs` passes first, and with `AbortedError` on abort.
 */
export function channelOpen(pc: RTCPeerConnection, dc: Promise<RTCDataChannel>, timeoutMs: number, signal?: AbortSignal): Promise<RTCDataChannel> {
  return new Promise<RTCDataChannel>((resolve, reject) => {
    let settled = false
    const noRoute = (why: string): WebRtcError =>
      new WebRtcError(`no route to the peer (${why}): add --ice stun:HOST:PORT or --ice turn:USER:PASS@HOST:PORT`, { code: 'NO_ROUTE' })
    const timer = setTimeout(() => fail(noRoute(`nothing connected within ${timeoutMs} ms`)), timeoutMs)
    const sub = pc.connectionStateChange.subscribe((state) => {
      if (state === 'failed') fail(noRoute('ICE failed'))
      else if (state === 'closed') fail(new WebRtcError('peer connection closed before the channel opened', { code: 'CHANNEL_CLOSED' }))
    })
    const onAbort = (): void => fail(new AbortedError('connection aborted', { cause: signal?.reason }))
    signal?.addEventListener('abort', onAbort, { once: true })
    function cleanup(): void {
      settled = true
      clearTimeout(timer)
      sub.unSubscribe()
      signal?.removeEventListener('abort', onAbort)
    }
    function fail(error: Error): void {
      if (settled) return
      cleanup()
      reject(error)
    }
    dc.then(
      (channel) => {
        if (settled) return
        if (channel.readyState === 'open') {
          cleanup()
          resolve(channel)
          return
        }
        const s = channel.stateChanged.subscribe((state) => {
          if (state === 'open') {
            s.unSubscribe()
            if (settled) return
            cleanup()
            resolve(channel)
          } else if (state === 'closed') {
            s.unSubscribe()
            fail(new WebRtcError('data channel closed before it opened', { code: 'CHANNEL_CLOSED' }))
          }
        })
      },
      (error: unknown) => fail(error instanceof Error ? error : new WebRtcError(String(error))),
    )
  })
}

/** The channel the remote (offering) side created, once announced. */
export function remoteChannel(pc: RTCPeerConnection): Promise<RTCDataChannel> {
  return new Promise((resolve, reject) => {
    const { unSubscribe } = pc.onDataChannel.subscribe((channel) => {
      unSubscribe()
      if (channel.label !== CHANNEL_LABEL || !channel.ordered) {
        reject(new WebRtcError(`peer opened an unexpected data channel ${JSON.stringify(channel.label)}`, { code: 'CHANNEL_PROTOCOL' }))
        return
      }
      resolve(channel)
    })
  })
}

/**
 * werift plumbing: a peer connection with one ordered, reliable data channel, non-trickle
 * (the local description is read only once ICE gathering completed), bounded in time.
 */
import { Connection, RTCPeerConnection, type RTCDataChannel } from 'werift'
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

/**
 * Creates a configured werift peer connection that contacts no ICE server but the configured ones.
 * @throws WebRtcError `ICE_UNCONFIGURED_SERVER` if this werift would use a server nobody configured
 *   and Orbit cannot switch that off (see {@link enforceConfiguredIce}).
 */
export function createPeerConnection(options: PeerNetworkOptions): RTCPeerConnection {
  const hosts = options.hostAddresses
  const v4 = hosts?.find((h) => h.includes('.'))
  const iceServers = (options.iceServers ?? []).map((s) => ({ ...s }))
  const pc = new RTCPeerConnection({
    iceServers,
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
  try {
    enforceConfiguredIce(pc, iceServers)
  } catch (error) {
    void pc.close()
    throw error
  }
  return pc
}

/** The parts of werift 0.24 the guarantee below reads (not its public API, hence checked at run time). */
interface WeriftInternals {
  config?: { iceServers?: unknown }
  iceTransports?: { connection?: IceAgent }[]
  secureManager?: { createTransport?: (...args: unknown[]) => unknown }
}
interface IceAgent {
  stunServer?: readonly [string, number]
  turnServer?: readonly [string, number]
}

/**
 * werift 0.24 falls back to Google's public STUN server (stun.l.google.com:19302) when none is
 * configured. `npm install` removes that (scripts/patch-deps.mjs), but an install that skips scripts
 * (`--ignore-scripts`, pnpm, a host app that does not allow ours) keeps it. So, whatever the
 * install did: the connection's ICE servers must be exactly ours, and each ICE agent werift creates
 * for it (one per transport, before it gathers) loses a STUN or TURN server we did not configure.
 * If this werift's internals are not where that check looks and its agents do fall back, refuse:
 * better no WebRTC than packets to a server the user never chose.
 */
export function enforceConfiguredIce(pc: RTCPeerConnection, iceServers: readonly IceServer[]): void {
  const internals = pc as unknown as WeriftInternals
  const allowed = configuredHosts(iceServers)
  const strip = (agent: IceAgent | undefined): void => {
    if (agent === undefined) return
    if (agent.stunServer !== undefined && !allowed.has(hostKey(agent.stunServer[0]))) agent.stunServer = undefined
    if (agent.turnServer !== undefined && !allowed.has(hostKey(agent.turnServer[0]))) agent.turnServer = undefined
  }
  const manager = internals.secureManager
  const createTransport = manager?.createTransport
  // werift merges our configuration into defaults that name Google's server: make sure ours won.
  if (internals.config !== undefined) internals.config.iceServers = iceServers.map((s) => ({ ...s }))
  if (manager === undefined || typeof createTransport !== 'function' || !Array.isArray(internals.iceTransports)) {
    if (weriftFallsBack()) {
      throw new WebRtcError(
        'refusing to start WebRTC: the installed werift contacts Google\'s public STUN server (stun.l.google.com:19302) ' +
          'when no ICE server is configured, and Orbit cannot switch that off in this werift version. ' +
          'Reinstall with install scripts allowed (Orbit\'s postinstall removes the fallback: `node node_modules/orbit-sync/scripts/patch-deps.mjs`), ' +
          'or use the LAN or QR tiers.',
        { code: 'ICE_UNCONFIGURED_SERVER' },
      )
    }
    return
  }
  for (const transport of internals.iceTransports) strip(transport.connection)
  manager.createTransport = function (this: unknown, ...args: unknown[]): unknown {
    // werift builds the transport's ICE agent in there, and gathers only later (setLocalDescription).
    const created = createTransport.apply(this, args) as { iceTransport?: { connection?: IceAgent } } | undefined
    const agent = created?.iceTransport?.connection
    if (agent === undefined && weriftFallsBack()) {
      throw new WebRtcError('refusing to start WebRTC: cannot find the ICE agent of a new werift transport to keep it off Google\'s STUN server', {
        code: 'ICE_UNCONFIGURED_SERVER',
      })
    }
    strip(agent)
    for (const transport of internals.iceTransports ?? []) strip(transport.connection)
    return created
  }
}

/**
 * The hosts of the STUN/TURN servers in `iceServers`, lower-cased. Hosts, not host:port: an agent
 * keeps a server whose host the user named, whatever port werift settled on.
 */
function configuredHosts(iceServers: readonly IceServer[]): Set<string> {
  const out = new Set<string>()
  for (const { urls } of iceServers) {
    const m = /^(?:stuns?|turns?):(\[[^\]]+\]|[^:?]+)/i.exec(urls.trim())
    if (m !== null) out.add(hostKey(m[1] as string))
  }
  return out
}

const hostKey = (host: string): string => host.replace(/^\[|\]$/g, '').toLowerCase()

let fallsBack: boolean | undefined
/** Whether werift's ICE agent, given no STUN server, picks one itself (unpatched werift 0.24 does). */
function weriftFallsBack(): boolean {
  if (fallsBack === undefined) {
    try {
      const agent = new Connection(false, {}) as unknown as IceAgent
      fallsBack = agent.stunServer !== undefined || agent.turnServer !== undefined
    } catch {
      fallsBack = true // cannot tell: assume the worst
    }
  }
  return fallsBack
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

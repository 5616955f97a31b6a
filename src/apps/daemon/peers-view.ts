/**
 * `orbit peers` as the daemon sees it: members, discovered devices and live links, merged from the
 * workspace (trusted), the sync store (discovery hints), the LAN tier (who is connected, and where
 * from) and the WebRTC tier (links kept after a mesh or code set-up). It also keeps the store's peer entry of a device current when its link joins.
 */
import type { DeviceId } from '../../core/ids.js'
import type { PeerRow } from '../node/api.js'
import type { OrbitNode } from '../node/orbit-node.js'
import { formatHostPort, parseHostPort, readKnownPeers } from '../node/known-peers.js'
import { deviceSyncState, peerSyncView, type ConditionProvider } from '../node/sync-state.js'

/**
 * Every device worth listing: members, discovered ones and connected ones, this device excepted,
 * each with its sync state (`sync`; the reason from `condition`, default the node's orchestrator).
 */
export function peerRows(node: OrbitNode, condition?: ConditionProvider): PeerRow[] {
  const { device, store, lan } = node
  const ws = device.workspace
  const me = device.identity.deviceId
  const discovered = store.getState().discoveredPeers
  const known = readKnownPeers(device.config)
  const overWebRtc = new Set<string>(node.webrtc.connected())
  const connected = new Set<string>([...lan.connected(), ...overWebRtc])
  const ids = new Set<string>([...ws.listDevices().map((d) => d.id as string), ...Object.keys(discovered), ...connected])
  ids.delete(me)
  const sync = deviceSyncState(device)
  const why = condition ?? ((id: DeviceId) => node.orchestrator.condition(id))
  return [...ids].sort().map((id) => {
    const info = discovered[id]
    const member = ws.getDevice(id)
    const status = ws.memberStatus(id)
    const seen = info?.port === undefined ? [] : info.addresses.map((a) => formatHostPort(a, info.port!))
    const via = lan.connectedVia(id as DeviceId)
    return {
      deviceId: id,
      name: member?.name ?? info?.deviceName ?? '?',
      addresses: rowAddresses(via, [...seen, ...(known[id] ?? [])]),
      lastSeen: info?.lastSeen ?? null,
      paired: status === 'member',
      revoked: status === 'revoked',
      connected: connected.has(id),
      ...(connected.has(id) ? { link: overWebRtc.has(id) && !lan.isConnected(id as DeviceId) ? ('webrtc' as const) : ('local-network' as const) } : {}),
      discovered: info !== undefined && info.port !== undefined,
      sync: peerSyncView(sync.peerSync(id), why(id as DeviceId), fallbackReason(status, connected.has(id), via)),
    }
  })
}

const hostOf = (address: string): string | undefined => {
  try {
    return parseHostPort(address).host
  } catch {
    return undefined
  }
}

/**
 * A row's addresses, each `host:port` (PeerRow): the live link's first, then where it was
 * discovered or reached before. A link this device dialled is listed as dialled; a link the peer
 * opened comes from an address but not from a port anyone can dial (the source port is the peer's
 * own ephemeral one), so the listed endpoints at that address go first instead, and a bare source
 * address is never listed.
 * @param via where the live link was reached (`host:port`) or came from (an address), if any
 * @param listed the discovered and remembered `host:port` endpoints
 */
export function rowAddresses(via: string | undefined, listed: readonly string[]): string[] {
  let first: string[] = []
  if (via !== undefined && hostOf(via) !== undefined) first = [via]
  else if (via !== undefined) {
    const from = via.replace(/^::ffff:/, '')
    first = listed.filter((a) => hostOf(a) === from)
  }
  return [...new Set([...first, ...listed])]
}

/** Without an orchestrator's condition: what the membership and the LAN tier say. */
function fallbackReason(status: string, connected: boolean, via: string | undefined): { reason: string; detail: string } {
  if (status === 'revoked') return { reason: 'not-member', detail: 'this device was revoked' }
  if (status !== 'member') return { reason: 'not-member', detail: 'not a member of this workspace (discovered only)' }
  if (connected) return { reason: 'syncing', detail: `connected${via === undefined ? ' over WebRTC' : ` over the LAN (${via})`}; changes flow as they are made` }
  return { reason: 'offline', detail: 'no live link to it' }
}

/** Keeps the store's entry of a device whose link joined (addresses stay where it listens: discovery's). */
export function trackConnectedPeers(node: OrbitNode, now: () => number): () => void {
  return node.lan.tcp.on2('device-connected', ({ deviceId }) => {
    const state = node.store.getState()
    const known = state.discoveredPeers[deviceId]
    state.upsertPeer({
      deviceId,
      deviceName: node.device.workspace.getDevice(deviceId)?.name ?? known?.deviceName ?? '?',
      lastSeen: now(),
      addresses: known?.addresses ?? [],
      ...(known?.port === undefined ? {} : { port: known.port }),
      paired: true,
    })
  })
}

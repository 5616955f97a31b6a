/**
 * `orbit peers` as the daemon sees it: members, discovered devices and live links, merged from the
 * workspace (trusted), the sync store (discovery hints) and the LAN tier (who is connected, and
 * where from). It also keeps the store's peer entry of a device current when its link joins.
 */
import type { DeviceId } from '../../core/ids.js'
import type { PeerRow } from '../node/api.js'
import type { OrbitNode } from '../node/orbit-node.js'
import { formatHostPort, readKnownPeers } from '../node/known-peers.js'

/** Every device worth listing: members, discovered ones and connected ones, this device excepted. */
export function peerRows(node: OrbitNode): PeerRow[] {
  const { device, store, lan } = node
  const ws = device.workspace
  const me = device.identity.deviceId
  const discovered = store.getState().discoveredPeers
  const known = readKnownPeers(device.config)
  const connected = new Set<string>(lan.connected())
  const ids = new Set<string>([...ws.listDevices().map((d) => d.id as string), ...Object.keys(discovered), ...connected])
  ids.delete(me)
  return [...ids].sort().map((id) => {
    const info = discovered[id]
    const member = ws.getDevice(id)
    const status = ws.memberStatus(id)
    const seen = info?.port === undefined ? [] : info.addresses.map((a) => formatHostPort(a, info.port!))
    const via = lan.connectedVia(id as DeviceId)
    return {
      deviceId: id,
      name: member?.name ?? info?.deviceName ?? '?',
      addresses: [...new Set([...(via ? [via] : []), ...seen, ...(known[id] ?? [])])],
      lastSeen: info?.lastSeen ?? null,
      paired: status === 'member',
      revoked: status === 'revoked',
      connected: connected.has(id),
      discovered: info !== undefined && info.port !== undefined,
    }
  })
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

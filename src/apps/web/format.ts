/** Small formatters shared by the screens: times, bytes, tiers and peer states in words. */
import type { PeerSyncView, SyncMethod } from './types.js'

/** "3 s ago", "5 min ago", or the date; "never" for null. */
export function ago(ms: number | null | undefined, now = Date.now()): string {
  if (ms === null || ms === undefined) return 'never'
  const s = Math.max(0, Math.round((now - ms) / 1000))
  if (s < 60) return `${s} s ago`
  if (s < 3600) return `${Math.round(s / 60)} min ago`
  if (s < 86400) return `${Math.round(s / 3600)} h ago`
  return new Date(ms).toLocaleString()
}

/** "812 B", "52.1 KB", "3.4 MB". */
export function bytes(n: number | undefined): string {
  const v = n ?? 0
  if (v < 1000) return `${v} B`
  if (v < 1_000_000) return `${(v / 1000).toFixed(1)} KB`
  return `${(v / 1_000_000).toFixed(1)} MB`
}

const TIERS: Record<SyncMethod, string> = { 'local-network': 'local network', webrtc: 'WebRTC', 'qr-code': 'QR code' }

/** A tier's name for people. */
export function tier(m: SyncMethod | null | undefined): string {
  return m === null || m === undefined ? '—' : (TIERS[m] ?? m)
}

/** A peer's sync state in words: "in sync", "behind (2 documents)", ... */
export function peerState(s: PeerSyncView): string {
  switch (s.state) {
    case 'in-sync':
      return 'in sync'
    case 'behind':
      return `behind (${s.behind} document${s.behind === 1 ? '' : 's'})`
    case 'ahead':
      return `ahead (${s.ahead} document${s.ahead === 1 ? '' : 's'} we lack)`
    case 'diverged':
      return 'both sides have changes'
    default:
      return 'not known yet'
  }
}

/**
 * The event stream's source over one running node (events.ts): the `state` event's data from its
 * sync store and the daemon's peer rows, and its workspace's listing changes.
 */
import type { EventSource } from './events.js'
import type { HttpTarget } from './routes.js'

/** How many finished sessions a `state` event carries, newest first. */
export const STATE_RECENT_SESSIONS = 20

/** The `state` event's data: `{ status, currentMethod, lastSyncTimestamp, activeSessions, recentSessions, peers, blobs, workspace }`. */
export async function stateOf(target: HttpTarget): Promise<Record<string, unknown>> {
  const s = target.node.store.getState()
  const ws = target.node.device.workspace
  return {
    status: s.status,
    currentMethod: s.currentMethod,
    lastSyncTimestamp: s.lastSyncTimestamp,
    activeSessions: Object.values(s.activeSessions),
    recentSessions: s.recentSessions.slice(0, STATE_RECENT_SESSIONS),
    peers: await target.api.peers(),
    // The blob slice (transfers, missing images) once the node records it; null before.
    blobs: (s as unknown as { blobs?: unknown }).blobs ?? null,
    workspace: { id: ws.workspaceId, name: ws.name },
  }
}

/** An {@link EventSource} over `target`'s node. */
export function nodeEvents(target: HttpTarget): EventSource {
  const ws = target.node.device.workspace
  return {
    state: () => stateOf(target),
    onState: (listener) => target.node.subscribe(() => listener()),
    onContacts: (listener) => {
      // Told once the change is in the listing projection the page reads (GET contacts), not before.
      let running = false
      let again = false
      const projected = async (): Promise<void> => {
        if (running) {
          again = true
          return
        }
        running = true
        do {
          again = false
          await target.node.device.flush().catch(() => undefined)
          listener()
        } while (again)
        running = false
      }
      const offContacts = ws.onContactsChanged(() => void projected())
      const offRoot = ws.onRootChanged((e) => {
        if (e.orgs.length > 0 || e.workspace) void projected()
      })
      return () => {
        offContacts()
        offRoot()
      }
    },
  }
}

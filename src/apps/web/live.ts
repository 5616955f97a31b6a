/**
 * The page's live link to the daemon: one `EventSource` on `GET events` (docs/protocol/http.md).
 * `state` events replace the sync state, `contacts` events say the listing changed; nothing polls.
 * When the daemon stops the stream errors and the browser reconnects by itself (the banner shows
 * meanwhile); a stream the browser gave up on (a non-200 answer, e.g. while the daemon restarts
 * its node) is reopened after a pause, and a 401 turns the page into the "open the link" page.
 */
import { useEffect, useState } from 'react'
import { api, API_BASE, ApiError, describeError } from './api.js'
import { takeBootContacts, takeBootStatus } from './boot.js'
import type { ApiStatus, SyncStateEvent } from './types.js'

/** Whether the page is talking to its daemon. */
export type Connection = 'connecting' | 'live' | 'down' | 'unauthorized' | 'refused'

/** What {@link useLive} gives the screens. */
export interface Live {
  connection: Connection
  status: ApiStatus | undefined
  state: SyncStateEvent | undefined
  /** Bumped on every `contacts` event (and on reconnect): the contacts view refetches. */
  contactsVersion: number
  /** Why the daemon refused the page (a forged Origin or Host), in words, when `connection` is `refused`. */
  refusal?: string
  /** Asks `GET status` again (after a join: the device is in another workspace now). */
  refresh(): void
}

const REOPEN_MS = 1500

/** Subscribes to the daemon's event stream for the page's lifetime. */
export function useLive(): Live {
  // The document's own copy of `GET status` (boot.ts): the header is drawn without waiting for the API.
  const [booted] = useState(() => takeBootStatus())
  const [live, setLive] = useState<Live>({ connection: 'connecting', status: booted, state: undefined, contactsVersion: 0, refresh: () => undefined })

  useEffect(() => {
    let source: EventSource | undefined
    let reopen: ReturnType<typeof setTimeout> | undefined
    let closed = false
    let opened = false

    /** Resolves false when the page is signed out (401). */
    const refreshStatus = async (): Promise<boolean> => {
      try {
        const status = await api.status()
        setLive((l) => ({ ...l, status }))
        return true
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) {
          setLive((l) => ({ ...l, connection: 'unauthorized' }))
          return false
        }
        if (error instanceof ApiError && (error.status === 403 || error.status === 421)) {
          setLive((l) => ({ ...l, connection: 'refused', refusal: describeError(error) }))
          return false
        }
        return true
      }
    }

    const open = (): void => {
      if (closed) return
      source = new EventSource(`${API_BASE}/events`)
      source.addEventListener('open', () => {
        // A reconnect may have missed `contacts` events: the listing is fetched again. So may the first
        // open when the page came with its first contacts page (changes between the document and now).
        const missed = opened || booted !== undefined
        opened = true
        if (missed) takeBootContacts()
        setLive((l) => ({ ...l, connection: 'live', contactsVersion: missed ? l.contactsVersion + 1 : l.contactsVersion }))
        void refreshStatus()
      })
      source.addEventListener('state', (e) => {
        const state = JSON.parse((e as MessageEvent<string>).data) as SyncStateEvent
        setLive((l) => ({ ...l, connection: 'live', state }))
      })
      source.addEventListener('contacts', () => {
        // The document's copy of the first page is out of date now: a screen mounted later asks the API.
        takeBootContacts()
        setLive((l) => ({ ...l, contactsVersion: l.contactsVersion + 1 }))
      })
      source.addEventListener('error', () => {
        if (source?.readyState === EventSource.CLOSED) {
          source.close()
          // The browser gave up (a refused or failed answer): find out which, then try again.
          void api.status().then(
            () => {
              setLive((l) => ({ ...l, connection: 'down' }))
              reopen = setTimeout(open, REOPEN_MS)
            },
            (error: unknown) => {
              const unauthorized = error instanceof ApiError && error.status === 401
              setLive((l) => ({ ...l, connection: unauthorized ? 'unauthorized' : 'down' }))
              // Signed out: only the link `orbit ui` prints helps; a stopped daemon: keep trying.
              if (!unauthorized) reopen = setTimeout(open, REOPEN_MS)
            },
          )
        } else {
          setLive((l) => (l.connection === 'unauthorized' ? l : { ...l, connection: 'down' }))
        }
      })
    }

    setLive((l) => ({ ...l, refresh: () => void refreshStatus() }))
    // Signed in (the daemon sent the status with the page): the stream opens at once, and its `open` refreshes the status.
    if (booted !== undefined) open()
    else {
      void refreshStatus().then((ok) => {
        if (ok) open()
      })
    }
    return () => {
      closed = true
      if (reopen !== undefined) clearTimeout(reopen)
      source?.close()
    }
  }, [])

  return live
}

/**
 * The page: a header with the device and workspace, a tab bar (Sync, QR, Contacts), a banner while
 * the daemon is unreachable, and the "open the link" page when it answers 401 (docs/ui.md).
 */
import { lazy, Suspense, useState } from 'react'
import { useLive } from './live.js'
import { ContactsScreen } from './ContactsScreen.js'

// The QR screen carries the QR encoder and decoder (jsQR), the Sync screen the pairing and WebRTC
// forms: each is loaded when first opened, so the contacts list starts sooner (docs/ui.md, "Build").
const QrScreen = lazy(async () => ({ default: (await import('./QrScreen.js')).QrScreen }))
const SyncScreen = lazy(async () => ({ default: (await import('./SyncScreen.js')).SyncScreen }))

type Tab = 'sync' | 'qr' | 'contacts'
const TABS: Array<{ id: Tab; label: string }> = [
  { id: 'sync', label: 'Sync' },
  { id: 'qr', label: 'QR' },
  { id: 'contacts', label: 'Contacts' },
]

/** The whole page. */
export function App() {
  const live = useLive()
  const [tab, setTab] = useState<Tab>(() => tabFromHash())

  if (live.connection === 'unauthorized') {
    return (
      <main className="signed-out" data-testid="unauthorized">
        <h1>Orbit Sync</h1>
        <p role="alert">This page is not signed in to the Orbit daemon.</p>
        <p>
          Open the link that <code>orbit ui</code> prints in a terminal on this device (it carries the device's secret), or the
          <code> web UI:</code> line of <code>orbit serve</code>'s greeting.
        </p>
      </main>
    )
  }

  const select = (t: Tab): void => {
    setTab(t)
    history.replaceState(null, '', `#${t}`)
  }

  return (
    <div className="app">
      <header className="top">
        <h1>Orbit Sync</h1>
        <span className="who" data-testid="who">
          {live.status === undefined ? '…' : `${live.status.device.name} · ${live.status.workspace.name}`}
        </span>
        <nav aria-label="Screens" role="tablist">
          {TABS.map((t) => (
            <button key={t.id} role="tab" aria-selected={tab === t.id} aria-controls={`panel-${t.id}`} id={`tab-${t.id}`} onClick={() => select(t.id)}>
              {t.label}
            </button>
          ))}
        </nav>
      </header>
      {live.connection === 'refused' && (
        <div className="banner" role="alert" data-testid="refused">
          {live.refusal}
        </div>
      )}
      {live.connection === 'down' && (
        <div className="banner" role="alert" data-testid="daemon-down">
          The Orbit daemon stopped answering. Start <code>orbit serve</code> again: this page reconnects by itself.
        </div>
      )}
      <section id={`panel-${tab}`} role="tabpanel" aria-labelledby={`tab-${tab}`} className="panel">
        {tab === 'sync' && (
          <Suspense fallback={<p className="muted">Loading…</p>}>
            <SyncScreen live={live} />
          </Suspense>
        )}
        {tab === 'qr' && (
          <Suspense fallback={<p className="muted">Loading…</p>}>
            <QrScreen />
          </Suspense>
        )}
        {tab === 'contacts' && <ContactsScreen version={live.contactsVersion} blobsDone={live.state?.blobs?.completed ?? 0} />}
      </section>
    </div>
  )
}

function tabFromHash(): Tab {
  const h = location.hash.slice(1)
  return h === 'qr' || h === 'contacts' ? h : 'sync'
}

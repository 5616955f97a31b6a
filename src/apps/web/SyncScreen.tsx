/**
 * The Sync screen: status, method and last sync; every paired and nearby device with its sync
 * state and a Sync button; live and recent sessions; image (blob) transfers; pairing and WebRTC
 * codes (docs/ui.md).
 */
import { useState, type FormEvent } from 'react'
import { api, describeError } from './api.js'
import { ago, bytes, peerState, tier } from './format.js'
import type { Live } from './live.js'
import type { BlobsView, PeerRow, SyncSession } from './types.js'

/** The Sync screen over the live state. */
export function SyncScreen({ live }: { live: Live }) {
  const state = live.state
  const sessions = Object.values(state?.activeSessions ?? {})
  return (
    <div className="sync">
      <section aria-labelledby="h-status" className="card">
        <h2 id="h-status">Status</h2>
        <dl className="facts">
          <dt>Status</dt>
          <dd data-testid="sync-status">{state?.status ?? live.status?.sync.status ?? '…'}</dd>
          <dt>Method</dt>
          <dd data-testid="sync-method">{tier(state?.currentMethod ?? live.status?.sync.currentMethod)}</dd>
          <dt>Last sync</dt>
          <dd data-testid="last-sync">{ago(state?.lastSyncTimestamp ?? live.status?.sync.lastSyncTimestamp)}</dd>
        </dl>
        <SyncButton label="Sync now with every device" />
      </section>
      <Peers peers={state?.peers ?? []} />
      <Sessions active={sessions} recent={state?.recentSessions ?? []} />
      <Blobs blobs={state?.blobs} />
      <Pairing onJoined={live.refresh} />
      <WebRtc />
    </div>
  )
}

function SyncButton({ label, target }: { label: string; target?: string }) {
  const [busy, setBusy] = useState(false)
  const [outcome, setOutcome] = useState<{ ok: boolean; text: string } | undefined>()
  const run = async (): Promise<void> => {
    setBusy(true)
    setOutcome(undefined)
    try {
      const report = await api.sync(target)
      setOutcome({ ok: true, text: summarize(report) })
    } catch (error) {
      setOutcome({ ok: false, text: describeError(error) })
    } finally {
      setBusy(false)
    }
  }
  return (
    <span className="sync-button">
      <button onClick={() => void run()} disabled={busy} aria-label={label}>
        {busy ? 'Syncing…' : target === undefined ? 'Sync all' : 'Sync'}
      </button>
      {outcome !== undefined && (
        <span className={outcome.ok ? 'ok' : 'error'} role={outcome.ok ? 'status' : 'alert'}>
          {outcome.text}
        </span>
      )}
    </span>
  )
}

function summarize(report: unknown): string {
  const r = report as { sessions?: unknown[]; ok?: boolean; changesSent?: number; changesReceived?: number; error?: { message?: string } }
  if (Array.isArray(r.sessions)) return r.sessions.length === 0 ? 'No device was reachable.' : `Synced with ${r.sessions.length} device${r.sessions.length === 1 ? '' : 's'}.`
  if (r.error?.message !== undefined) return r.error.message
  return `Synced: ${r.changesSent ?? 0} sent, ${r.changesReceived ?? 0} received.`
}

function Peers({ peers }: { peers: PeerRow[] }) {
  return (
    <section aria-labelledby="h-peers" className="card wide">
      <h2 id="h-peers">Devices</h2>
      {peers.length === 0 ? (
        <p className="muted">No paired or nearby device yet. Pair one below.</p>
      ) : (
        <table className="peers" data-testid="peers">
          <thead>
            <tr>
              <th scope="col">Device</th>
              <th scope="col">Link</th>
              <th scope="col">State</th>
              <th scope="col">Known via</th>
              <th scope="col"><span className="sr-only">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            {peers.map((p) => (
              <tr key={p.deviceId} data-device={p.deviceId}>
                <th scope="row">
                  {p.name} <span className="muted mono">{p.deviceId.slice(0, 8)}</span>
                  <div className="muted small">{p.revoked ? 'revoked' : p.paired ? 'paired' : 'nearby, not paired'}</div>
                </th>
                <td>{p.connected ? `connected (${tier(p.link)})` : p.lastSeen === null ? 'offline' : `seen ${ago(p.lastSeen)}`}</td>
                <td className={`state-${p.sync.state}`}>
                  <span data-testid="peer-state">{peerState(p.sync)}</span>
                  {p.sync.state !== 'in-sync' && p.sync.detail !== undefined && <div className="muted small">{p.sync.detail}</div>}
                </td>
                <td>{p.sync.via === undefined ? '—' : `${tier(p.sync.via)}, ${ago(p.sync.at)}`}</td>
                <td>{p.paired && !p.revoked && <SyncButton label={`Sync with ${p.name}`} target={p.deviceId} />}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  )
}

function sessionLine(s: SyncSession): string {
  return `${s.changesSent} changes sent, ${s.changesReceived} received · ${bytes(s.bytesSent)} out, ${bytes(s.bytesReceived)} in`
}

function Sessions({ active, recent }: { active: SyncSession[]; recent: SyncSession[] }) {
  return (
    <section aria-labelledby="h-sessions" className="card wide">
      <h2 id="h-sessions">Sessions</h2>
      {active.length === 0 && <p className="muted">No session running.</p>}
      <ul className="sessions" data-testid="active-sessions">
        {active.map((s) => (
          <li key={s.id}>
            <strong>{tier(s.method)}</strong> with {s.peerId?.slice(0, 8) ?? 'a device'} — {s.status}
            <progress aria-label={`session ${s.id} progress`} />
            <div className="small">{sessionLine(s)}</div>
          </li>
        ))}
      </ul>
      {recent.length > 0 && (
        <>
          <h3>Recent</h3>
          <ul className="sessions recent">
            {recent.slice(0, 5).map((s) => (
              <li key={s.id} className={s.status === 'error' ? 'error' : ''}>
                {tier(s.method)} with {s.peerId?.slice(0, 8) ?? 'a device'}, {ago(s.completedAt ?? s.startedAt)}:{' '}
                {s.status === 'error' ? `failed — ${s.error?.message ?? 'unknown error'}` : sessionLine(s)}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  )
}

const count = (v: number | string[] | undefined): number => (Array.isArray(v) ? v.length : (v ?? 0))

function Blobs({ blobs }: { blobs: BlobsView | null | undefined }) {
  if (blobs === undefined || blobs === null) return null
  const transfers = blobs.transfers ?? []
  return (
    <section aria-labelledby="h-blobs" className="card">
      <h2 id="h-blobs">Images</h2>
      <p data-testid="blobs-summary">
        {count(blobs.present)} of {count(blobs.referenced)} present, {count(blobs.missing)} missing
        {(blobs.queued ?? 0) > 0 ? `, ${blobs.queued} queued` : ''}
      </p>
      {transfers.map((t) => (
        <div key={t.hash} className="small">
          {t.hash.slice(0, 10)}… from {t.from.slice(0, 8)}: {bytes(t.received)} of {bytes(t.size)}
          <progress value={t.received} max={t.size || 1} aria-label={`image ${t.hash.slice(0, 10)} progress`} />
        </div>
      ))}
      {(blobs.failed ?? []).map((f) => (
        <div key={f.hash} className="error small">
          {f.hash.slice(0, 10)}…: {f.reason}
        </div>
      ))}
    </section>
  )
}

function Pairing({ onJoined }: { onJoined: () => void }) {
  const [invite, setInvite] = useState<{ code: string; qrSvg: string; expiresAt: number } | undefined>()
  const [error, setError] = useState<string | undefined>()
  const [joinCode, setJoinCode] = useState('')
  const [joinState, setJoinState] = useState<{ ok: boolean; text: string } | undefined>()
  const [busy, setBusy] = useState(false)

  const create = async (): Promise<void> => {
    setError(undefined)
    try {
      setInvite(await api.invite())
    } catch (e) {
      setError(describeError(e))
    }
  }
  const join = async (e: FormEvent): Promise<void> => {
    e.preventDefault()
    setBusy(true)
    setJoinState(undefined)
    try {
      await api.join(joinCode.trim())
      setJoinState({ ok: true, text: 'Joined: this device is now a member of the workspace.' })
      setJoinCode('')
      onJoined()
    } catch (err) {
      setJoinState({ ok: false, text: describeError(err) })
    } finally {
      setBusy(false)
    }
  }

  return (
    <section aria-labelledby="h-pair" className="card">
      <h2 id="h-pair">Pair a device</h2>
      <button onClick={() => void create()}>Create invite</button>
      {error !== undefined && <p className="error" role="alert">{error}</p>}
      {invite !== undefined && (
        <div className="invite" data-testid="invite">
          <img className="qr-small" alt="Invite QR code" src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(invite.qrSvg)}`} />
          <label>
            Invite code (valid until {new Date(invite.expiresAt).toLocaleTimeString()})
            <textarea readOnly value={invite.code} rows={3} data-testid="invite-code" onFocus={(e) => e.currentTarget.select()} />
          </label>
        </div>
      )}
      <form onSubmit={(e) => void join(e)} className="join">
        <label htmlFor="join-code">Join a workspace: paste an invite code</label>
        <textarea id="join-code" rows={2} value={joinCode} onChange={(e) => setJoinCode(e.target.value)} placeholder="orbit-invite:…" />
        <button type="submit" disabled={busy || joinCode.trim() === ''}>{busy ? 'Joining…' : 'Join'}</button>
        {joinState !== undefined && (
          <p className={joinState.ok ? 'ok' : 'error'} role={joinState.ok ? 'status' : 'alert'} data-testid="join-result">
            {joinState.text}
          </p>
        )}
      </form>
    </section>
  )
}

function WebRtc() {
  const [offer, setOffer] = useState<{ code: string; qrSvg: string } | undefined>()
  const [answer, setAnswer] = useState('')
  const [msg, setMsg] = useState<{ ok: boolean; text: string } | undefined>()
  const create = async (): Promise<void> => {
    setMsg(undefined)
    try {
      setOffer(await api.webrtcOffer())
    } catch (e) {
      setMsg({ ok: false, text: describeError(e) })
    }
  }
  const accept = async (e: FormEvent): Promise<void> => {
    e.preventDefault()
    try {
      await api.webrtcAccept(answer.trim())
      setMsg({ ok: true, text: 'Answer accepted: the WebRTC session is connecting.' })
      setAnswer('')
    } catch (err) {
      setMsg({ ok: false, text: describeError(err) })
    }
  }
  return (
    <section aria-labelledby="h-webrtc" className="card">
      <h2 id="h-webrtc">Across networks (WebRTC)</h2>
      <button onClick={() => void create()}>Create offer</button>
      {offer !== undefined && (
        <div className="invite">
          <img className="qr-small" alt="WebRTC offer QR code" src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(offer.qrSvg)}`} />
          <label>
            Offer code: give it to the other device (<code>orbit webrtc answer</code>)
            <textarea readOnly value={offer.code} rows={3} onFocus={(e) => e.currentTarget.select()} />
          </label>
        </div>
      )}
      <form onSubmit={(e) => void accept(e)}>
        <label htmlFor="webrtc-answer">Paste the answer code</label>
        <textarea id="webrtc-answer" rows={2} value={answer} onChange={(e) => setAnswer(e.target.value)} />
        <button type="submit" disabled={answer.trim() === ''}>Accept answer</button>
      </form>
      {msg !== undefined && <p className={msg.ok ? 'ok' : 'error'} role={msg.ok ? 'status' : 'alert'}>{msg.text}</p>}
    </section>
  )
}

/**
 * QR sync in the browser (docs/ui.md): "Generate QR Code" asks the daemon for the export's frames
 * and shows them full-screen, one code at a time at a filmable rate, with the caption in its own
 * strip so nothing is ever drawn over the code; "Scan QR Code" reads the camera with jsQR and core's
 * frame decoder, posts the bundle to `qr/import`, and shows the reply frames the same way.
 */
import { useEffect, useMemo, useRef, useState } from 'react'
import { api, describeError, fromBase64 } from './api.js'
import { drawQr, qrMatrix } from './qr-draw.js'
import { CameraScanner, type ScanProgress } from './qr-scan.js'

/** Frames per second of the animated code: slow enough for a phone camera to catch each one. */
export const QR_FPS = 5

/** The QR screen. */
export function QrScreen() {
  const [frames, setFrames] = useState<{ frames: string[]; title: string } | undefined>()
  const [scanning, setScanning] = useState(false)
  const [error, setError] = useState<string | undefined>()
  const [info, setInfo] = useState<string | undefined>()
  const [stats, setStats] = useState<ScanProgress | undefined>()

  const generate = async (): Promise<void> => {
    setError(undefined)
    try {
      const out = await api.qrExport()
      setFrames({ frames: out.frames, title: `${out.documents} document${out.documents === 1 ? '' : 's'}, ${out.bundleBytes} bytes` })
    } catch (e) {
      setError(describeError(e))
    }
  }

  if (frames !== undefined) {
    return <FramePlayer frames={frames.frames} title={frames.title} onClose={() => setFrames(undefined)} />
  }
  return (
    <div className="qr card">
      <h2>Sync by QR code</h2>
      <p className="muted">With no network at all: show the codes on this screen to the other device's camera, then scan its reply.</p>
      <div className="row">
        <button onClick={() => void generate()}>Generate QR Code</button>
        <button onClick={() => setScanning((s) => !s)} aria-pressed={scanning}>
          {scanning ? 'Stop scanning' : 'Scan QR Code'}
        </button>
      </div>
      {error !== undefined && <p className="error" role="alert">{error}</p>}
      {info !== undefined && <p className="ok" role="status" data-testid="qr-imported">{info}</p>}
      {stats !== undefined && stats.needed > 0 && (
        <p className="muted small" data-testid="scan-stats" data-looked={stats.looked} data-read={stats.read} data-ms={Math.round(stats.elapsedMs)} data-scan-ms={Math.round(stats.scanMs)} data-received={stats.received}>
          Last scan: {stats.received} of {stats.needed} frames in {(stats.elapsedMs / 1000).toFixed(1)} s; {stats.read} codes read from {stats.looked} camera frames.
        </p>
      )}
      {scanning && (
        <Scanner
          onDone={(text, reply, p) => {
            setScanning(false)
            setStats(p)
            setInfo(text)
            if (reply !== undefined && reply.length > 0) setFrames({ frames: reply, title: 'reply: show this to the other device' })
          }}
          onError={(text, p) => {
            setScanning(false)
            setStats(p)
            setError(text)
          }}
        />
      )}
    </div>
  )
}

/** Full-screen animated frames; Escape or the Close button leaves, Space pauses. */
function FramePlayer({ frames, title, onClose }: { frames: string[]; title: string; onClose: () => void }) {
  const matrices = useMemo(() => frames.map((f) => qrMatrix(fromBase64(f))), [frames])
  const [index, setIndex] = useState(0)
  const [paused, setPaused] = useState(false)
  const canvas = useRef<HTMLCanvasElement>(null)
  const close = useRef<HTMLButtonElement>(null)

  useEffect(() => close.current?.focus(), [])
  useEffect(() => {
    if (paused || matrices.length < 2) return
    const timer = setInterval(() => setIndex((i) => (i + 1) % matrices.length), 1000 / QR_FPS)
    return () => clearInterval(timer)
  }, [paused, matrices.length])
  useEffect(() => {
    const draw = (): void => {
      const m = matrices[index]
      if (canvas.current !== null && m !== undefined) drawQr(canvas.current, m)
    }
    draw()
    window.addEventListener('resize', draw)
    return () => window.removeEventListener('resize', draw)
  }, [index, matrices])
  useEffect(() => {
    const key = (e: KeyboardEvent): void => {
      if (e.key === 'Escape') onClose()
      else if (e.key === ' ' && document.activeElement?.tagName !== 'BUTTON') setPaused((p) => !p)
    }
    window.addEventListener('keydown', key)
    return () => window.removeEventListener('keydown', key)
  }, [onClose])

  return (
    <div className="player" data-testid="qr-player" role="dialog" aria-modal="true" aria-label="QR frames">
      <div className="player-stage">
        <canvas ref={canvas} className="player-code" data-testid="qr-code" aria-label={`QR frame ${index + 1} of ${matrices.length}`} />
      </div>
      <div className="player-caption" data-testid="qr-caption">
        <span>
          Frame {index + 1} of {matrices.length} · {QR_FPS} fps · {title}
        </span>
        <button onClick={() => setPaused((p) => !p)}>{paused ? 'Play' : 'Pause'}</button>
        <button ref={close} onClick={onClose}>Close</button>
      </div>
    </div>
  )
}

/** The camera view and progress ("7 of ≈12 frames"). */
function Scanner({ onDone, onError }: { onDone: (text: string, reply: string[] | undefined, stats: ScanProgress) => void; onError: (text: string, stats?: ScanProgress) => void }) {
  const video = useRef<HTMLVideoElement>(null)
  const [progress, setProgress] = useState<ScanProgress | undefined>()
  const [phase, setPhase] = useState<'camera' | 'scanning' | 'importing'>('camera')
  // The parent's callbacks change identity on each of its renders; the camera must not restart.
  const done = useRef(onDone)
  const failed = useRef(onError)
  done.current = onDone
  failed.current = onError

  useEffect(() => {
    const scanner = new CameraScanner()
    const onDone = (text: string, reply: string[] | undefined): void => done.current(text, reply, { ...scanner.progress })
    const onError = (text: string): void => failed.current(text, { ...scanner.progress })
    let stream: MediaStream | undefined
    let stopped = false
    let handle = 0
    const finish = async (bundle: Uint8Array): Promise<void> => {
      setPhase('importing')
      try {
        const out = await api.qrImport(bundle)
        onDone(`Imported the bundle (${bundle.length} bytes)${out.reply === undefined ? '.' : ': showing the reply codes.'}`, out.reply?.frames)
      } catch (e) {
        onError(`The scanned codes could not be applied: ${describeError(e)}`)
      }
    }
    const tick = (): void => {
      if (stopped || video.current === null) return
      const bundle = scanner.scan(video.current)
      setProgress({ ...scanner.progress })
      if (bundle !== undefined) {
        stopped = true
        void finish(bundle)
        return
      }
      handle = requestAnimationFrame(tick)
    }
    const start = async (): Promise<void> => {
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false })
      } catch (e) {
        onError(`The camera could not be opened: ${e instanceof Error ? e.message : String(e)}`)
        return
      }
      if (stopped || video.current === null) return
      video.current.srcObject = stream
      await video.current.play()
      setPhase('scanning')
      handle = requestAnimationFrame(tick)
    }
    void start()
    return () => {
      stopped = true
      cancelAnimationFrame(handle)
      for (const t of stream?.getTracks() ?? []) t.stop()
    }
  }, [])

  const p = progress
  return (
    <div className="scanner">
      <video ref={video} muted playsInline className="camera" aria-label="Camera" />
      <p role="status" data-testid="scan-progress">
        {phase === 'camera'
          ? 'Opening the camera…'
          : phase === 'importing'
            ? 'All frames read: applying…'
            : p === undefined || p.needed === 0
              ? 'Point the camera at the other screen’s QR codes.'
              : `${p.received} of ≈${p.needed} frames`}
      </p>
      {p !== undefined && p.foreign > 0 && (
        <p className="error" data-testid="scan-foreign">
          {p.foreign} code{p.foreign === 1 ? '' : 's'} from another export were ignored (another workspace, or an older set of codes).
        </p>
      )}
    </div>
  )
}

/**
 * The page's entry, kept small (docs/ui.md, "Build"). When the document drew the contacts view's
 * first rows itself — the inline pre-React paint (prepaint-inline.ts) the daemon puts into the page
 * with its boot data — the entry waits until the browser reports those rows painted, and only then
 * evaluates React and the screens (start.tsx, fetched meanwhile through a `<link rel="modulepreload">`
 * for each chunk vite.config.ts names), which take the page over. Otherwise it starts React at once.
 */
import './styles.css'
import { ROW_TIMING } from './list-geometry.js'

/** The longest React's start waits for the rows' paint (a hidden tab paints nothing). */
const PAINT_WAIT_MS = 200

const root = document.getElementById('root')
if (root !== null) {
  let started = false
  let observer: PerformanceObserver | undefined
  const go = (): void => {
    if (started) return
    started = true
    observer?.disconnect()
    void import('./start.js').then((m) => m.start(root))
  }
  // The inline paint's root element (prepaint.ts): only on #contacts with boot data.
  if (root.querySelector(':scope > .app.prepaint') !== null) {
    // React's chunks, fetched and compiled while the rows paint (named by vite.config.ts).
    const names = document.querySelector<HTMLMetaElement>('meta[name="orbit-start"]')?.content.split(' ') ?? []
    for (const href of names) document.head.append(Object.assign(document.createElement('link'), { rel: 'modulepreload', href, crossOrigin: 'anonymous' }))
    // Element Timing reports the frame that showed a tagged row; then React may replace it.
    if (PerformanceObserver.supportedEntryTypes.includes('element')) {
      observer = new PerformanceObserver((list) => {
        if (list.getEntries().some((e) => (e as PerformanceEntry & { identifier?: string }).identifier === ROW_TIMING)) go()
      })
      observer.observe({ type: 'element', buffered: true })
    } else {
      // A task queued from an animation frame runs after that frame.
      requestAnimationFrame(() => setTimeout(go, 0))
    }
    setTimeout(go, PAINT_WAIT_MS)
  } else {
    go()
  }
}

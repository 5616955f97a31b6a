/** Starts React: mounts {@link App} over whatever main.ts's pre-React paint drew (docs/ui.md, "Build"). */
import { flushSync } from 'react-dom'
import { createRoot } from 'react-dom/client'
import { App } from './App.js'

/** The `performance` mark set once React's first render is on the page (read by bench/web.ts). */
export const REACT_MARK = 'orbit-react'

/**
 * Renders the page into `root`, replacing the pre-React paint in the same task (no frame in which
 * the page is empty), and keeps what a user may already have done to it: the list's scroll position
 * and the focus on the search field. Rendered in this task rather than the next one React would
 * schedule: the boot data (boot.ts) is already here.
 */
export function start(root: HTMLElement): void {
  const scrolled = root.querySelector('.viewport')?.scrollTop ?? 0
  const searching = document.activeElement?.id === 'contact-search'
  const r = createRoot(root)
  flushSync(() => {
    root.replaceChildren()
    r.render(<App />)
  })
  // Setting it fires the list's scroll event: ContactsScreen draws the rows there.
  const viewport = root.querySelector('.viewport')
  if (viewport !== null && scrolled > 0) viewport.scrollTop = scrolled
  if (searching) document.getElementById('contact-search')?.focus()
  performance.mark(REACT_MARK)
}

/** The page's entry: mounts {@link App} (docs/ui.md). */
import { flushSync } from 'react-dom'
import { createRoot } from 'react-dom/client'
import { App } from './App.js'
import './styles.css'

const root = document.getElementById('root')
// Rendered in this task rather than the next one React would schedule: the boot data (boot.ts) is
// already here, so the first frame after the script can show the first contacts page.
if (root !== null) {
  const r = createRoot(root)
  flushSync(() => r.render(<App />))
}

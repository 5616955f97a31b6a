/**
 * The pre-React paint as a classic script (docs/ui.md, "Build"): built on its own by
 * vite.prepaint.config.ts into `dist/web/assets/prepaint-inline.js`, which the daemon puts inline
 * into the page it serves to a signed-in browser, right after the boot data (src/apps/daemon/http/
 * boot.ts, with the script's hash in the page's CSP). It runs while the document is parsed, so the
 * first rows paint with the document itself, before any script file is fetched; the entry
 * (main.ts) finds them drawn and starts React once they are on screen.
 */
import { prepaint } from './prepaint.js'

const root = document.getElementById('root')
if (root !== null) prepaint(root, location.hash)

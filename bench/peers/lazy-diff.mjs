// Experiment, not a fix: run the LAN bench with automerge-repo as it would be after two one-line
// changes (see lazy-diff-hooks.mjs), without touching node_modules:
//   node --expose-gc --import ./bench/peers/lazy-diff.mjs dist/bench/lan.js
import { register } from 'node:module'

register('./lazy-diff-hooks.mjs', import.meta.url)

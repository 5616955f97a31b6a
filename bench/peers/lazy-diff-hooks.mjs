// Module hooks for bench/peers/lazy-diff.mjs: serve automerge-repo 2.5 with (1) DocHandle skipping
// its eager `A.diff(after, beforeHeads, afterHeads)` when no one listens for 'change' and (2)
// DocSynchronizer woken by 'heads-changed' instead of 'change' (so it no longer forces that diff).
// For a document that arrives whole, that diff is a patch per op. The files on disk are untouched.
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
const patches = {
  '/@automerge/automerge-repo/dist/DocHandle.js': [
    ['const patches = A.diff(after, beforeHeads, afterHeads);', 'const patches = this.listenerCount("change") === 0 ? [] : A.diff(after, beforeHeads, afterHeads);'],
  ],
  '/@automerge/automerge-repo/dist/synchronizer/DocSynchronizer.js': [['handle.on("change", asyncThrottle(', 'handle.on("heads-changed", asyncThrottle(']],
}
export async function load(url, context, next) {
  for (const [suffix, edits] of Object.entries(patches)) {
    if (!url.endsWith(suffix)) continue
    let src = await readFile(fileURLToPath(url), 'utf8')
    for (const [a, b] of edits) {
      if (!src.includes(a)) throw new Error(`patch point not found in ${suffix}`)
      src = src.replace(a, b)
    }
    process.stderr.write(`[experiment] patched ${suffix}\n`)
    return { format: 'module', source: src, shortCircuit: true }
  }
  return next(url, context)
}

#!/usr/bin/env node
// Small, exact edits to installed dependencies, applied after `npm install` (the `postinstall`
// script) and checked by the tests. Each edit replaces one exact line; it is idempotent (an edit
// already applied is left alone) and refuses to guess: if neither the original nor the patched
// text is in the file (a dependency upgrade moved it), it says so and changes nothing. The
// automerge-repo edits only remove work and change nothing anyone observes (Orbit is correct
// without them; the first-sync race they once also closed is closed in Orbit's own link adapters,
// src/core/sync/first-sync-guard.ts, so other Repos in the process are untouched); the werift edit keeps
// WebRTC from contacting a public STUN server nobody configured (README, "Patched dependencies"),
// which Orbit also enforces at run time.
//
//   node scripts/patch-deps.mjs           # apply (what postinstall runs); warns on a missed patch point
//   node scripts/patch-deps.mjs --check   # exit 1 unless every edit is in place (test/deps)
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * automerge-repo 2.5's DocHandle runs `A.diff(after, before, after)` on every update to emit
 * 'change' with patches, whether or not anyone listens. For a document that arrives whole (a first
 * sync, a load from storage) that is a diff from nothing: a patch per op, about half the time of
 * Automerge's whole sync loop for a 10,000-contact workspace. Edit 1 computes the patches only
 * when a 'change' listener exists; edit 2 wakes the synchronizer on 'heads-changed' (emitted on
 * the same update, just before) instead of 'change', so the synchronizer no longer forces the diff.
 * Orbit's own listeners use 'heads-changed' (src/core/model/workspace.ts).
 */
export const EDITS = [
  {
    pkg: '@automerge/automerge-repo',
    file: 'dist/DocHandle.js',
    from: 'const patches = A.diff(after, beforeHeads, afterHeads);',
    to: 'const patches = this.listenerCount("change") === 0 ? [] : A.diff(after, beforeHeads, afterHeads); /* orbit-sync: lazy diff */',
  },
  {
    pkg: '@automerge/automerge-repo',
    file: 'dist/synchronizer/DocSynchronizer.js',
    from: 'handle.on("change", asyncThrottle(() => this.#syncWithPeers(), this.syncDebounceRate));',
    to: 'handle.on("heads-changed", asyncThrottle(() => this.#syncWithPeers(), this.syncDebounceRate)); /* orbit-sync: lazy diff */',
  },
  // werift 0.24 falls back to Google's public STUN server (stun.l.google.com:19302) whenever no
  // STUN server is configured: a DNS lookup and STUN packets to the internet on every offer and
  // answer, and a 5 s gathering stall where DNS does not resolve. Orbit uses no ICE server unless
  // the user configures one (README, "Patched dependencies"), so the fallback goes. Orbit does not
  // depend on this edit: createPeerConnection strips an unconfigured server at run time
  // (src/adapters/transport-webrtc/peer.ts); the edit keeps other users of this werift safe too.
  {
    pkg: 'werift',
    file: 'lib/index.mjs',
    from: 'this.stunServer = validateAddress(stunServer) ?? [\n      "stun.l.google.com",\n      19302\n    ];',
    to: 'this.stunServer = validateAddress(stunServer); /* orbit-sync: no STUN server unless configured */',
  },
  {
    pkg: 'werift',
    file: 'lib/ice/src/ice.js',
    from: 'this.stunServer = (0, iceBase_1.validateAddress)(stunServer) ?? [\n            "stun.l.google.com",\n            19302,\n        ];',
    to: 'this.stunServer = (0, iceBase_1.validateAddress)(stunServer); /* orbit-sync: no STUN server unless configured */',
  },
]

/**
 * Apply `edits` to the text of one file. Returns the new text and, per edit, 'applied',
 * 'already' or 'missing' (neither text found).
 * @param {string} text
 * @param {ReadonlyArray<{ from: string, to: string }>} edits
 */
export function applyEdits(text, edits) {
  const results = []
  for (const { from, to } of edits) {
    if (text.includes(to)) results.push('already')
    else if (text.split(from).length === 2) {
      text = text.replace(from, to)
      results.push('applied')
    } else results.push('missing')
  }
  return { text, results }
}

/**
 * The installed directory of `pkg`, resolved from `root` as Node would.
 * @param {string} pkg
 * @param {string} root
 */
export function packageDir(pkg, root) {
  // The package's own package.json is not always exported; resolve its main entry and walk up.
  const require = createRequire(join(root, 'package.json'))
  let dir = dirname(require.resolve(pkg))
  while (!dir.endsWith(join('node_modules', pkg))) {
    const up = dirname(dir)
    if (up === dir) throw new Error(`cannot find the directory of ${pkg}`)
    dir = up
  }
  return dir
}

/**
 * Copies the installed `pkg` to `<dir>/node_modules/<pkg>` with every edit of {@link EDITS} for it
 * undone (each edit's one exact `to` text back to `from`), so that modules placed under `dir`
 * resolve upstream's code: how the tests and the bench run Orbit on an unpatched dependency.
 * Throws when an edit's patched text is not found exactly once (nothing to undo, or ambiguous).
 * @param {string} pkg
 * @param {string} root the project root (where the installed copy is resolved from)
 * @param {string} dir
 * @returns {string} the copy's directory
 */
export function unpatchedCopy(pkg, root, dir) {
  const copy = join(dir, 'node_modules', pkg)
  rmSync(copy, { recursive: true, force: true })
  cpSync(packageDir(pkg, root), copy, { recursive: true, dereference: true })
  const edits = EDITS.filter((e) => e.pkg === pkg)
  for (const file of new Set(edits.map((e) => e.file))) {
    const path = join(copy, file)
    let text = readFileSync(path, 'utf8')
    for (const e of edits.filter((x) => x.file === file)) {
      if (text.split(e.to).length !== 2) throw new Error(`${pkg}/${file}: the patched text of an edit is not there exactly once: ${e.to}`)
      // By hand, not applyEdits: an edit whose original is a prefix of its result reads as applied.
      text = text.replace(e.to, () => e.from)
    }
    if (text.includes('orbit-sync')) throw new Error(`${pkg}/${file}: an Orbit edit is left after undoing them all`)
    writeFileSync(path, text)
  }
  return copy
}

function main() {
  const check = process.argv.includes('--check')
  const root = join(dirname(fileURLToPath(import.meta.url)), '..')
  let missing = 0
  let notApplied = 0
  const byFile = new Map()
  for (const edit of EDITS) {
    const key = `${edit.pkg}/${edit.file}`
    byFile.set(key, [...(byFile.get(key) ?? []), edit])
  }
  for (const [key, edits] of byFile) {
    const { pkg, file } = edits[0]
    let path
    try {
      path = join(packageDir(pkg, root), file)
    } catch (error) {
      console.warn(`patch-deps: ${key}: ${error.message}`)
      missing += edits.length
      continue
    }
    const before = readFileSync(path, 'utf8')
    const { text, results } = applyEdits(before, edits)
    results.forEach((result, i) => {
      if (result === 'missing') {
        missing++
        console.warn(`patch-deps: ${key}: patch point not found (dependency upgraded?): ${edits[i].from}`)
      } else if (result === 'applied') notApplied++
    })
    if (!check && text !== before) {
      writeFileSync(path, text)
      console.log(`patch-deps: patched ${key}`)
    }
  }
  if (check && (missing > 0 || notApplied > 0)) {
    console.error(`patch-deps: ${missing + notApplied} edit(s) not in place; run \`node scripts/patch-deps.mjs\``)
    process.exit(1)
  }
  if (missing > 0) console.warn('patch-deps: unpatched automerge-repo only makes first syncs slower; unpatched werift contacts stun.l.google.com when no --ice is set')
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main()

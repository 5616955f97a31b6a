#!/usr/bin/env node
/**
 * Folder-level import cycles, type-only imports included (docs/architecture.md, "Rules"): every
 * `import`/`export ... from` and `import()` of a relative module in src/ is an arrow from its
 * folder (src/apps/node, src/core/engine, ...) to the target's folder. Prints each cycle among
 * folders and exits 1 if there is one. `npm run lint` runs it after dpdm (which skips type imports).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'

const root = resolve(dirname(new URL(import.meta.url).pathname), '..')
const src = join(root, 'src')
// A folder is the first two levels under src (src/apps/node/tiers belongs to src/apps/node).
const folderOf = (file) => relative(root, file).split('/').slice(0, 3).join('/')

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) yield* files(path)
    else if (path.endsWith('.ts') && !path.endsWith('.d.ts')) yield path
  }
}

const edges = new Map()
const spec = /(?:import|export)\s[^'"]*?from\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g
for (const file of files(src)) {
  const text = readFileSync(file, 'utf8')
  for (const m of text.matchAll(spec)) {
    const target = resolve(dirname(file), m[1] ?? m[2])
    const [a, b] = [folderOf(file), folderOf(target)]
    if (a === b) continue
    if (!edges.has(a)) edges.set(a, new Set())
    edges.get(a).add(b)
  }
}

// Tarjan's strongly connected components: a component of more than one folder is a cycle.
let index = 0
const stack = []
const info = new Map()
const cycles = []
function visit(v) {
  info.set(v, { index, low: index, on: true })
  index++
  stack.push(v)
  for (const w of edges.get(v) ?? []) {
    if (!info.has(w)) {
      visit(w)
      info.get(v).low = Math.min(info.get(v).low, info.get(w).low)
    } else if (info.get(w).on) info.get(v).low = Math.min(info.get(v).low, info.get(w).index)
  }
  if (info.get(v).low === info.get(v).index) {
    const component = []
    let w
    do {
      w = stack.pop()
      info.get(w).on = false
      component.push(w)
    } while (w !== v)
    if (component.length > 1) cycles.push(component.sort())
  }
}
for (const v of edges.keys()) if (!info.has(v)) visit(v)

if (cycles.length === 0) {
  console.log(`no folder cycle among ${edges.size} folders (type imports included)`)
} else {
  for (const c of cycles) {
    console.log(`folder cycle: ${c.join(' <-> ')}`)
    for (const a of c) for (const b of edges.get(a) ?? []) if (c.includes(b)) console.log(`  ${a} -> ${b}`)
  }
  process.exit(1)
}

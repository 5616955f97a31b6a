#!/usr/bin/env node
// The `orbit` CLI. Built from src/apps/cli by `npm run build` (tsc -p tsconfig.build.json).
import { existsSync } from 'node:fs'

const entry = new URL('../dist/src/apps/cli/main.js', import.meta.url)
if (!existsSync(entry)) {
  process.stderr.write('orbit: not built yet. Run `npm run build` (or `npm install`) in the repository first.\n')
  process.exit(1)
}
await import(entry.href)

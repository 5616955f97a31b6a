#!/usr/bin/env node
// The long fuzz run (docs/fuzzing.md): every target of test/fuzz/, each for its share of the
// time instead of the CI input count.
//
//   npm run fuzz -- --minutes N [--seed S] [--target NAME]
//
// --minutes  total wall time, split evenly over the targets (or all of it for --target); default 10
// --seed     base seed (default: a fresh one, printed); a failure prints its seed and input index
// --target   one target only (names: docs/fuzzing.md, or the "fuzz NAME:" lines of a run)
//
// It runs `vitest run test/fuzz` with ORBIT_FUZZ_MS / ORBIT_FUZZ_SEED / ORBIT_FUZZ_TARGET set; the
// harness (test/fuzz/harness.ts) reads them. The exit code is vitest's.
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const args = process.argv.slice(2)
const value = (name) => {
  const i = args.indexOf(`--${name}`)
  if (i < 0) return undefined
  const v = args[i + 1]
  if (v === undefined || v.startsWith('--')) fail(`--${name} needs a value`)
  return v
}
function fail(message) {
  console.error(`fuzz: ${message}\nusage: npm run fuzz -- --minutes N [--seed S] [--target NAME]`)
  process.exit(2)
}
for (const a of args) if (a.startsWith('--') && !['--minutes', '--seed', '--target'].includes(a)) fail(`unknown option ${a}`)

const minutes = Number(value('minutes') ?? 10)
if (!Number.isFinite(minutes) || minutes <= 0) fail('--minutes must be a positive number')
const seedText = value('seed')
const seed = seedText === undefined ? Math.floor(Math.random() * 2 ** 32) : Number(seedText)
if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) fail('--seed must be an integer in 0..2^32-1')
const target = value('target')

// The target names, read from the test files (`name: '...'` in each fuzz({ ... }) call).
const dir = join(root, 'test', 'fuzz')
const names = readdirSync(dir)
  .filter((f) => f.endsWith('.test.ts'))
  .flatMap((f) => [...readFileSync(join(dir, f), 'utf8').matchAll(/\bname: '([a-z0-9-]+)'/g)].map((m) => m[1]))
if (target !== undefined && !names.includes(target)) fail(`no target ${target}; targets: ${names.join(', ')}`)
const perTargetMs = Math.max(1000, Math.floor((minutes * 60_000) / (target === undefined ? names.length : 1)))

console.log(`fuzz: seed ${seed}, ${target ?? `${names.length} targets`}, ${Math.round(perTargetMs / 1000)} s each`)
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs')
const run = spawnSync(process.execPath, [vitest, 'run', 'test/fuzz'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, ORBIT_FUZZ_MS: String(perTargetMs), ORBIT_FUZZ_SEED: String(seed), ...(target === undefined ? {} : { ORBIT_FUZZ_TARGET: target }) },
})
if (run.status !== 0) console.error(`fuzz: failed; replay with npm run fuzz -- --seed ${seed}${target === undefined ? '' : ` --target ${target}`} (the failure names its target and input)`)
process.exit(run.status ?? 1)

#!/usr/bin/env node
// A short scripted walkthrough of the `orbit` CLI on a fresh, temporary data dir:
// init, an organization, contacts, an edit, a note, the listing, one contact, status.
// Run with `npm run demo` (it builds first). Set ORBIT_DEMO_KEEP=1 to keep the data dir.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'orbit.js')
const root = mkdtempSync(join(tmpdir(), 'orbit-demo-'))
const data = join(root, 'data')

/** Runs one CLI command, echoing it and its output like a terminal session. */
function orbit(args, { show = true, json = false, expectFailure = false } = {}) {
  const full = ['--data', data, ...args, ...(json ? ['--json'] : [])]
  if (show) process.stdout.write(`\n$ orbit ${args.map((a) => (/[\s"]/.test(a) ? JSON.stringify(a) : a)).join(' ')}${json ? ' --json' : ''}\n`)
  const r = spawnSync(process.execPath, [bin, ...full], { encoding: 'utf8', env: { ...process.env, ORBIT_LOG_LEVEL: 'silent' } })
  if (show) process.stdout.write(r.stdout + r.stderr)
  if ((r.status !== 0) !== expectFailure) {
    throw new Error(`orbit ${args.join(' ')} exited ${r.status}${expectFailure ? ', expected a failure' : ''}`)
  }
  return { code: r.status, out: r.stdout }
}

try {
  process.stdout.write(`Orbit demo — data dir ${data}\n`)
  orbit(['init', '--name', 'Demo laptop', '--workspace', 'Acme sales'])
  const acme = JSON.parse(orbit(['org', 'add', '--name', 'Acme Corp'], { json: true }).out)
  // A 1×1 PNG as the logo.
  const logo = join(root, 'logo.png')
  writeFileSync(logo, Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=', 'base64'))
  const ada = orbit(['contact', 'add', '--name', 'Ada Lovelace', '--email', 'ada@acme.test', '--title', 'Analyst', '--org', acme.id, '--tag', 'vip', '--logo', logo]).out.trim()
  orbit(['contact', 'add', '--name', 'Grace Hopper', '--email', 'grace@navy.test', '--phone', '+1 555 0100'])
  orbit(['contact', 'add', '--name', 'Alan Turing', '--email', 'alan@bletchley.test'])
  orbit(['contact', 'edit', ada, '--title', 'Chief Analyst', '--add-tag', 'board'])
  orbit(['contact', 'note', ada, '--kind', 'call', '--body', 'Talked about the Analytical Engine'])
  orbit(['contact', 'list'])
  orbit(['contact', 'show', ada])
  process.stdout.write('\n# Bad input is refused with a clear message, a non-zero exit, and nothing written:')
  const bad = orbit(['contact', 'add', '--name', 'Nobody', '--email', 'not-an-email'], { expectFailure: true })
  process.stdout.write(`(exit code ${bad.code})\n`)
  orbit(['org', 'list'])
  orbit(['status'])
  process.stdout.write('\nDone. Every command above also takes --json; `node bin/orbit.js --help` lists them all.\n')
} finally {
  if (process.env.ORBIT_DEMO_KEEP === '1') process.stdout.write(`(kept ${root})\n`)
  else rmSync(root, { recursive: true, force: true })
}

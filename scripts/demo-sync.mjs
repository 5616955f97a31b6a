#!/usr/bin/env node
// `npm run demo:sync`: a live two-device sync on this machine, with nothing to set up and nothing sent to
// the network. Two devices ("Laptop" and "Phone") each get a data dir (a SQLite file and a key) in
// a temporary directory; the Laptop runs `orbit serve` on loopback; the Phone pairs by reading the
// invite QR code back from its pixels; both edit, also in conflict, and sync over the secure TCP
// channel; then, with the daemon stopped, they sync once more by animated QR frames alone.
// Every step is a real `orbit` command, printed with its output. ORBIT_DEMO_KEEP=1 keeps the dirs.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..')
const bin = join(repoRoot, 'bin', 'orbit.js')
if (!existsSync(join(repoRoot, 'dist', 'src', 'apps', 'cli', 'main.js'))) {
  console.error('orbit is not built yet: run `npm install` (or `npm run build`) first.')
  process.exit(1)
}
const root = mkdtempSync(join(tmpdir(), 'orbit-demo-sync-'))
const env = { ...process.env, ORBIT_LOG_LEVEL: process.env.ORBIT_LOG_LEVEL ?? 'silent' }
const devices = { laptop: join(root, 'laptop'), phone: join(root, 'phone') }
let daemon

const bold = (s) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s)
const step = (title) => process.stdout.write(`\n${bold(`── ${title}`)}\n`)

/** Runs one CLI command on a device, echoing it and its output like a terminal session. */
function orbit(device, args, { json = false, quiet = false } = {}) {
  const full = ['--data', devices[device], ...args, ...(json ? ['--json'] : [])]
  const shown = args.map((a) => (/[\s"']/.test(a) ? JSON.stringify(a) : a)).join(' ')
  if (!quiet) process.stdout.write(`\n[${device}] $ orbit ${shown}${json ? ' --json' : ''}\n`)
  const r = spawnSync(process.execPath, [bin, ...full], { encoding: 'utf8', env, cwd: root })
  if (!quiet) process.stdout.write(json ? r.stdout.split('\n')[0].slice(0, 160) + '…\n' : r.stdout + r.stderr)
  if (r.status !== 0) throw new Error(`orbit ${shown} exited ${r.status}:\n${r.stderr}`)
  return json ? JSON.parse(r.stdout.split('\n')[0]) : r.stdout.trim()
}

/** A free loopback port, so the demo never collides with a running `orbit serve`. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

/** Starts `orbit serve` for the Laptop and resolves once it says it is running. */
function startDaemon(port) {
  const args = [bin, '--data', devices.laptop, 'serve', '--listen', `127.0.0.1:${port}`, '--no-mdns', '--no-invite']
  process.stdout.write(`\n[laptop] $ orbit serve --listen 127.0.0.1:${port} --no-mdns --no-invite   (in the background)\n`)
  daemon = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`orbit serve did not start:\n${out}`)), 30_000)
    const onData = (chunk) => {
      out += chunk
      if (out.includes('Stop with Ctrl-C')) {
        clearTimeout(timer)
        daemon.stdout.off('data', onData)
        daemon.stderr.off('data', onData)
        daemon.stdout.resume()
        daemon.stderr.resume()
        process.stdout.write(out.trimEnd().replace(/^/gm, '  ') + '\n')
        resolve()
      }
    }
    daemon.stdout.on('data', onData)
    daemon.stderr.on('data', onData)
    daemon.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`orbit serve exited with ${code}:\n${out}`))
    })
  })
}

function stopDaemon() {
  if (daemon === undefined || daemon.exitCode !== null) return Promise.resolve()
  process.stdout.write(`\n[laptop] (Ctrl-C to orbit serve)\n`)
  return new Promise((resolve) => {
    daemon.once('exit', () => resolve())
    daemon.kill('SIGINT')
  })
}

async function main() {
  process.stdout.write(`Orbit Sync — a live two-device demo. Data dirs under ${root}\n`)

  step('1. Two devices, each with its own key pair and SQLite store')
  orbit('laptop', ['init', '--name', 'Laptop', '--workspace', 'Acme sales'])
  orbit('phone', ['init', '--name', 'Phone'])

  step('2. The Laptop goes online (loopback only, no mDNS) and invites the Phone')
  const port = await freePort()
  await startDaemon(port)
  const invitePng = join(root, 'invite.png')
  orbit('laptop', ['pair', 'invite', '--qr', invitePng])

  step('3. The Phone reads the invite QR code from its pixels and pairs over the secure channel')
  orbit('phone', ['pair', 'join', invitePng])

  step('4. Both edit: the Laptop through its running daemon, the Phone offline')
  const acme = orbit('laptop', ['org', 'add', '--name', 'Acme Corp'], { json: true })
  const ada = orbit('laptop', ['contact', 'add', '--name', 'Ada Lovelace', '--email', 'ada@acme.test', '--org', acme.id, '--tag', 'vip'])
  orbit('laptop', ['contact', 'add', '--name', 'Alan Turing', '--email', 'alan@bletchley.test'])
  orbit('phone', ['contact', 'add', '--name', 'Grace Hopper', '--phone', '+1 555 0100'])

  step('5. The Phone syncs with the Laptop over LAN (TCP inside Noise XX)')
  orbit('phone', ['sync', `127.0.0.1:${port}`])
  orbit('phone', ['contact', 'list'])

  step('6. A conflict: both change Ada while apart, then sync; both end with the same answer')
  orbit('laptop', ['contact', 'edit', ada, '--title', 'Chief Analyst', '--add-tag', 'board'])
  orbit('phone', ['contact', 'edit', ada, '--title', 'Analyst', '--add-tag', 'engine'])
  orbit('phone', ['sync', `127.0.0.1:${port}`])
  orbit('laptop', ['contact', 'show', ada])
  orbit('phone', ['contact', 'show', ada])

  step('7. No network at all: the Laptop goes offline; they sync by animated QR frames')
  await stopDaemon()
  const laptopId = orbit('laptop', ['status'], { json: true, quiet: true }).device.id
  orbit('phone', ['contact', 'note', ada, '--kind', 'call', '--body', 'Talked about the Analytical Engine'])
  const phoneFrames = join(root, 'qr-from-phone')
  const laptopFrames = join(root, 'qr-from-laptop')
  orbit('phone', ['qr', 'export', '--out', phoneFrames, '--for', laptopId])
  orbit('laptop', ['contact', 'add', '--name', 'Katherine Johnson'])
  orbit('laptop', ['qr', 'import', phoneFrames, '--reply', laptopFrames])
  orbit('phone', ['qr', 'import', laptopFrames])
  orbit('laptop', ['contact', 'list'])
  orbit('phone', ['contact', 'list'])
  process.stdout.write(`\n  (${readdirSync(phoneFrames).filter((f) => f.endsWith('.png')).length} frame(s) one way; open ${join(phoneFrames, 'index.html')} to see them cycle)\n`)

  step('Your turn')
  process.stdout.write(`On a real LAN, start a device and give the interface to advertise on:
  npx orbit init --name "My laptop"
  npx orbit serve --interface 192.168.1.20        # prints an invite; or: npx orbit pair invite --qr invite.png
and on the other device:
  npx orbit init --name "My phone" && npx orbit pair join <code or invite.png> && npx orbit serve --interface …
Run \`npx orbit --help\` for everything else.
`)
}

let failed = false
try {
  await main()
} catch (error) {
  failed = true
  process.stderr.write(`\nThe demo failed: ${error.message}\n`)
} finally {
  await stopDaemon()
  if (process.env.ORBIT_DEMO_KEEP === '1') process.stdout.write(`\nKept ${root}\n`)
  else rmSync(root, { recursive: true, force: true })
}
process.exit(failed ? 1 : 0)

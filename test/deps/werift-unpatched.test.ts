/**
 * Orbit contacts no ICE server nobody configured, even on an install that skipped our postinstall.
 *
 * A fresh `npm install --ignore-scripts werift@<ours>` into a temp dir (so werift keeps its silent
 * fallback to Google's STUN server), with Orbit's built peer module next to it; a child process
 * records every DNS lookup and every UDP datagram to a non-loopback address, and delivers none of
 * them (nothing leaves the machine). The control — werift used directly — shows the probe sees the
 * fallback; `createPeerConnection` must produce none.
 */
import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-expect-error: a plain .mjs script, no declarations
import { packageDir } from '../../scripts/patch-deps.mjs'

const root = join(import.meta.dirname, '..', '..')
const builtPeer = join(root, 'dist/src/adapters/transport-webrtc/peer.js')
const weriftVersion = (JSON.parse(readFileSync(join((packageDir as (p: string, r: string) => string)('werift', root), 'package.json'), 'utf8')) as { version: string }).version

/** Runs in the child: intercepts DNS and non-loopback UDP, gathers, prints what was attempted. */
const PROBE = String.raw`
import dgram from 'node:dgram'
import dns from 'node:dns'
import net from 'node:net'
const attempts = []
const loopback = (a) => a === undefined || a === '127.0.0.1' || a === '::1' || a === 'localhost'
const send = dgram.Socket.prototype.send
dgram.Socket.prototype.send = function (...args) {
  const address = args.find((a) => typeof a === 'string')
  if (loopback(address)) return send.apply(this, args)
  attempts.push('udp ' + address + ':' + args.filter((a) => typeof a === 'number').pop())
  const cb = args.find((a) => typeof a === 'function')
  if (cb) setImmediate(() => cb(new Error('blocked by the test')))
}
// Address literals (sockets binding to 127.0.0.1) resolve locally; a name would ask a resolver.
const literal = (h) => net.isIP(h) !== 0 || h === 'localhost'
const { lookup, promises: { lookup: lookupAsync } } = dns
dns.promises.lookup = async (host, ...rest) => {
  if (literal(host)) return lookupAsync(host, ...rest)
  attempts.push('dns ' + host)
  throw Object.assign(new Error('blocked by the test'), { code: 'ENOTFOUND' })
}
dns.lookup = (host, ...rest) => {
  if (literal(host)) return lookup(host, ...rest)
  attempts.push('dns ' + host)
  const cb = rest.pop()
  setImmediate(() => cb(Object.assign(new Error('blocked by the test'), { code: 'ENOTFOUND' })))
}

const werift = await import('werift')
const { createPeerConnection, enforceConfiguredIce, gatheringComplete } = await import('./dist/src/adapters/transport-webrtc/peer.js')
async function gather(pc) {
  pc.createDataChannel('probe')
  await pc.setLocalDescription(await pc.createOffer())
  await gatheringComplete(pc, 8000)
  const stun = pc.iceTransports[0].connection.stunServer
  await pc.close()
  return stun ?? null
}
const out = { fallback: new werift.Connection(false, {}).stunServer ?? null }
attempts.length = 0
out.control = { stun: await gather(new werift.RTCPeerConnection({ iceServers: [], iceAdditionalHostAddresses: ['127.0.0.1'], iceInterfaceAddresses: { udp4: '127.0.0.1' }, iceUseIpv6: false })), attempts: attempts.splice(0) }
out.orbit = { stun: await gather(createPeerConnection({ hostAddresses: ['127.0.0.1'] })), attempts: attempts.splice(0) }
out.configured = { stun: await gather(createPeerConnection({ hostAddresses: ['127.0.0.1'], iceServers: [{ urls: 'stun:127.0.0.1:3478' }] })), attempts: attempts.splice(0) }
try {
  enforceConfiguredIce({}, [])
  out.refused = null
} catch (e) {
  out.refused = { name: e.name, code: e.code, message: e.message }
}
console.log(JSON.stringify(out))
process.exit(0)
`

describe(`werift ${weriftVersion} installed with --ignore-scripts (its STUN fallback intact)`, () => {
  let dir: string
  beforeAll(() => {
    if (!existsSync(builtPeer)) throw new Error(`${builtPeer} is missing: run \`npm run build\` before these tests`)
    dir = mkdtempSync(join(tmpdir(), 'orbit-werift-'))
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'orbit-werift-probe', private: true, type: 'module' }))
    try {
      // --prefer-offline: npm's cache when it has the tarball, else the registry (nothing else is contacted).
      execFileSync('npm', ['install', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', `werift@${weriftVersion}`], { cwd: dir, stdio: 'pipe', timeout: 180_000 })
    } catch (error) {
      throw new Error(`npm could not install werift@${weriftVersion} into ${dir} (is the npm registry reachable?): ${String((error as { stderr?: unknown }).stderr ?? error)}`)
    }
    // Orbit's built modules, resolving `werift` from the temp dir's node_modules.
    cpSync(join(root, 'dist/src'), join(dir, 'dist/src'), { recursive: true })
    writeFileSync(join(dir, 'probe.mjs'), PROBE)
  }, 240_000)
  afterAll(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  it('gathers without contacting any server unless one is configured; werift alone would ask Google', () => {
    const installed = readFileSync(join(dir, 'node_modules/werift/lib/index.mjs'), 'utf8')
    expect(installed).not.toContain('orbit-sync') // unpatched: no postinstall ran
    const out = JSON.parse(execFileSync(process.execPath, ['probe.mjs'], { cwd: dir, encoding: 'utf8', timeout: 120_000 }).trim().split('\n').pop() as string) as {
      fallback: unknown
      control: { stun: unknown; attempts: string[] }
      orbit: { stun: unknown; attempts: string[] }
      configured: { stun: unknown; attempts: string[] }
      refused: { name: string; code: string; message: string } | null
    }
    // The install really has the fallback, and the probe sees werift act on it.
    expect(out.fallback).toEqual(['stun.l.google.com', 19302])
    expect(out.control.stun).toEqual(['stun.l.google.com', 19302])
    expect(out.control.attempts).toContain('dns stun.l.google.com')
    // Orbit's peer connection: no STUN server, no lookup, no datagram off the machine.
    expect(out.orbit).toEqual({ stun: null, attempts: [] })
    // A configured server is kept (and it is on loopback, so nothing was blocked).
    expect(out.configured).toEqual({ stun: ['127.0.0.1', 3478], attempts: [] })
    // Where werift's internals are not what the guard expects, this werift is refused with a reason.
    expect(out.refused).toMatchObject({ name: 'WebRtcError', code: 'ICE_UNCONFIGURED_SERVER' })
    expect(out.refused?.message).toMatch(/stun\.l\.google\.com/)
  }, 180_000)
})

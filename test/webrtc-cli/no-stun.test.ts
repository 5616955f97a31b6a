/**
 * With no ICE server configured, `orbit webrtc offer` (the built CLI, `node bin/orbit.js`) contacts
 * no server at all — checked at packet level. werift 0.24 falls back to Google's STUN server
 * (stun.l.google.com:19302) when none is set; scripts/patch-deps.mjs removes that, and this test is
 * what notices if the patch goes missing (a werift upgrade, an install without postinstall).
 *
 * ```
 *  home 10.79.N.2 (wan0, IPv6 off, default route) ── srv0 10.79.N.1  "server" namespace
 *  /etc/netns/<home>/resolv.conf: nameserver 10.79.N.1         UDP listener on :53 :19302 :3478
 *                                                               iptables counter of every IPv4 packet in
 * ```
 *
 * The home namespace's only way out is the veth to the server namespace, whose listener records
 * every datagram and answers DNS A queries with its own address (so a leaking werift goes on to send
 * STUN to :19302 there), and whose raw-table counter catches any IPv4 packet to any address. Nothing
 * is routed further, so nothing reaches eth0. The offer runs once without `--ice` (the listener and
 * the counter must see nothing: no DNS query, no STUN), then once with `--ice stun:10.79.N.1:3478`
 * as the positive control (the same capture sees STUN Binding Requests on :3478).
 */
import { mkdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { LineChild } from '../helpers/line-child.js'
import { addVethPair, execIn, NetnsResources, netnsUnavailableReason, run, sweepStaleNamespaces, uniqueTag } from '../helpers/netns.js'
import { REPO_ROOT, Scratch, requireBuilt } from './helpers.js'

const reason = netnsUnavailableReason()
if (reason !== undefined) console.warn(`skipping the no-STUN packet test: ${reason}`)

const ORBIT = join(REPO_ROOT, 'bin/orbit.js')
const PORTS = [53, 19302, 3478] as const
/** Source port of the flush markers; the counter ignores it, the listener reports it. */
const MARKER_PORT = 40999
/** After the code is printed, how long the offer may go on (it waits for an answer) before it is stopped. */
const LINGER_MS = 2000

/**
 * The fake server: binds `ip` on every port, prints `ready`, then one JSON line per datagram.
 * DNS queries get an answer pointing at `ip` (A) or no record (anything else), so that a resolver
 * lookup of a STUN host leads the sender on to this same listener.
 */
const LISTENER = `
const dgram = require('node:dgram')
const [ip, ...ports] = process.argv.slice(1)
const addr = Buffer.from(ip.split('.').map(Number))
function dnsAnswer(q) {
  let end = 12
  while (end < q.length && q[end] !== 0) end += 1 + q[end]
  end += 5 // the root label's 0, QTYPE, QCLASS
  if (q.length < 12 || end > q.length) return undefined
  const isA = q.readUInt16BE(end - 4) === 1
  const header = Buffer.alloc(12)
  q.copy(header, 0, 0, 2)
  header.writeUInt16BE(0x8180, 2)
  header.writeUInt16BE(1, 4)
  header.writeUInt16BE(isA ? 1 : 0, 6)
  const answer = Buffer.concat([Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]), addr])
  return Buffer.concat([header, q.subarray(12, end), isA ? answer : Buffer.alloc(0)])
}
let bound = 0
for (const port of ports.map(Number)) {
  const socket = dgram.createSocket('udp4')
  socket.on('message', (msg, rinfo) => {
    process.stdout.write(JSON.stringify({ port, from: rinfo.port, hex: msg.toString('hex') }) + '\\n')
    const reply = port === 53 ? dnsAnswer(msg) : undefined
    if (reply) socket.send(reply, rinfo.port, rinfo.address)
  })
  socket.bind(port, ip, () => { if (++bound === ports.length) process.stdout.write('ready\\n') })
}
`

/** Sends one marker datagram from MARKER_PORT to each port, so the listener's output is known to be complete up to them. */
const MARKERS = `
const dgram = require('node:dgram')
const [ip, ...ports] = process.argv.slice(1)
const socket = dgram.createSocket('udp4')
socket.bind(${MARKER_PORT}, async () => {
  for (const port of ports) await new Promise((resolve, reject) => socket.send('orbit-marker', Number(port), ip, (e) => (e ? reject(e) : resolve())))
  socket.close()
})
`

interface Datagram {
  port: number
  from: number
  hex: string
}

describe.skipIf(reason !== undefined)('orbit webrtc offer without an ICE server (network namespaces)', () => {
  const scratch = new Scratch()
  let res: NetnsResources | undefined
  let netnsDir: string | undefined

  beforeAll(async () => {
    requireBuilt()
    await sweepStaleNamespaces()
  })

  afterEach(async () => {
    // Processes by pid, then namespaces, then the resolver file, then data dirs.
    await res?.cleanup()
    res = undefined
    if (netnsDir !== undefined) {
      rmSync(netnsDir, { recursive: true, force: true })
      try {
        rmdirSync('/etc/netns') // only when empty: another run may be using it
      } catch {
        // not empty, or already gone
      }
      netnsDir = undefined
    }
    await scratch.cleanup()
  })

  it('sends no DNS query and no STUN packet anywhere; with --ice the same capture sees STUN Binding Requests', async () => {
    const tag = uniqueTag()
    const third = 1 + Math.floor(Math.random() * 254)
    const serverIp = `10.79.${third}.1`
    const homeIp = `10.79.${third}.2`
    res = new NetnsResources()
    const home = await res.addNamespace(`${tag}-home`)
    const srv = await res.addNamespace(`${tag}-srv`)
    // IPv6 off in the home: every packet that can leave it is IPv4, so the counter sees it.
    await execIn(home, 'sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'])
    await addVethPair(tag, { ns: home, name: 'wan0' }, { ns: srv, name: 'srv0' })
    await run('ip', ['-n', home, 'addr', 'add', `${homeIp}/24`, 'dev', 'wan0'])
    await run('ip', ['-n', srv, 'addr', 'add', `${serverIp}/24`, 'dev', 'srv0'])
    await run('ip', ['-n', home, 'route', 'add', 'default', 'via', serverIp])
    // Rule 1 lets the flush markers through uncounted; rule 2 counts every other IPv4 packet in.
    await execIn(srv, 'iptables', ['-t', 'raw', '-A', 'PREROUTING', '-i', 'srv0', '-p', 'udp', '--sport', String(MARKER_PORT), '-j', 'RETURN'])
    await execIn(srv, 'iptables', ['-t', 'raw', '-A', 'PREROUTING', '-i', 'srv0', '-j', 'ACCEPT'])
    netnsDir = join('/etc/netns', home)
    mkdirSync(netnsDir, { recursive: true })
    writeFileSync(join(netnsDir, 'resolv.conf'), `nameserver ${serverIp}\n`)
    // The resolver really is the fake one inside the home namespace (ip netns exec bind-mounts it).
    expect(await execIn(home, 'cat', ['/etc/resolv.conf'])).toBe(`nameserver ${serverIp}\n`)

    const listener = new LineChild(res.spawnIn(srv, process.execPath, ['-e', LISTENER, serverIp, ...PORTS.map(String)]))
    expect(await listener.line(0)).toBe('ready')
    let seen = 1

    const dir = join(scratch.root(), 'home')
    await scratch.json(dir, ['init', '--name', 'Home'])
    const env: NodeJS.ProcessEnv = { ...process.env, ORBIT_LOG_LEVEL: process.env.ORBIT_TEST_LOG ?? 'silent' }
    delete env.ORBIT_HOME

    /** Runs one offer in the home namespace and returns what reached the server namespace meanwhile. */
    async function observe(extra: readonly string[]): Promise<{ datagrams: Datagram[]; packets: number }> {
      await execIn(srv, 'iptables', ['-t', 'raw', '-Z', 'PREROUTING'])
      const offering = new LineChild(res!.spawnIn(home, process.execPath, [ORBIT, '--data', dir, '--json', 'webrtc', 'offer', ...extra], { cwd: REPO_ROOT, env }))
      const first = JSON.parse(await offering.line(0)) as { code?: unknown }
      expect(typeof first.code).toBe('string')
      // The code comes after gathering; linger a little in case anything is sent late.
      await sleep(LINGER_MS)
      offering.child.kill('SIGKILL') // by pid: this child only
      await offering.exited
      // Markers go through the same veth and sockets after everything the offer sent: once all
      // of them are reported, so is every earlier datagram.
      await execIn(home, process.execPath, ['-e', MARKERS, serverIp, ...PORTS.map(String)])
      const datagrams: Datagram[] = []
      let markers = 0
      while (markers < PORTS.length) {
        const d = JSON.parse(await listener.line(seen++)) as Datagram
        if (d.from === MARKER_PORT) markers++
        else datagrams.push(d)
      }
      const table = await execIn(srv, 'iptables', ['-t', 'raw', '-nvxL', 'PREROUTING'])
      const counted = table.split('\n').find((l) => /^\s*\d+\s+\d+\s+ACCEPT\b/.test(l))
      expect(counted, table).toBeDefined()
      return { datagrams, packets: Number(counted!.trim().split(/\s+/)[0]) }
    }

    const none = await observe([])
    expect(none.datagrams, 'datagrams reached the fake DNS/STUN server with no ICE server configured').toEqual([])
    expect(none.packets, 'IPv4 packets left the home namespace with no ICE server configured').toBe(0)

    // Positive control: the capture does see an ICE server that is configured.
    const control = await observe(['--ice', `stun:${serverIp}:3478`])
    const bindingRequests = control.datagrams.filter((d) => d.port === 3478 && d.hex.startsWith('0001'))
    expect(bindingRequests.length, JSON.stringify(control.datagrams)).toBeGreaterThan(0)
    expect(control.packets).toBeGreaterThanOrEqual(bindingRequests.length)
    // An IP literal needs no resolver, and nothing falls back to another server.
    expect(control.datagrams.filter((d) => d.port !== 3478)).toEqual([])
  })
})

/**
 * WebRTC across real NATs (README.md, "Development": network tests): two devices in home namespaces behind two MASQUERADE
 * NATs, coturn in a public namespace. The devices are child processes running the built transport
 * (test/webrtc/fixtures/nat-peer.mjs); the test carries their codes between them like a person would.
 */
import { execFileSync, type ChildProcess } from 'node:child_process'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { exportIdentitySecret, generateIdentity, type DeviceIdentity } from '../../src/core/crypto/identity.js'
import { createNatTopology, distBuilt, natUnavailableReason, type NatHome, type NatTopology } from '../helpers/nat.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..')
const PEER = join(ROOT, 'test/webrtc/fixtures/nat-peer.mjs')
const reason = natUnavailableReason()
if (reason !== undefined) console.warn(`skipping WebRTC NAT tests: ${reason}`)

type PeerEvent = { event: string; [key: string]: unknown }

interface Peer {
  next(event?: string): Promise<PeerEvent>
  send(command: object): void
  child: ChildProcess
  stderr(): string
}

function startPeer(topology: NatTopology, home: NatHome, role: 'offer' | 'answer', self: DeviceIdentity, members: DeviceIdentity[], ice: string[], connectTimeoutMs: number, answerTimeoutMs?: number): Peer {
  const config = {
    role,
    answerTimeoutMs,
    secret: Buffer.from(exportIdentitySecret(self)).toString('hex'),
    members: members.map((m) => [m.deviceId, Buffer.from(m.publicKey).toString('hex')]),
    ice,
    connectTimeoutMs,
  }
  const child = topology.spawnIn(home.ns, process.execPath, [PEER], {
    cwd: ROOT,
    env: { ...process.env, ORBIT_PEER: JSON.stringify(config) },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const events: PeerEvent[] = []
  const waiters: ((e: PeerEvent) => void)[] = []
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let event: PeerEvent
    try {
      event = JSON.parse(line) as PeerEvent
    } catch {
      return
    }
    const waiter = waiters.shift()
    if (waiter) waiter(event)
    else events.push(event)
  })
  child.once('exit', (code) => {
    const exit = { event: 'exit', code }
    for (const w of waiters.splice(0)) w(exit)
    events.push(exit)
  })
  return {
    child,
    stderr: () => stderr,
    async next(expected) {
      const event = events.shift() ?? (await new Promise<PeerEvent>((resolve) => waiters.push(resolve)))
      if (expected !== undefined && event.event !== expected) {
        throw new Error(`${role} peer: expected ${expected}, got ${JSON.stringify(event)}; stderr: ${stderr.slice(-2000)}`)
      }
      return event
    },
    send(command) {
      child.stdin?.write(JSON.stringify(command) + '\n')
    },
  }
}

describe.skipIf(reason !== undefined)('WebRTC across NATs (network namespaces, coturn)', () => {
  let topology: NatTopology | undefined
  const alice = generateIdentity()
  const bob = generateIdentity()
  const members = [alice, bob]

  beforeAll(() => {
    if (!distBuilt(ROOT)) execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'ignore' })
  }, 300_000)

  afterEach(async () => {
    await topology?.destroy()
    topology = undefined
  })

  async function syncAcross(ice: string[], answerDelayMs = 0): Promise<{ a: PeerEvent; b: PeerEvent }> {
    const t = topology!
    const a = startPeer(t, t.a, 'offer', alice, members, ice, 20_000)
    // The answering side waits for the person carrying its code back, at least as long as the delay.
    const b = startPeer(t, t.b, 'answer', bob, members, ice, 20_000, answerDelayMs + 20_000)
    const offer = await a.next('code')
    b.send({ offer: offer.code })
    const answer = await b.next('code')
    // A person carrying the answer back takes a while; the answerer's checks start meanwhile.
    if (answerDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, answerDelayMs))
    a.send({ answer: answer.code })
    await a.next('connected')
    await b.next('connected')
    const doc = await a.next('doc')
    b.send({ url: doc.url })
    const syncedB = await b.next('synced')
    const syncedA = await a.next('synced')
    a.send({ done: true })
    b.send({ done: true })
    expect((await a.next('exit')).code).toBe(0)
    expect((await b.next('exit')).code).toBe(0)
    return { a: syncedA, b: syncedB }
  }

  it('syncs through STUN-discovered (server-reflexive) candidates', async () => {
    topology = await createNatTopology()
    const { a, b } = await syncAcross([topology.stunSpec])
    expect(a.notes).toEqual(['hello from A', 'reply from B'])
    expect(b.notes).toEqual(['hello from A', 'reply from B'])
    expect(b.contacts).toBe(200)
    // The homes' private addresses are unroutable from each other: the path runs between the NATs' public sides.
    const pair = a.pair as { local: { type: string }; remote: { type: string; address: string } }
    expect(['srflx', 'prflx']).toContain(pair.remote.type)
    expect(pair.remote.address).toBe(topology.b.publicIp)
  })

  it('syncs through srflx candidates when the answer arrives 10 s late (a person pasting it)', async () => {
    topology = await createNatTopology()
    const { a } = await syncAcross([topology.stunSpec], Number(process.env.ORBIT_SLOW_PASTE_MS ?? 10_000))
    expect(a.notes).toEqual(['hello from A', 'reply from B'])
  }, 180_000)

  it('syncs through the TURN relay when direct UDP between the NATs is blocked', async () => {
    topology = await createNatTopology()
    await topology.blockDirect()
    const { a, b } = await syncAcross([topology.stunSpec, topology.turnSpec])
    expect(a.notes).toEqual(['hello from A', 'reply from B'])
    expect(b.notes).toEqual(['hello from A', 'reply from B'])
    const pairs = [a.pair, b.pair] as { local: { type: string }; remote: { type: string } }[]
    expect(pairs.some((p) => p.local.type === 'relay' || p.remote.type === 'relay')).toBe(true)
  })

  it('fails with a clear NO_ROUTE error in bounded time without ICE servers', async () => {
    topology = await createNatTopology()
    const t = topology
    const a = startPeer(t, t.a, 'offer', alice, members, [], 4000)
    const b = startPeer(t, t.b, 'answer', bob, members, [], 4000)
    const offer = await a.next('code')
    b.send({ offer: offer.code })
    const answer = await b.next('code')
    a.send({ answer: answer.code })
    const failure = await a.next('error')
    expect(failure).toMatchObject({ name: 'WebRtcError', code: 'NO_ROUTE' })
    expect(String(failure.message)).toMatch(/--ice/)
    expect((await b.next('error')).name).toMatch(/WebRtcError|AbortedError|HandshakeError/)
  })
})

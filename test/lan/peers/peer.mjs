// One Orbit device for the namespace LAN tests: a Repo (in memory) on the TCP transport with the
// secure channel, advertised and discovered over mDNS on lan0. Reads JSON commands on stdin, writes
// JSON events on stdout (one per line). Config (argv[2], JSON):
//   { secretHex, name, ip, port, members: [deviceId], autoDial?, advertiseAs?, mdns? }
// `advertiseAs` puts another device id in the TXT record (the attacker of the LAN tests).
import { Repo } from '@automerge/automerge-repo'
import { createMdnsDiscovery } from '../../../dist/src/adapters/discovery-mdns/index.js'
import { TcpNetworkAdapter } from '../../../dist/src/adapters/transport-tcp/index.js'
import { identityFromSecret } from '../../../dist/src/core/crypto/identity.js'
import { createLogger } from '../../../dist/src/adapters/log/pino.js'

const config = JSON.parse(process.argv[2] ?? '{}')
const print = (event) => process.stdout.write(`${JSON.stringify({ t: Date.now(), ...event })}\n`)
const logger = createLogger({ level: process.env.ORBIT_LOG_LEVEL ?? 'silent' })
const identity = identityFromSecret(Uint8Array.from(Buffer.from(config.secretHex, 'hex')))
const members = new Set(config.members ?? [])

const adapter = new TcpNetworkAdapter({
  identity,
  listen: { host: config.ip, port: config.port },
  authorize: (remote) => (members.has(remote.deviceId) ? 'member' : 'refuse'),
  backoff: [100, 200, 400, 800],
  heartbeatMs: config.heartbeatMs,
  idleTimeoutMs: config.idleTimeoutMs,
  connectTimeoutMs: config.connectTimeoutMs,
  deviceName: config.name,
  logger,
})
adapter.on2('session', (e) => print({ event: 'session', ...e }))
adapter.on2('device-connected', (e) => print({ event: 'device-connected', ...e }))
adapter.on2('device-disconnected', (e) => print({ event: 'device-disconnected', ...e }))
adapter.on2('connection-error', (e) => print({ event: 'connection-error', name: e.error.name, code: e.error.code, remoteAddress: e.remoteAddress }))
const repo = new Repo({ network: [adapter], peerId: identity.deviceId })

let discovery
if (config.mdns !== false) {
  discovery = createMdnsDiscovery({
    interfaceAddress: config.ip,
    advertise: { deviceId: config.advertiseAs ?? identity.deviceId, name: config.name, port: config.port },
    logger,
  })
  discovery.on('peer', (peer) => {
    print({ event: 'peer', peer })
    if (config.autoDial && members.has(peer.deviceId)) {
      for (const address of peer.addresses) {
        adapter
          .dial(address, peer.port, { expectedDeviceId: peer.deviceId })
          .then((deviceId) => print({ event: 'dialed', address, deviceId }))
          .catch((error) => print({ event: 'dial-failed', address, name: error.name, code: error.code }))
      }
    }
  })
  discovery.on('peer-lost', (deviceId) => print({ event: 'peer-lost', deviceId }))
  discovery.on('error', (error) => print({ event: 'discovery-error', name: error.name, code: error.code }))
}

const handles = new Map()
async function handle(url) {
  if (!handles.has(url)) handles.set(url, await repo.find(url))
  return handles.get(url)
}

async function run(cmd) {
  switch (cmd.cmd) {
    case 'create': {
      const h = repo.create({ items: {} })
      handles.set(h.url, h)
      return { event: 'created', url: h.url }
    }
    case 'find': {
      const h = await handle(cmd.url)
      return { event: 'found', url: h.url }
    }
    case 'change': {
      const h = await handle(cmd.url)
      for (let i = 0; i < cmd.n; i++) {
        h.change((d) => {
          d.items[`${cmd.prefix}-${i}`] = { n: i, text: `${config.name} item ${i}` }
        })
        // Let the network breathe between changes so a cut lands mid-stream.
        if (i % 50 === 49) await new Promise((r) => setTimeout(r, 0))
      }
      return { event: 'changed', count: Object.keys(h.doc().items).length }
    }
    case 'state': {
      const h = await handle(cmd.url)
      const doc = h.doc()
      return { event: 'state', count: Object.keys(doc?.items ?? {}).length, heads: h.heads() }
    }
    case 'dial': {
      try {
        const deviceId = await adapter.dial(cmd.host, cmd.port, { expectedDeviceId: cmd.expectedDeviceId, reconnect: cmd.reconnect })
        return { event: 'dialed', deviceId }
      } catch (error) {
        return { event: 'dial-failed', name: error.name, code: error.code }
      }
    }
    case 'traffic':
      return { event: 'traffic', traffic: adapter.traffic(cmd.deviceId) }
    case 'stop':
      await discovery?.stop()
      adapter.disconnect()
      print({ event: 'stopped' })
      process.exit(0)
  }
  return { event: 'unknown', cmd }
}

let buffered = ''
process.stdin.on('data', (chunk) => {
  buffered += chunk
  let nl
  while ((nl = buffered.indexOf('\n')) >= 0) {
    const line = buffered.slice(0, nl)
    buffered = buffered.slice(nl + 1)
    const cmd = JSON.parse(line)
    run(cmd)
      .then((result) => print({ id: cmd.id, ...result }))
      .catch((error) => print({ id: cmd.id, event: 'failed', name: error.name, message: error.message }))
  }
})
process.on('SIGTERM', () => process.exit(0))

await adapter.listen()
await discovery?.start()
print({ event: 'ready', deviceId: identity.deviceId })

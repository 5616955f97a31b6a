// Child process of bench/lan-discovery.ts, run inside one network namespace (`ip netns exec`).
// Loads everything, prints {"event":"ready"}, then waits for a line `go <epochMs>` on stdin and
// starts mDNS discovery (advertise + browse on the namespace's lan0) at that wall-clock instant,
// so both devices start together. Prints {"event":"seen","ms":...} (ms after the instant) when
// the other device appears, and exits on `stop`, SIGTERM or end of stdin (saying goodbye).
//   node bench/peers/discover.mjs '{"interfaceAddress":"10.78.1.1","deviceId":"...","watchFor":"...","port":7420}'
import { createMdnsDiscovery } from '../../dist/src/adapters/discovery-mdns/index.js'

const config = JSON.parse(process.argv[2] ?? '{}')
const print = (event) => process.stdout.write(`${JSON.stringify(event)}\n`)

const discovery = createMdnsDiscovery({
  interfaceAddress: config.interfaceAddress,
  advertise: { deviceId: config.deviceId, name: config.name ?? 'bench', port: config.port ?? 7420 },
})
let goAt
let started = false
discovery.on('peer', (peer) => {
  if (peer.deviceId === config.watchFor && goAt !== undefined) print({ event: 'seen', ms: Date.now() - goAt })
})
discovery.on('error', (error) => print({ event: 'error', name: error.name, code: error.code }))

let stopping = false
const shutdown = async () => {
  if (stopping) return
  stopping = true
  if (started) await discovery.stop().catch(() => undefined)
  process.exit(0)
}
process.on('SIGTERM', () => void shutdown())
process.on('SIGINT', () => void shutdown())
process.stdin.setEncoding('utf8')
let buffer = ''
process.stdin.on('data', (chunk) => {
  buffer += chunk
  let nl
  while ((nl = buffer.indexOf('\n')) >= 0) {
    const line = buffer.slice(0, nl).trim()
    buffer = buffer.slice(nl + 1)
    if (line === 'stop') void shutdown()
    const m = /^go (\d+)$/.exec(line)
    if (m) {
      goAt = Number(m[1])
      setTimeout(() => {
        started = true
        discovery.start().then(
          () => print({ event: 'started', ms: Date.now() - goAt }),
          (error) => print({ event: 'error', name: error.name, message: String(error) }),
        )
      }, Math.max(0, goAt - Date.now()))
    }
  }
})
process.stdin.on('end', () => void shutdown())
print({ event: 'ready' })

// Child process for test/lan: advertises one device over mDNS on the namespace's lan0 and prints
// one JSON line per discovery event on stdout. Usage:
//   node discover.mjs '{"interfaceAddress":"10.77.1.10","deviceId":"...","name":"d0","port":7420}'
// A raw malformed announcement can be sent with {"forge": {...}} (see lan tests).
import { createMdnsDiscovery } from '../../../dist/src/adapters/discovery-mdns/index.js'
import { createLogger } from '../../../dist/src/adapters/log/pino.js'

const config = JSON.parse(process.argv[2] ?? '{}')
const print = (event) => process.stdout.write(`${JSON.stringify({ t: Date.now(), ...event })}\n`)

const discovery = createMdnsDiscovery({
  interfaceAddress: config.interfaceAddress,
  advertise: config.deviceId ? { deviceId: config.deviceId, name: config.name, port: config.port } : undefined,
  ttlSeconds: config.ttlSeconds,
  queryIntervalMs: config.queryIntervalMs,
  logger: createLogger({ level: process.env.ORBIT_LOG_LEVEL ?? 'silent' }),
})
discovery.on('peer', (peer) => print({ event: 'peer', peer }))
discovery.on('peer-lost', (deviceId) => print({ event: 'peer-lost', deviceId }))
discovery.on('error', (error) => print({ event: 'error', name: error.name, code: error.code }))

const shutdown = async () => {
  await discovery.stop()
  print({ event: 'stopped' })
  process.exit(0)
}
process.on('SIGTERM', () => void shutdown())
process.on('SIGINT', () => void shutdown())
process.stdin.on('data', (chunk) => {
  if (String(chunk).includes('stop')) void shutdown()
})
process.stdin.on('end', () => void shutdown())

await discovery.start()
print({ event: 'started' })

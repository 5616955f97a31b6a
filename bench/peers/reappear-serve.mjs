// Child process of bench/reappear.ts, run inside one network namespace (`ip netns exec`): the
// restarted device. Runs the daemon `orbit serve` runs (startDaemon, mDNS on the namespace's
// lan0) and prints, as JSON lines with wall-clock times (one clock: same machine):
//   {"event":"announced","t"}  its mDNS announcement was sent (the discovery's 'mDNS started' log,
//                               written right after the announcement's send completed)
//   {"event":"ready","t"}      startDaemon resolved (what `orbit serve` prints as ready)
//   {"event":"synced","t"}     the contact `watchFor` (A's edit made while this device was down)
//                               is in its workspace: the first sync after the restart completed
//   {"event":"linked","t"}     its own orchestrator dialled the other device (else the other dialled it)
// Exits on `stop` (or end of stdin, SIGTERM), stopping the daemon (mDNS goodbye included).
//   node bench/peers/reappear-serve.mjs '{"dataDir":"...","ip":"10.78.1.2","port":7420,"watchFor":"ct_...","forgetPeers":true}'
import { startDaemon } from '../../dist/src/apps/daemon/daemon.js'
import { openDevice } from '../../dist/src/apps/node/device.js'
import { KNOWN_PEERS_KEY } from '../../dist/src/apps/node/known-peers.js'

const config = JSON.parse(process.argv[2] ?? '{}')
const print = (event) => process.stdout.write(`${JSON.stringify({ ...event, t: Date.now() })}\n`)

/** A logger that only watches for the two lines the bench times. */
const watching = (component) => ({
  debug() {},
  info(msg) {
    if (msg === 'mDNS started') print({ event: 'announced' })
    if (component === 'orbit:orchestrator' && msg === 'linked') print({ event: 'linked' })
  },
  warn() {},
  error(msg, fields) {
    process.stderr.write(`${component}: ${msg} ${JSON.stringify(fields ?? {})}\n`)
  },
  forComponent: (name) => watching(name),
})

if (config.forgetPeers) {
  // Only the other device's dialling (on our announcement) can bring the two together.
  const device = await openDevice(config.dataDir)
  device.config.set(KNOWN_PEERS_KEY, {})
  await device.close()
}
print({ event: 'starting' })
const daemon = await startDaemon({ dataDir: config.dataDir, listen: { host: config.ip, port: config.port }, interfaceAddress: config.ip, logger: watching('orbit') })
print({ event: 'ready' })

let synced = false
const poll = async () => {
  while (!synced && config.watchFor !== undefined) {
    if ((await daemon.device.workspace.getContact(config.watchFor).catch(() => undefined)) !== undefined) {
      synced = true
      print({ event: 'synced' })
      break
    }
    await new Promise((r) => setTimeout(r, 5))
  }
}
void poll()

let stopping = false
const shutdown = async () => {
  if (stopping) return
  stopping = true
  synced = true
  await daemon.stop().catch((error) => process.stderr.write(`stop failed: ${error}\n`))
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
  }
})
process.stdin.on('end', () => void shutdown())

#!/usr/bin/env node
// The long chaos soak (docs/soak.md): `npm run soak -- --minutes N [--seed S] [--devices N]`.
// --webrtc adds a pair of devices behind two NATs linked over WebRTC (needs coturn). Runs test/soak/soak.test.ts through vitest with the ORBIT_SOAK_* variables; needs root (network
// namespaces) and a build (`npm run build`). Without --seed it picks one and prints it.
import { spawnSync } from 'node:child_process'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    seed: { type: 'string' },
    devices: { type: 'string', default: '4' },
    'converge-ms': { type: 'string', default: '300000' },
    webrtc: { type: 'boolean', default: false },
  },
})
const seed = values.seed ?? String(Math.floor(Math.random() * 2 ** 31))
for (const [name, v] of [['minutes', values.minutes], ['seed', seed], ['devices', values.devices]]) {
  if (!/^\d+(\.\d+)?$/.test(v)) {
    console.error(`soak: --${name} must be a number, not ${JSON.stringify(v)}`)
    process.exit(2)
  }
}
const devices = Number(values.devices)
if (devices < 3 || devices > 5) {
  console.error('soak: --devices must be 3, 4 or 5')
  process.exit(2)
}
const webrtc = values.webrtc ? ' --webrtc' : ''
console.error(`soak: seed ${seed} (replay: npm run soak -- --minutes ${values.minutes} --devices ${devices} --seed ${seed}${webrtc})`)
const r = spawnSync('npx', ['vitest', 'run', 'test/soak/soak.test.ts'], {
  stdio: 'inherit',
  env: {
    ...process.env,
    ORBIT_SOAK_MINUTES: values.minutes,
    ORBIT_SOAK_SEED: seed,
    ORBIT_SOAK_DEVICES: String(devices),
    ORBIT_SOAK_CONVERGE_MS: values['converge-ms'],
    ORBIT_SOAK_WEBRTC: values.webrtc ? '1' : '0',
  },
})
process.exit(r.status ?? 1)

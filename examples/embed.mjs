#!/usr/bin/env node
/**
 * Orbit embedded in an app (docs/architecture.md, "Embedding"): two devices in temporary data
 * dirs, on loopback, with no mDNS — nothing leaves this machine. The laptop starts a node and
 * issues an invite; the phone joins its workspace (what `orbit pair join` does) and starts its own
 * node; a contact added on the laptop shows up on the phone after one sync; the laptop's sync
 * store reports the session; both stop.
 *
 *   npm run build && node examples/embed.mjs
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createOrbitNode, initDevice, joinWorkspace } from 'orbit-sync'

const root = mkdtempSync(join(tmpdir(), 'orbit-embed-'))
const loopback = { host: '127.0.0.1', port: 0 }
let laptop
let phone
try {
  // A node creates its device and workspace on first start (`init`), then listens on loopback.
  laptop = await createOrbitNode({ dataDir: join(root, 'laptop'), init: { name: 'Laptop' }, listen: loopback })
  console.log(`laptop: ${laptop.device.deviceName} (${laptop.device.identity.deviceId}) listening on ${laptop.listenAddress.host}:${laptop.listenAddress.port}`)

  // The laptop's sync store: every session of every tier, as the web UI or an app would watch it.
  const seen = []
  const unsubscribe = laptop.subscribe((state) => {
    if (seen.at(-1) !== state.status) seen.push(state.status)
  })

  // Pairing: a one-time invite; the phone proves the secret over the secure channel and joins.
  const invite = await laptop.createInvite()
  await initDevice(join(root, 'phone'), { name: 'Phone' })
  const joined = await joinWorkspace(join(root, 'phone'), invite.code)
  console.log(`phone: joined workspace "${joined.workspace.name}" of ${joined.inviter.name}, members: ${joined.members.map((m) => m.name).sort().join(', ')}`)
  phone = await createOrbitNode({ dataDir: join(root, 'phone'), listen: loopback })

  const ada = await laptop.api.workspace.addContact({ name: 'Ada Lovelace', emails: ['ada@example.com'] })
  console.log(`laptop: added ${ada.name} (${ada.id})`)

  // One session with every reachable member (the laptop, at the address the join remembered).
  const { sessions } = await phone.sync()
  for (const r of sessions) console.log(`phone: ${r.status} ${r.method} session with ${r.peer.deviceId}, ${r.documents} documents in sync`)

  const onPhone = await phone.api.workspace.getContact(ada.id)
  console.log(`phone: sees ${onPhone?.name} <${onPhone?.emails.join(', ')}>`)
  const recorded = laptop.store.getState()
  const lan = [...Object.values(recorded.activeSessions), ...recorded.recentSessions].find((s) => s.peerId === phone.device.identity.deviceId)
  console.log(`laptop: sync store status ${seen.join(' -> ')}; session with the phone over ${lan?.method}, ${lan?.bytesSent} bytes sent`)
  unsubscribe()
} finally {
  await phone?.stop()
  await laptop?.stop()
  rmSync(root, { recursive: true, force: true })
}
console.log('stopped')

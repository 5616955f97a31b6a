/**
 * The daemon in process: its control socket (typed errors for bad requests, nothing changed),
 * the remote device the CLI's writes go through, the lock file (one daemon per data dir, stale
 * locks taken over, removed on stop), and the SQLite invite store.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { initDevice, openDevice } from '../../src/apps/node/device.js'
import { startDaemon, type Daemon } from '../../src/apps/daemon/daemon.js'
import { lockPath, readDaemonLock } from '../../src/apps/node/lock.js'
import { callDaemon, findDaemon, remoteApi } from '../../src/apps/control/client.js'
import { SqliteInviteStore } from '../../src/apps/node/invite-store-sqlite.js'
import { joinWorkspace } from '../../src/apps/node/join.js'
import { syncDirect } from '../../src/apps/node/direct-sync.js'
import { openOrbitDatabase } from '../../src/adapters/storage-sqlite/index.js'
import { runInviteStoreTests } from '../pairing/invite-store-suite.js'

const dirs: string[] = []
const daemons: Daemon[] = []
afterEach(async () => {
  await Promise.all(daemons.splice(0).map((d) => d.stop()))
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

async function freshDevice(name = 'Alpha'): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), 'orbit-daemon-'))
  dirs.push(root)
  const dir = join(root, 'data')
  await initDevice(dir, { name })
  return dir
}

async function start(dir: string): Promise<Daemon> {
  const d = await startDaemon({ dataDir: dir, listen: { host: '127.0.0.1', port: 0 }, mdns: false })
  daemons.push(d)
  return d
}

/** Sends raw bytes on the control socket and reads one answer line. */
function raw(path: string, text: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const socket = connect(path)
    let buffer = ''
    socket.setEncoding('utf8')
    socket.on('connect', () => socket.write(text))
    socket.on('data', (s: string) => {
      buffer += s
      const nl = buffer.indexOf('\n')
      if (nl >= 0) {
        socket.destroy()
        resolve(JSON.parse(buffer.slice(0, nl)) as Record<string, unknown>)
      }
    })
    socket.on('error', reject)
  })
}

describe('daemon control socket', () => {
  it('answers bad requests with typed errors and changes nothing', async () => {
    const dir = await freshDevice()
    const daemon = await start(dir)
    const path = daemon.controlPath
    expect(statSync(path).mode & 0o777).toBe(0o600)
    const cases = [
      'not json\n',
      JSON.stringify({ v: 2, id: 'x', op: 'ping', params: {} }) + '\n',
      JSON.stringify({ v: 1, id: 'x', op: 'format-disk', params: {} }) + '\n',
      JSON.stringify({ v: 1, id: 'x', op: 'workspace.call', params: { method: 'revokeDevice', args: ['x'] } }) + '\n',
      JSON.stringify({ v: 1, id: 'x', op: 'workspace.call', params: { method: 'addContact', args: [{ name: '' }] } }) + '\n',
      JSON.stringify({ v: 1, id: 'x', op: 'workspace.call', params: { method: 'addContact', args: [{ name: 'Ok', evil: true }] } }) + '\n',
      JSON.stringify({ v: 1, id: 'x', op: 'device.revoke', params: { id: 'nobody' } }) + '\n',
      JSON.stringify({ v: 1, id: 'x', op: 'pair.invite', params: { ttlMs: -5 } }) + '\n',
      JSON.stringify({ v: 1, id: 'x', op: 'sync', params: { target: 'not-an-address:99999' } }) + '\n',
    ]
    for (const text of cases) {
      const answer = await raw(path, text)
      expect(answer.ok, text).toBe(false)
      expect((answer.error as { name: string }).name, text).toMatch(/ValidationError|UnknownIdError/)
    }
    const contacts = await daemon.device.workspace.listContacts({ includeDeleted: true })
    expect(contacts).toEqual([])
    expect(daemon.listDevices()).toHaveLength(1)
    expect(daemon.status().pendingInvites).toBe(0)
  })

  it('runs the CLI’s writes in the daemon, durable and projected when the answer arrives', async () => {
    const dir = await freshDevice()
    const daemon = await start(dir)
    // The daemon's OrbitApi over the socket: the same interface a command uses in-process.
    const remote = remoteApi(findDaemon(dir)!)
    expect(remote.where).toBe('daemon')
    const org = (await remote!.workspace.addOrg({ name: 'Acme' })) as { id: string }
    await remote!.requireOrg(org.id as never)
    const created = await remote!.workspace.addContact({ name: 'Ada', orgId: org.id })
    expect(await daemon.device.workspace.getContact(created.id)).toMatchObject({ name: 'Ada' })
    // The listing projection already has it (what `orbit contact list` reads).
    expect(daemon.device.index.get(created.id)).toMatchObject({ name: 'Ada' })
    const err = await remote!.workspace.editContact('ct_aaaaaaaaaaaaaaaa', { name: 'x' }).catch((e: unknown) => e)
    expect((err as Error).name).toBe('UnknownIdError')
    const missingOrg = await remote!.requireOrg('org_aaaaaaaaaaaaaaaa' as never).catch((e: unknown) => e)
    expect((missingOrg as Error).name).toBe('UnknownIdError')
    const bad = await remote!.workspace.addContact({ name: 'y', emails: ['not-an-email'] }).catch((e: unknown) => e)
    expect(bad).toMatchObject({ name: 'ValidationError' })
    expect(await callDaemon(findDaemon(dir)!, 'ping', {})).toMatchObject({ deviceId: daemon.device.identity.deviceId })
  })
})

describe('daemon sync store', () => {
  it('records the paired peer and a session with counted changes and bytes', async () => {
    const [a, b] = [await freshDevice('Alpha'), await freshDevice('Beta')]
    const daemon = await start(a)
    const invite = await daemon.createInvite()
    const joined = await joinWorkspace(b, invite.code)
    const beta = joined.members.find((m) => m.name === 'Beta')!.deviceId
    const device = await openDevice(b)
    await device.workspace.addContact({ name: 'From Beta' })
    await device.close()
    const report = await syncDirect(b, { target: `127.0.0.1:${daemon.listenAddress.port}` })
    expect(report).toMatchObject({ status: 'completed', method: 'local-network', peer: { deviceId: daemon.device.identity.deviceId } })
    expect(report.changesSent).toBeGreaterThan(0)
    // The session ends when B hangs up; the daemon's store then lists it with its counts.
    let session
    while ((session = daemon.store.getState().recentSessions.find((x) => x.peerId === beta && x.changesReceived > 0)) === undefined) {
      await new Promise((r) => setTimeout(r, 50))
    }
    expect(session).toMatchObject({ method: 'local-network', status: 'completed' })
    expect(session.bytesReceived).toBeGreaterThan(0)
    expect(daemon.store.getState().discoveredPeers[beta]).toMatchObject({ paired: true })
    expect((await daemon.device.workspace.listContacts()).map((c) => c.name)).toEqual(['From Beta'])
    expect(daemon.peers()).toEqual([expect.objectContaining({ deviceId: beta, paired: true, connected: false })])
    // Nobody is connected and B's address is unknown: a sync without target reports, per member,
    // that no live tier reaches it (the orchestrator: LAN has no address, WebRTC and QR need a code).
    expect(await daemon.sync(undefined, 1000)).toEqual({
      sessions: [expect.objectContaining({ status: 'error', peer: { deviceId: beta }, error: expect.objectContaining({ code: 'NO_ROUTE' }) })],
    })
  }, 60_000)
})

describe('daemon lock', () => {
  it('refuses a second daemon, takes over a stale lock, and removes lock and socket on stop', async () => {
    const dir = await freshDevice()
    // A stale lock: a pid that has exited.
    const deadPid = Number(execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).toString())
    writeFileSync(lockPath(dir), JSON.stringify({ pid: deadPid, control: join(dir, 'daemon.sock'), startedAt: 1 }))
    expect(readDaemonLock(dir)).toBeUndefined()
    const daemon = await start(dir)
    expect(readDaemonLock(dir)).toMatchObject({ pid: process.pid, control: daemon.controlPath })
    // Same process, second daemon: still refused (the lock is held).
    rmSync(lockPath(dir))
    writeFileSync(lockPath(dir), JSON.stringify({ pid: process.ppid, control: daemon.controlPath, startedAt: 1 }))
    const second = await startDaemon({ dataDir: dir, listen: { host: '127.0.0.1', port: 0 }, mdns: false }).catch((e: unknown) => e)
    expect(second).toMatchObject({ name: 'StoreError', code: 'DAEMON_RUNNING' })
    writeFileSync(lockPath(dir), JSON.stringify({ pid: process.pid, control: daemon.controlPath, startedAt: 1 }))
    await daemon.stop()
    await daemon.stop() // idempotent
    expect(existsSync(lockPath(dir))).toBe(false)
    expect(existsSync(daemon.controlPath)).toBe(false)
    // The store is closed: it opens again.
    const device = await openDevice(dir)
    await device.close()
  })
})

runInviteStoreTests('sqlite (config table)', async () => {
  const root = mkdtempSync(join(tmpdir(), 'orbit-invites-'))
  const db = openOrbitDatabase(join(root, 'orbit.sqlite'), { create: true })
  return {
    store: new SqliteInviteStore(db),
    teardown: () => {
      db.close()
      rmSync(root, { recursive: true, force: true })
    },
  }
})

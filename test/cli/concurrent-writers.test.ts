/**
 * Several `orbit` commands writing to one data dir at once, with no daemon: they take the data
 * dir's writer lock (src/apps/node/writer-lock.ts) and run one after another, so no edit is lost
 * from the listing. Without the lock, two writers editing one contact each project their own
 * in-memory version, and the second marks the shard clean over a row that lacks the first's edit.
 */
import { execFile } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import * as A from '@automerge/automerge'
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { openDevice, withOpenDevice } from '../../src/apps/node/device.js'
import { takeWriterLock } from '../../src/apps/node/writer-lock.js'
import { readContact } from '../../src/core/model/records.js'
import type { Contact, ContactShardDoc } from '../../src/core/model/types.js'
import type { ContactId } from '../../src/core/ids.js'
import { ORBIT_BIN, REPO_ROOT, jsonError, orbitJson, requireBuiltCli, tempDir, type OrbitRun } from './helpers.js'
import { ServeProcess } from '../daemon/helpers.js'
import { until } from '../mesh/helpers.js'

interface ContactJson {
  id: string
  name: string
  tags: Record<string, true>
}

/** `orbit --data dir --json ...args` as a child process, not waiting for it (so several run at once). */
function orbitAsync(dir: string, args: readonly string[], env: Record<string, string> = {}): Promise<OrbitRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [ORBIT_BIN, '--data', dir, '--json', ...args],
      { cwd: REPO_ROOT, env: { ...process.env, ORBIT_LOG_LEVEL: 'silent', ...env }, encoding: 'utf8', timeout: 300_000 },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr }),
    )
  })
}

describe('concurrent CLI writers on one data dir (no daemon)', () => {
  let root: string
  let data: string
  beforeAll(requireBuiltCli)
  beforeEach(() => {
    root = tempDir()
    data = join(root, 'data')
  })
  afterEach(() => rmSync(root, { recursive: true, force: true }))

  it('4 processes x 10 writes (adds, and edits of one shared contact): every write is listed, and the listing equals the documents', async () => {
    orbitJson(data, ['init', '--name', 'Laptop'])
    const shared = orbitJson<ContactJson>(data, ['contact', 'add', '--name', 'Shared'])
    const writers = 4
    const writes = 10
    // Each writer runs its commands one by one; the writers run at the same time.
    const results = await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        const runs: OrbitRun[] = []
        for (let k = 0; k < writes; k++) {
          const args = k % 2 === 0 ? ['contact', 'add', '--name', `Writer ${w} contact ${k}`] : ['contact', 'edit', shared.id, '--add-tag', `w${w}k${k}`]
          // A generous bound: 40 serialised writes on a busy machine.
          runs.push(await orbitAsync(data, args, { ORBIT_WRITE_WAIT_MS: '240000' }))
        }
        return runs
      }),
    )
    for (const run of results.flat()) expect(run.stderr, run.stdout).toBe('')

    const listed = orbitJson<{ total: number; contacts: ContactJson[] }>(data, ['contact', 'list', '--all'])
    const names = listed.contacts.map((c) => c.name).sort()
    const expectedNames = ['Shared']
    const expectedTags: string[] = []
    for (let w = 0; w < writers; w++) {
      for (let k = 0; k < writes; k++) {
        if (k % 2 === 0) expectedNames.push(`Writer ${w} contact ${k}`)
        else expectedTags.push(`w${w}k${k}`)
      }
    }
    expect(names).toEqual(expectedNames.sort())
    expect(listed.total).toBe(1 + (writers * writes) / 2)
    const sharedListed = listed.contacts.find((c) => c.id === shared.id)
    expect(Object.keys(sharedListed?.tags ?? {}).sort()).toEqual(expectedTags.sort())

    // The listing the CLI printed (from SQLite) is exactly what the documents hold.
    const device = await openDevice(data)
    try {
      const truth: Contact[] = []
      for (let n = 0; n < device.workspace.shardCount; n++) {
        const doc = (await device.workspace.shardHandle(n)).doc() as A.Doc<ContactShardDoc>
        for (const raw of Object.values((A.toJS(doc) as ContactShardDoc).contacts)) truth.push(readContact(raw))
      }
      const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id)
      expect([...listed.contacts].sort(byId)).toEqual(truth.sort(byId))
    } finally {
      await device.close()
    }
  }, 600_000)

  it('writers in one process (an embedding app) queue too: ten edits of one contact at once all reach the listing', async () => {
    orbitJson(data, ['init', '--name', 'Laptop'])
    const shared = orbitJson<ContactJson>(data, ['contact', 'add', '--name', 'Shared'])
    // Unserialised, all ten would load the contact before any wrote, and the last to project would
    // list only its own tag (measured: the listing showed 1 tag of 2 for two devices opened at once).
    const tags = Array.from({ length: 10 }, (_, i) => `t${i}`)
    await Promise.all(tags.map((tag) => withOpenDevice(data, (d) => d.workspace.editContact(shared.id as ContactId, { addTags: [tag] }))))
    const listed = orbitJson<ContactJson>(data, ['contact', 'show', shared.id])
    expect(Object.keys(listed.tags).sort()).toEqual(tags)
  })

  it('a writer that cannot get the lock in time fails with WRITER_BUSY and changes nothing', async () => {
    orbitJson(data, ['init', '--name', 'Laptop'])
    const release = await takeWriterLock(data)
    let run: OrbitRun
    try {
      run = await orbitAsync(data, ['contact', 'add', '--name', 'Blocked'], { ORBIT_WRITE_WAIT_MS: '300' })
    } finally {
      release()
    }
    expect(run.code).toBe(1)
    expect(jsonError(run)).toMatchObject({ name: 'StoreError', code: 'WRITER_BUSY' })
    expect(jsonError(run).message).toMatch(/another orbit command is writing/)
    expect(orbitJson<{ total: number }>(data, ['contact', 'list']).total).toBe(0)
    // Released: the next writer goes through.
    expect(orbitJson<ContactJson>(data, ['contact', 'add', '--name', 'After']).name).toBe('After')
  })

  it('a writer waiting for its turn when orbit serve starts goes through the daemon instead of waiting it out', async () => {
    // The chaos soak's case: a daemon SIGKILLed, a command that found none, the daemon restarted
    // (it holds the lock for as long as it runs). Before, the command waited its whole
    // ORBIT_WRITE_WAIT_MS and failed WRITER_BUSY (the soak's writers were killed at 60 s).
    orbitJson(data, ['init', '--name', 'Laptop'])
    const release = await takeWriterLock(data)
    let serve: ServeProcess | undefined
    let run: OrbitRun
    try {
      const writer = orbitAsync(data, ['contact', 'add', '--name', 'Waited'], { ORBIT_WRITE_WAIT_MS: '3000' })
      await sleep(300)
      // The daemon takes its own lock, then waits behind the test's writer lock like the command.
      serve = new ServeProcess(data, ['--listen', '127.0.0.1:0', '--no-mdns', '--no-http'])
      await until(() => existsSync(join(data, 'daemon.lock')), 'the daemon lock')
      // Past the command's 3 s wait: without the hand-over it has failed WRITER_BUSY by now.
      await sleep(3500)
      release()
      await serve.ready
      run = await writer
    } finally {
      release()
      await serve?.kill()
    }
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    expect((JSON.parse(run.stdout) as ContactJson).name).toBe('Waited')
    expect(orbitJson<{ contacts: ContactJson[] }>(data, ['contact', 'list']).contacts.map((c) => c.name)).toEqual(['Waited'])
  })
})

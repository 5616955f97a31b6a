/**
 * QR sync between two real devices (SQLite data dirs, automerge-repo), through the `orbit qr`
 * commands run in-process: frames are written as PNG files and read back from their pixels.
 */
import { copyFileSync, cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PNG } from 'pngjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { toBase64Url } from '../../src/core/crypto/bytes.js'
import { generateIdentity } from '../../src/core/crypto/identity.js'
import { saveIdentity } from '../../src/adapters/identity-fs/index.js'
import { ConfigStore, openOrbitDatabase } from '../../src/adapters/storage-sqlite/index.js'
import { runCli } from '../../src/apps/cli/run.js'
import { COMMAND_MODULES } from '../../src/apps/cli/commands/index.js'
import { CONFIG_KEYS, storePath } from '../../src/apps/node/data-dir.js'
import { withDevice } from '../../src/apps/node/device.js'
import { encodeFrames } from '../../src/core/qr/frame.js'
import { writeFrameSet } from '../../src/adapters/qr-image/index.js'

// The real CLI's modules (qr is registered there), run in-process.
const MODULES = COMMAND_MODULES

async function orbit(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const code = await runCli(args, { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s), env: {}, cwd: process.cwd() }, MODULES)
  return { code, stdout, stderr }
}

async function orbitJson<T>(data: string, args: string[]): Promise<T> {
  const r = await orbit(['--data', data, '--json', ...args])
  if (r.code !== 0) throw new Error(`orbit ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  return JSON.parse(r.stdout) as T
}

async function names(data: string): Promise<string[]> {
  const r = await orbitJson<{ contacts: Array<{ name: string }> }>(data, ['contact', 'list'])
  return r.contacts.map((c) => c.name).sort()
}

interface Imported {
  status: string
  senderId: string
  changedDocuments: number
  pendingBlobs: string[]
  replyFrames?: number
}

describe('orbit qr export / import between two devices', () => {
  let root: string
  let laptop: string
  let phone: string
  let phoneId: string
  let laptopId: string

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'orbit-qr-sync-'))
    laptop = join(root, 'laptop')
    phone = join(root, 'phone')
    laptopId = (await orbitJson<{ deviceId: string }>(laptop, ['init', '--name', 'Laptop'])).deviceId
    // Pairing is another issue's job: make the phone a member the way pairing leaves it — the
    // workspace's documents, its own key, and both devices in the member list.
    const phoneIdentity = generateIdentity()
    phoneId = phoneIdentity.deviceId
    await withDevice(laptop, async (device) => {
      await device.workspace.addDevice({
        id: phoneIdentity.deviceId,
        publicKey: toBase64Url(phoneIdentity.publicKey),
        name: 'Phone',
        addedAt: Date.now(),
        addedBy: device.identity.deviceId,
      })
    })
    cpSync(laptop, phone, { recursive: true })
    unlinkSync(join(phone, 'identity.key'))
    saveIdentity(phone, phoneIdentity)
    const db = openOrbitDatabase(storePath(phone), { create: false })
    const config = new ConfigStore(db)
    config.set(CONFIG_KEYS.deviceId, phoneId)
    config.set(CONFIG_KEYS.deviceName, 'Phone')
    db.close()
  })
  afterAll(() => rmSync(root, { recursive: true, force: true }))

  it('a bidirectional sync by QR: export, import with reply, import the reply', async () => {
    await orbitJson(laptop, ['contact', 'add', '--name', 'Ada Lovelace', '--email', 'ada@example.com'])
    await orbitJson(phone, ['contact', 'add', '--name', 'Bob Phone'])
    const out = join(root, 'to-phone')
    const exported = await orbitJson<{ frames: number; recipients: string[] }>(laptop, ['qr', 'export', '--out', out, '--for', phoneId])
    expect(exported.recipients).toEqual([phoneId])
    expect(readdirSync(out)).toContain('frame-0001.png')
    expect(readdirSync(out)).toContain('index.html')

    const reply = join(root, 'to-laptop')
    const human = await orbit(['--data', phone, 'qr', 'import', out, '--reply', reply])
    expect(human.code).toBe(0)
    expect(human.stderr).toMatch(/frame-0001\.png: (accepted|complete) — \d+ of ≈\d+ frames/)
    expect(human.stdout).toMatch(/Applied changes from/)
    expect(await names(phone)).toEqual(['Ada Lovelace', 'Bob Phone'])

    const back = await orbitJson<Imported>(laptop, ['qr', 'import', reply])
    expect(back).toMatchObject({ status: 'applied', senderId: phoneId })
    expect(await names(laptop)).toEqual(['Ada Lovelace', 'Bob Phone'])
  })

  it('after the first exchange, one edit each way is one frame each way', async () => {
    const id = (await orbitJson<{ contacts: Array<{ id: string; name: string }> }>(laptop, ['contact', 'list'])).contacts.find(
      (c) => c.name === 'Ada Lovelace',
    )!.id
    await orbitJson(laptop, ['contact', 'edit', id, '--title', 'Countess'])
    const out = join(root, 'edit-to-phone')
    const exported = await orbitJson<{ frames: number; documents: number }>(laptop, ['qr', 'export', '--out', out, '--for', phoneId])
    expect(exported.frames).toBe(1)
    expect(exported.documents).toBe(1)
    await orbitJson(phone, ['contact', 'add', '--name', 'Carol'])
    const reply = join(root, 'edit-to-laptop')
    const imported = await orbitJson<Imported>(phone, ['qr', 'import', out, '--reply', reply])
    expect(imported).toMatchObject({ status: 'applied', changedDocuments: 1, replyFrames: 1 })
    await orbitJson(laptop, ['qr', 'import', reply])
    expect(await names(laptop)).toEqual(['Ada Lovelace', 'Bob Phone', 'Carol'])
    const shown = await orbitJson<{ title?: string }>(phone, ['contact', 'show', id])
    expect(shown.title).toBe('Countess')
  })

  it('a replayed bundle brings nothing new and changes nothing', async () => {
    const before = await names(phone)
    const replay = await orbitJson<Imported>(phone, ['qr', 'import', join(root, 'to-phone')])
    expect(replay).toMatchObject({ status: 'nothing-new', senderId: laptopId, changedDocuments: 0 })
    expect(await names(phone)).toEqual(before)
  })

  it('frames of another bundle and images without a QR code are skipped; too few frames is a QrError', async () => {
    const mixed = join(root, 'mixed')
    // A large bundle from the laptop (everything, for every member) — several frames.
    for (let i = 0; i < 25; i++) await orbitJson(laptop, ['contact', 'add', '--name', `Filler ${i} ${'x'.repeat(150)}`])
    const full = join(root, 'full')
    const exported = await orbitJson<{ frames: number }>(laptop, ['qr', 'export', '--out', full])
    expect(exported.frames).toBeGreaterThan(1)
    // Only the first frame, plus a foreign frame and a PNG that is no QR code.
    await writeFrameSet(mixed, encodeFrames(new Uint8Array(5000).fill(7)).slice(0, 1))
    copyFileSync(join(full, 'frame-0001.png'), join(mixed, 'frame-0002.png'))
    const blank = new PNG({ width: 300, height: 300 })
    blank.data.fill(255)
    writeFileSync(join(mixed, 'frame-0003.png'), PNG.sync.write(blank))
    writeFileSync(join(mixed, 'frame-0004.png'), readFileSync(join(full, 'frame-0002.png')).subarray(0, 400))
    const before = await names(phone)
    const r = await orbit(['--data', phone, '--json', 'qr', 'import', mixed])
    expect(r.code).toBe(1)
    expect(JSON.parse(r.stderr)).toMatchObject({ error: { name: 'QrError', code: 'QR_INCOMPLETE' } })
    const human = await orbit(['--data', phone, 'qr', 'import', mixed])
    expect(human.stderr).toMatch(/frame-0003\.png: skipped/)
    expect(human.stderr).toMatch(/frame-0004\.png: skipped/)
    expect(human.stderr).toMatch(/only 1 of ≈\d+ frames/)
    expect(await names(phone)).toEqual(before)
    // With the rest of the frames it completes, whatever else is in the folder.
    for (const f of readdirSync(full).filter((n) => n.endsWith('.png')).slice(1)) copyFileSync(join(full, f), join(mixed, `z-${f}`))
    const done = await orbitJson<Imported>(phone, ['qr', 'import', mixed])
    expect(done.status).toBe('applied')
    expect((await names(phone)).length).toBe(before.length + 25)
  })

  it('logos are not carried by QR: the receiver reports them as pending; --terminal prints the codes', async () => {
    const logo = new PNG({ width: 8, height: 8 })
    logo.data.fill(200)
    const logoFile = join(root, 'acme.png')
    writeFileSync(logoFile, PNG.sync.write(logo))
    await orbitJson(laptop, ['org', 'add', '--name', 'Acme', '--logo', logoFile])
    const out = join(root, 'logo-to-phone')
    const printed = await orbit(['--data', laptop, 'qr', 'export', '--out', out, '--for', phoneId, '--terminal'])
    expect(printed.code).toBe(0)
    expect(printed.stdout).toMatch(/frame 1 of \d+\n[█▀▄ ]+\n/)
    const imported = await orbitJson<Imported>(phone, ['qr', 'import', out])
    expect(imported.status).toBe('applied')
    expect(imported.pendingBlobs).toHaveLength(1)
    expect(imported.pendingBlobs[0]).toMatch(/^[0-9a-f]{64}$/)
    const orgs = await orbitJson<{ orgs: Array<{ name: string; logo?: string }> }>(phone, ['org', 'list'])
    expect(orgs.orgs.find((o) => o.name === 'Acme')?.logo).toBe(imported.pendingBlobs[0])
  })

  it('export --frames N writes N frames; a bundle for another device cannot be opened here', async () => {
    const out = join(root, 'twelve')
    const r = await orbitJson<{ frames: number }>(laptop, ['qr', 'export', '--out', out, '--frames', '12'])
    expect(r.frames).toBe(12)
    expect(readdirSync(out).filter((n) => n.endsWith('.png'))).toHaveLength(12)
    // The laptop cannot read its own bundle: it was sealed for the other members only.
    const self = await orbit(['--data', laptop, '--json', 'qr', 'import', out])
    expect(self.code).toBe(1)
    expect(JSON.parse(self.stderr)).toMatchObject({ error: { name: 'QrError', code: 'QR_SEAL' } })
  })
})

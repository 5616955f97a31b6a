/**
 * Offline pairing by QR codes alone (issue 4), through the real `orbit` CLI as child processes:
 * invite QR one way, acceptance QR back, then the first QR bundle carries the workspace — PNG
 * files only, no daemon, no network.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { sha256 } from '@noble/hashes/sha2.js'
import { concatBytes, fromBase64Url, toBase64Url, utf8 } from '../../src/core/crypto/bytes.js'
import { decodeQrPng } from '../../src/adapters/qr-image/index.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const ORBIT = join(ROOT, 'bin/orbit.js')

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

function orbit(args: string[]): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, ORBIT_LOG_LEVEL: 'silent' }
  delete env.ORBIT_HOME
  const child = spawn(process.execPath, [ORBIT, ...args], { env, stdio: 'pipe', cwd: ROOT })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s))
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s))
  return new Promise((res, rej) => {
    child.once('error', rej)
    child.once('exit', (code) => res({ code, stdout, stderr }))
  })
}

/** `orbit --data dir --json ...`, parsed; throws with stderr on failure. */
async function ok<T = Record<string, unknown>>(dir: string, ...args: string[]): Promise<T> {
  const r = await orbit(['--data', dir, '--json', ...args])
  if (r.code !== 0) throw new Error(`orbit ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  return JSON.parse(r.stdout) as T
}

/** `orbit --data dir --json ...` that must fail: its error's name and code. */
async function fails(dir: string, ...args: string[]): Promise<{ name: string; code: string }> {
  const r = await orbit(['--data', dir, '--json', ...args])
  expect(r.code, `orbit ${args.join(' ')} should fail; stdout: ${r.stdout}`).not.toBe(0)
  const line = r.stderr.trim().split('\n').find((l) => l.startsWith('{"error"'))
  if (line === undefined) throw new Error(`no JSON error in: ${r.stderr}`)
  return (JSON.parse(line) as { error: { name: string; code: string } }).error
}

let work: string
const dirs: string[] = []
function tmp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'orbit-pair-offline-'))
  dirs.push(dir)
  return dir
}

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist/src/apps/node/pair-offline.js'))) throw new Error('dist/ is not built: run `npx tsc -p tsconfig.build.json` (npm test does)')
})

async function device(name: string): Promise<{ dir: string; id: string }> {
  const dir = join(work, name)
  const init = await ok<{ deviceId: string }>(dir, 'init', '--name', name)
  return { dir, id: init.deviceId }
}

async function contactNames(dir: string): Promise<string[]> {
  const list = await ok<{ contacts: Array<{ name: string }> }>(dir, 'contact', 'list')
  return list.contacts.map((c) => c.name).sort()
}

async function deviceCount(dir: string): Promise<number> {
  return (await ok<{ counts: { devices: number } }>(dir, 'status')).counts.devices
}

/** The text of a QR code PNG. */
function qrText(file: string): string {
  return new TextDecoder().decode(decodeQrPng(new Uint8Array(readFileSync(file))))
}

describe('orbit pair --offline: pairing by QR codes alone', () => {
  it('invite QR → acceptance QR → pair accept → QR bundle both ways: both devices end with the same contacts', async () => {
    work = tmp()
    const alice = await device('alice')
    const bob = await device('bob')
    await ok(alice.dir, 'contact', 'add', '--name', 'Ada Lovelace')
    await ok(alice.dir, 'contact', 'add', '--name', 'Alan Turing')

    const invitePng = join(work, 'invite.png')
    const invite = await ok<{ code: string; qr: string }>(alice.dir, 'pair', 'invite', '--offline', '--qr', invitePng)
    expect(qrText(invitePng)).toBe(invite.code)

    const acceptPng = join(work, 'acceptance.png')
    const joined = await ok<{ code: string; deviceId: string }>(bob.dir, 'pair', 'join', invitePng, '--offline', '--qr', acceptPng)
    expect(joined.deviceId).toBe(bob.id)
    expect(qrText(acceptPng)).toBe(joined.code)

    const accepted = await ok<{ joiner: { deviceId: string } }>(alice.dir, 'pair', 'accept', acceptPng)
    expect(accepted.joiner.deviceId).toBe(bob.id)
    expect(await deviceCount(alice.dir)).toBe(2)
    // Single use: the same acceptance again is refused.
    expect(await fails(alice.dir, 'pair', 'accept', acceptPng)).toMatchObject({ name: 'PairingError', code: 'REFUSED' })

    const q1 = join(work, 'q1')
    const r1 = join(work, 'r1')
    await ok(alice.dir, 'qr', 'export', '--out', q1, '--for', bob.id)
    const imported = await ok<{ status: string; adoptedWorkspace?: string; senderId: string }>(bob.dir, 'qr', 'import', q1, '--reply', r1)
    expect(imported).toMatchObject({ status: 'applied', senderId: alice.id })
    const aliceStatus = await ok<{ workspace: { id: string } }>(alice.dir, 'status')
    const bobStatus = await ok<{ workspace: { id: string }; counts: { devices: number } }>(bob.dir, 'status')
    expect(imported.adoptedWorkspace).toBe(aliceStatus.workspace.id)
    expect(bobStatus.workspace.id).toBe(aliceStatus.workspace.id)
    expect(bobStatus.counts.devices).toBe(2)
    expect(await contactNames(bob.dir)).toEqual(['Ada Lovelace', 'Alan Turing'])
    await ok(alice.dir, 'qr', 'import', r1)

    // Edits both ways: Alice's next export, Bob's reply carries his edit back.
    await ok(bob.dir, 'contact', 'add', '--name', 'Grace Hopper')
    await ok(alice.dir, 'contact', 'add', '--name', 'Edsger Dijkstra')
    const q2 = join(work, 'q2')
    const r2 = join(work, 'r2')
    await ok(alice.dir, 'qr', 'export', '--out', q2, '--for', bob.id)
    await ok(bob.dir, 'qr', 'import', q2, '--reply', r2)
    const back = await ok<{ status: string }>(alice.dir, 'qr', 'import', r2)
    expect(back.status).toBe('applied')
    const expected = ['Ada Lovelace', 'Alan Turing', 'Edsger Dijkstra', 'Grace Hopper']
    expect(await contactNames(alice.dir)).toEqual(expected)
    expect(await contactNames(bob.dir)).toEqual(expected)

    // The invite is used: a third device's acceptance of it is refused, nothing added.
    const carol = await device('carol')
    const late = await ok<{ code: string }>(carol.dir, 'pair', 'join', invitePng, '--offline')
    expect(await fails(alice.dir, 'pair', 'accept', late.code)).toMatchObject({ name: 'PairingError', code: 'REFUSED' })
    expect(await deviceCount(alice.dir)).toBe(2)
  }, 180_000)

  it('a tampered acceptance is refused and changes nothing; the genuine one then works', async () => {
    work = tmp()
    const alice = await device('alice')
    const bob = await device('bob')
    const invite = await ok<{ code: string }>(alice.dir, 'pair', 'invite', '--offline')
    const { code } = await ok<{ code: string }>(bob.dir, 'pair', 'join', invite.code, '--offline')

    // A flipped character: the checksum catches it.
    const body = code.slice('orbit-accept:'.length)
    const flipped = 'orbit-accept:' + body.slice(0, 20) + (body[20] === 'A' ? 'B' : 'A') + body.slice(21)
    expect((await fails(alice.dir, 'pair', 'accept', flipped)).name).toBe('PairingError')

    // A deliberate change (another name) with a recomputed checksum: the joiner's signature fails.
    const bytes = fromBase64Url(body, 'acceptance')
    const signedEnd = bytes.length - 64 - 4
    const forged = bytes.slice(0, bytes.length - 4)
    const at = signedEnd - 33 // the last byte of the joiner's name (the 32-byte proof follows it)
    forged[at] = forged[at]! ^ 0x01
    const forgedCode = 'orbit-accept:' + toBase64Url(concatBytes(forged, sha256(concatBytes(utf8('orbit-accept:'), forged)).subarray(0, 4)))
    expect(await fails(alice.dir, 'pair', 'accept', forgedCode)).toMatchObject({ name: 'PairingError', code: 'BAD_SIGNATURE' })

    expect(await deviceCount(alice.dir)).toBe(1)
    const accepted = await ok<{ joiner: { deviceId: string } }>(alice.dir, 'pair', 'accept', code)
    expect(accepted.joiner.deviceId).toBe(bob.id)
  }, 120_000)

  it("an acceptance for another device's invite is refused; a pending joiner adopts only a bundle of the invite's workspace from the inviter itself", async () => {
    work = tmp()
    const alice = await device('alice')
    const mallory = await device('mallory')
    const bob = await device('bob')
    await ok(alice.dir, 'pair', 'invite', '--offline') // Alice has a pending invite of her own
    const other = await ok<{ code: string }>(mallory.dir, 'pair', 'invite', '--offline')
    const { code } = await ok<{ code: string }>(bob.dir, 'pair', 'join', other.code, '--offline')
    expect(await fails(alice.dir, 'pair', 'accept', code)).toMatchObject({ name: 'PairingError', code: 'REFUSED' })
    expect(await deviceCount(alice.dir)).toBe(1)

    const aliceInvite = await ok<{ code: string }>(alice.dir, 'pair', 'invite', '--offline')
    const eve = await device('eve')
    // Alice admits Eve and exports for her; Mallory admits Bob. Alice's bundle is not Bob's to adopt.
    const eveAcc = await ok<{ code: string }>(eve.dir, 'pair', 'join', aliceInvite.code, '--offline')
    await ok(alice.dir, 'pair', 'accept', eveAcc.code)
    await ok(mallory.dir, 'pair', 'accept', code)
    const qa = join(work, 'qa')
    await ok(alice.dir, 'qr', 'export', '--out', qa, '--for', eve.id)
    expect(await fails(bob.dir, 'qr', 'import', qa)).toMatchObject({ name: 'QrError', code: 'QR_FOREIGN_WORKSPACE' })

    // Zed, another member of Mallory's workspace, cannot hand Bob his first bundle: only the
    // inviter named in the invite can.
    const zed = await device('zed')
    const zedInvite = await ok<{ code: string }>(mallory.dir, 'pair', 'invite', '--offline')
    const zedAcc = await ok<{ code: string }>(zed.dir, 'pair', 'join', zedInvite.code, '--offline')
    await ok(mallory.dir, 'pair', 'accept', zedAcc.code)
    const qz = join(work, 'qz')
    await ok(mallory.dir, 'qr', 'export', '--out', qz, '--for', zed.id)
    await ok(zed.dir, 'qr', 'import', qz) // Zed is in, and knows Bob is a member
    const qzb = join(work, 'qzb')
    await ok(zed.dir, 'qr', 'export', '--out', qzb, '--for', bob.id)
    expect(await fails(bob.dir, 'qr', 'import', qzb)).toMatchObject({ name: 'QrError', code: 'QR_SEAL' })

    // Bob's own workspace is untouched, still pending: Mallory's bundle completes the join.
    const before = await ok<{ workspace: { id: string } }>(bob.dir, 'status')
    expect(before.workspace.id).not.toBe((await ok<{ workspace: { id: string } }>(mallory.dir, 'status')).workspace.id)
    const q = join(work, 'q')
    await ok(mallory.dir, 'qr', 'export', '--out', q, '--for', bob.id)
    const done = await ok<{ adoptedWorkspace?: string }>(bob.dir, 'qr', 'import', q)
    expect(done.adoptedWorkspace).toBe((await ok<{ workspace: { id: string } }>(mallory.dir, 'status')).workspace.id)
  }, 180_000)

  it('refuses an expired invite, and a joiner that has data of its own (at join or at adoption)', async () => {
    work = tmp()
    const alice = await device('alice')
    const bob = await device('bob')
    await ok(bob.dir, 'contact', 'add', '--name', 'Bob Own')
    const good = await ok<{ code: string }>(alice.dir, 'pair', 'invite', '--offline')
    expect(await fails(bob.dir, 'pair', 'join', good.code, '--offline')).toMatchObject({ name: 'PairingError', code: 'WORKSPACE_NOT_EMPTY' })
    expect(await contactNames(bob.dir)).toEqual(['Bob Own'])

    // Data made after `pair join --offline` is not hidden by the adoption either.
    const dave = await device('dave')
    const acc = await ok<{ code: string }>(dave.dir, 'pair', 'join', good.code, '--offline')
    await ok(alice.dir, 'pair', 'accept', acc.code)
    await ok(dave.dir, 'contact', 'add', '--name', 'Dave Own')
    const q = join(work, 'q')
    await ok(alice.dir, 'qr', 'export', '--out', q, '--for', dave.id)
    expect(await fails(dave.dir, 'qr', 'import', q)).toMatchObject({ name: 'PairingError', code: 'WORKSPACE_NOT_EMPTY' })
    expect(await contactNames(dave.dir)).toEqual(['Dave Own'])
    const invite = await ok<{ code: string }>(alice.dir, 'pair', 'invite', '--offline', '--ttl', '1s')
    const carol = await device('carol')
    // --qr belongs to the offline join only: a usage error (exit 2), nothing else runs.
    const usage = await orbit(['--data', carol.dir, '--json', 'pair', 'join', invite.code, '--qr', join(work, 'a.png')])
    expect(usage.code).toBe(2)
    expect(usage.stderr).toContain('"UsageError"')
    await new Promise((r) => setTimeout(r, 1500))
    expect(await fails(carol.dir, 'pair', 'join', invite.code, '--offline')).toMatchObject({ name: 'PairingError', code: 'EXPIRED' })
  }, 120_000)
})

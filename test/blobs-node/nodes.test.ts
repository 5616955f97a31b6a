/**
 * Images peer to peer through real nodes on loopback (createOrbitNode: SQLite, the file-system blob
 * store, TCP + the secure channel, the blob exchange): a logo added on A reaches B byte-identical,
 * and C — linked only to B — gets it from B; `orbit blobs` / `contact show`'s states; a QR import
 * leaves the logo pending and the next LAN link fetches it; `orbit sync` reports what it fetched.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import type { BlobHash, DeviceId } from '../../src/core/ids.js'
import { createOrbitNode, type OrbitNode } from '../../src/apps/node/orbit-node.js'
import { blobStateText } from '../../src/apps/cli/commands/blobs.js'
import { threeMembers, until } from '../mesh/helpers.js'
import { syntheticPng } from '../../bench/synthetic-png.js'

const nodes: OrbitNode[] = []
const dirs: string[] = []
afterEach(async () => {
  await Promise.allSettled(nodes.splice(0).map((n) => n.stop()))
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

async function start(dataDir: string): Promise<OrbitNode> {
  const node = await createOrbitNode({ dataDir, listen: { host: '127.0.0.1', port: 0 }, background: false })
  nodes.push(node)
  return node
}

async function members(): Promise<{ dirs: Record<'a' | 'b' | 'c', string>; ids: Record<'a' | 'b' | 'c', DeviceId> }> {
  const root = mkdtempSync(join(tmpdir(), 'orbit-blobs-node-'))
  dirs.push(root)
  const m = await threeMembers(root)
  return { dirs: m.dirs as Record<'a' | 'b' | 'c', string>, ids: m.ids as Record<'a' | 'b' | 'c', DeviceId> }
}

const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

async function addLogoContact(node: OrbitNode, bytes: Uint8Array, name = 'Ada Lovelace'): Promise<BlobHash> {
  const hash = await node.api.putBlob(bytes)
  await node.api.workspace.addContact({ name, logo: hash })
  await node.device.flush()
  return hash
}

describe('images between loopback nodes', () => {
  it('a logo added on A appears byte-identical on B, and on C, which is linked only to B', async () => {
    const m = await members()
    const [a, b, c] = [await start(m.dirs.a), await start(m.dirs.b), await start(m.dirs.c)]
    await a.lan.dial('127.0.0.1', b.listenAddress!.port)
    await c.lan.dial('127.0.0.1', b.listenAddress!.port)
    const logo = syntheticPng(3 * 1024 * 1024 + 12345, 7)
    const hash = await addLogoContact(a, logo)
    expect(hash).toBe(sha(logo))

    await until(async () => (await b.device.blobs.has(hash)) && (await c.device.blobs.has(hash)), 'the logo on B and on C', 60_000)
    expect(sha((await b.device.blobs.get(hash))!)).toBe(hash)
    expect(Buffer.from((await c.device.blobs.get(hash))!).equals(Buffer.from(logo))).toBe(true)
    expect(a.lan.isConnected(m.ids.c)).toBe(false)

    // What `orbit blobs` / `contact show` say on C: present, with the image's type and dimensions.
    const status = await c.api.blobs({ hash })
    expect(status).toMatchObject({ referenced: 1, present: 1, missing: 0, live: true })
    expect(status.items[0]).toMatchObject({ state: 'present', size: logo.length, image: { type: 'image/png', width: 640, height: 480 } })
    expect(blobStateText(status.items[0]!)).toBe('present (PNG 640×480, 3.0 MB)')
    await until(() => c.store.getState().blobs.present === 1, 'the store’s blob slice on C')
    expect(c.store.getState().blobs).toMatchObject({ referenced: 1, missing: 0 })
  }, 90_000)

  it('missing with no connected member; a QR import leaves the logo pending and the next LAN link fetches it; orbit sync reports it', async () => {
    const m = await members()
    const [a, b] = [await start(m.dirs.a), await start(m.dirs.b)]
    const hash = await addLogoContact(a, syntheticPng(200_000, 3), 'Grace Hopper')
    const bundle = await a.api.qrExport({ forDevice: m.ids.b })
    expect(bundle.pendingBlobs).toContain(hash)
    const { imported } = await b.api.qrImport(bundle.bundle, {})
    expect(imported.pendingBlobs).toEqual([hash])
    await b.device.flush()

    const before = await b.api.blobs({ hash })
    expect(before).toMatchObject({ referenced: 1, present: 0, missing: 1 })
    expect(before.items[0]).toMatchObject({ state: 'missing' })
    expect(blobStateText(before.items[0]!)).toMatch(/^missing \(no connected member has it/)
    expect(await b.api.fetchBlobs()).toMatchObject({ fetched: [], failed: [{ hash, code: 'NO_PEER' }] })

    // The next live session: `orbit sync` to A fetches it and says so.
    const report = (await b.sync(`127.0.0.1:${a.listenAddress!.port}`)) as { status: string; blobs?: { fetched: number; failed: number } }
    expect(report.status).toBe('completed')
    expect(report.blobs).toEqual({ fetched: 1, failed: 0 })
    expect(sha((await b.device.blobs.get(hash))!)).toBe(hash)
    expect((await b.api.blobs()).items[0]).toMatchObject({ hash, state: 'present', usedBy: [{ kind: 'contact', name: 'Grace Hopper', deleted: false }] })
  }, 90_000)

  it('the limit: a blob above the receiver’s limit is refused and stays missing; raising it lets the next fetch get it', async () => {
    const m = await members()
    const [a, b] = [await start(m.dirs.a), await start(m.dirs.b)]
    expect(await b.api.blobLimit()).toBe(10 * 1024 * 1024)
    expect(await b.api.blobLimit(1024 * 1024)).toBe(1024 * 1024)
    await expect(b.api.blobLimit(12)).rejects.toMatchObject({ name: 'ValidationError', field: 'maxBytes' })
    const hash = await addLogoContact(a, syntheticPng(2 * 1024 * 1024, 9))
    await b.lan.dial('127.0.0.1', a.listenAddress!.port)
    await until(async () => (await b.api.blobs()).referenced === 1, 'the contact on B')
    const first = await b.api.fetchBlobs()
    expect(first.fetched).toEqual([])
    expect(first.failed).toMatchObject([{ hash, code: 'TOO_LARGE' }])
    expect(await b.device.blobs.has(hash)).toBe(false)
    await b.api.blobLimit(4 * 1024 * 1024)
    // The automatic retry may get it first; either way the fetch after raising the limit ends with it here.
    const second = await b.api.fetchBlobs()
    expect(second.failed).toEqual([])
    expect(await b.device.blobs.has(hash)).toBe(true)
  }, 90_000)

  it('a deleted contact keeps its logo referenced (and fetched)', async () => {
    const m = await members()
    const [a, b] = [await start(m.dirs.a), await start(m.dirs.b)]
    const hash = await a.api.putBlob(syntheticPng(50_000, 11))
    const contact = await a.api.workspace.addContact({ name: 'Removed', logo: hash })
    await a.api.workspace.removeContact(contact.id)
    await a.device.flush()
    expect((await a.api.blobs()).items[0]).toMatchObject({ hash, usedBy: [{ deleted: true }] })
    await b.lan.dial('127.0.0.1', a.listenAddress!.port)
    await until(() => b.device.blobs.has(hash), 'the deleted contact’s logo on B')
  }, 60_000)
})

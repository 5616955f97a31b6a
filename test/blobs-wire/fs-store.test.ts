/**
 * The exchange against the file-system store (src/adapters/blobstore-fs): a cut halfway keeps the
 * partial on disk (`close()`), and the resumed transfer starts at exactly the byte the partial
 * holds — the store's `received` may sit inside a chunk (docs/protocol/blobs.md).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { FsBlobStore } from '../../src/adapters/blobstore-fs/index.js'
import { CHUNK_SIZE } from '../../src/core/blobs/port.js'
import { bytes, cutAfter, device, link, ofType, same, until, type Device } from './helpers.js'

const dirs: string[] = []
const devices: Device[] = []
afterEach(async () => {
  for (const d of devices.splice(0)) await d.exchange.close()
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

it('a cut halfway into an FsBlobStore resumes from the kept partial, at most one chunk sent again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'orbit-blobs-wire-'))
  dirs.push(dir)
  const size = 4 * CHUNK_SIZE + 4321
  const blob = bytes(size, 90)
  let cut: () => void = () => {}
  const a = device('a')
  const b = device('b', { store: new FsBlobStore(dir), wrapPort: cutAfter(size / 2, () => cut()) })
  devices.push(a, b)
  const hash = await a.store.put(blob)
  const first = link(a, b)
  await until(() => b.adapter.blobPeers().includes(a.id))
  cut = () => first.b.close()
  const fetching = b.exchange.fetch([hash])
  await until(() => first.b.closed && b.exchange.progress().transfers.length === 0)
  const kept = (await b.store.partials()).find((p) => p.list.hash === hash)
  expect(kept?.received).toBeGreaterThan(0)
  link(a, b)
  expect(await fetching).toEqual({ fetched: [hash], failed: [] })
  expect(same(await b.store.get(hash), blob)).toBe(true)
  expect(ofType(b.sent, 'want').at(-1)!.items[0]!.from).toBe(kept!.received)
  expect(a.exchange.counts.bytesServed - size).toBeLessThanOrEqual(CHUNK_SIZE)
  expect(await b.store.partials()).toEqual([])
})

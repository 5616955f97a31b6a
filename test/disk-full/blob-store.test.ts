/**
 * The file-system blob store (src/adapters/blobstore-fs) on a full disk: a `put` or a receive
 * that runs out of space never leaves a blob that looks complete, leaves no temp file behind, and
 * works again once space returns (a receive resumes from what it kept); the failure is a typed
 * StoreError `DISK_FULL` (docs/architecture.md, "Disk full").
 */
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { FsBlobStore } from '../../src/adapters/blobstore-fs/index.js'
import { chunkListOf, CHUNK_SIZE } from '../../src/core/blobs/index.js'
import { expectBytes, pseudoRandomBytes } from '../helpers/blob-store-suite.js'
import { mountTmpfs, tmpfsUnavailableReason, type Tmpfs } from './tmpfs.js'

const skip = tmpfsUnavailableReason()
const mounts: Tmpfs[] = []
afterEach(() => {
  for (const m of mounts.splice(0)) m.unmount()
})

/** Every file under `dir`, recursively, as relative paths. */
function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort()
}

describe.skipIf(skip !== undefined)('FsBlobStore on a full disk (tmpfs)', () => {
  it('put: fails with DISK_FULL, nothing at the hash, no temp file; works once space returns', async () => {
    const disk = mountTmpfs(4 * 1024 * 1024)
    mounts.push(disk)
    const root = join(disk.dir, 'blobs')
    const store = new FsBlobStore(root)
    const small = pseudoRandomBytes(1000, 3)
    await store.put(small)
    const before = files(root)
    disk.fill(64 * 1024)
    const big = pseudoRandomBytes(512 * 1024, 4)
    const hash = chunkListOf(big).hash
    const failure = await store.put(big).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(failure, 'the put must fail').toBeDefined()
    expect(failure).toMatchObject({ name: 'StoreError', code: 'DISK_FULL' })
    expect(await store.has(hash as never)).toBe(false)
    expect(files(root)).toEqual(before)
    disk.release()
    await store.put(big)
    expectBytes(await store.get(hash as never), big)
  })

  it('receive: the partial is never taken as complete, and resumes once space returns', async () => {
    const disk = mountTmpfs(8 * 1024 * 1024)
    mounts.push(disk)
    const root = join(disk.dir, 'blobs')
    const store = new FsBlobStore(root)
    const bytes = pseudoRandomBytes(3 * CHUNK_SIZE + 1234, 5)
    const list = chunkListOf(bytes)
    disk.fill(CHUNK_SIZE + CHUNK_SIZE / 2)
    const incoming = await store.receive(list)
    let failure: unknown
    for (let at = incoming.received; at < bytes.length && failure === undefined; ) {
      const piece = bytes.subarray(at, Math.min(bytes.length, at + 64 * 1024))
      try {
        await incoming.append(at, piece)
        at += piece.length
      } catch (e) {
        failure = e
      }
    }
    expect(failure, 'the receive must run out of space').toBeDefined()
    expect(failure).toMatchObject({ name: 'StoreError', code: 'DISK_FULL' })
    const commit = await incoming.commit().then(
      () => undefined,
      (e: unknown) => e as { code?: string },
    )
    expect(commit?.code).toBe('INCOMPLETE')
    await incoming.close()
    expect(await store.has(list.hash as never)).toBe(false)
    expect((await store.list()).map((b) => b.hash)).not.toContain(list.hash)
    const kept = (await store.partials()).find((p) => p.list.hash === list.hash)
    expect(kept?.received ?? 0).toBeLessThan(bytes.length)

    disk.release()
    const again = await store.receive(list)
    expect(again.received).toBeGreaterThan(0)
    await again.append(again.received, bytes.subarray(again.received))
    await again.commit()
    expectBytes(await store.get(list.hash as never), bytes)
  })
})

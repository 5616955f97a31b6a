/**
 * The file-system store's receive keeps a few file writes in flight (src/adapters/blobstore-fs,
 * `WRITES_IN_FLIGHT`): an `append` resolves once its piece is hashed and its write issued, so the
 * next piece is decrypted and hashed while the kernel copies this one. These tests hold it to its
 * promises: the writes really overlap, four of them and no more (memory stays bounded), and each
 * append still gives the event loop a turn; and a write that fails after its `append` resolved is
 * not lost: a later call throws, nothing is committed, and a new receive resumes from what the
 * file verifiably holds.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FsBlobStore } from '../../src/adapters/blobstore-fs/index.js'
import { chunkListOf, CHUNK_SIZE, PIECE_SIZE } from '../../src/core/blobs/index.js'
import type { BlobHash } from '../../src/core/ids.js'
import { expectBytes, pseudoRandomBytes } from '../helpers/blob-store-suite.js'

const child = join(dirname(fileURLToPath(import.meta.url)), 'efbig-child.mjs')

describe('FsBlobStore receive: file writes in flight', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'orbit-blobs-inflight-'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it('overlaps the writes of consecutive appends, up to the bound of four and no more, and stores the bytes exactly', async () => {
    const probe = await open(join(dir, 'probe'), 'w')
    const proto = Object.getPrototypeOf(probe) as { write: FileHandle['write'] }
    await probe.close()
    const original = proto.write
    let inFlight = 0
    let most = 0
    // Each write takes at least 5 ms, a slow disk's pace: what overlaps then is the appends' doing,
    // not how fast this machine's page cache happens to be.
    proto.write = function (this: FileHandle, ...args: unknown[]) {
      inFlight++
      most = Math.max(most, inFlight)
      return new Promise((resolve) => setTimeout(resolve, 5))
        .then(() => (original as (...a: unknown[]) => Promise<unknown>).apply(this, args))
        .finally(() => inFlight--)
    } as FileHandle['write']
    try {
      const store = new FsBlobStore(join(dir, 'blobs'))
      const bytes = pseudoRandomBytes(3 * CHUNK_SIZE + 12_345, 7)
      const list = chunkListOf(bytes)
      const incoming = await store.receive(list)
      // Each append gives the event loop a turn (I/O beside a receive must not starve): an
      // immediate queued before an append has run when it resolves.
      let turns = 0
      for (let at = 0; at < bytes.length; at += PIECE_SIZE) {
        let ran = false
        setImmediate(() => (ran = true))
        await incoming.append(at, bytes.subarray(at, at + PIECE_SIZE))
        if (ran) turns++
      }
      expect(turns).toBe(Math.ceil(bytes.length / PIECE_SIZE))
      await incoming.commit()
      expect(most, 'most writes in flight at once: fewer means the appends waited for them, more breaks the bound').toBe(4)
      expect(inFlight).toBe(0)
      expectBytes(await store.get(list.hash as BlobHash), bytes)
    } finally {
      proto.write = original
    }
  })

  it('a write that fails after its append resolved is thrown by a later call; the receive resumes from the file', async () => {
    const root = join(dir, 'blobs')
    const bytes = pseudoRandomBytes(4 * CHUNK_SIZE, 8)
    const list = chunkListOf(bytes)
    writeFileSync(join(dir, 'blob'), bytes)
    writeFileSync(join(dir, 'list.json'), JSON.stringify(list))
    // 2.5 MiB of file per process: the partial's writes fail with EFBIG in its third chunk.
    const run = spawnSync('bash', ['-c', `ulimit -f 2560 && exec "${process.execPath}" "${child}" "$@"`, 'efbig', root, join(dir, 'blob'), join(dir, 'list.json')], {
      encoding: 'utf8',
    })
    expect(run.status, run.stderr).toBe(0)
    const lines = run.stdout.trim().split('\n')
    const fail = lines.find((l) => l.startsWith('FAIL '))
    expect(fail, run.stdout).toBeDefined()
    const [, at, code] = fail!.split(' ')
    expect(code).toBe('EFBIG')
    // The failure surfaced on an append after the one whose write hit the limit: that one resolved.
    expect(lines).toContain(`OK ${2 * CHUNK_SIZE + CHUNK_SIZE / 2}`)
    expect(Number(at)).toBeGreaterThan(2 * CHUNK_SIZE + CHUNK_SIZE / 2)
    expect(lines.at(-1)).not.toBe('COMMIT ok')

    const store = new FsBlobStore(root)
    expect(await store.has(list.hash as BlobHash)).toBe(false)
    const incoming = await store.receive(list)
    // What the file holds: the two whole chunks (re-checked) and the third's first half, up to the limit.
    expect(incoming.received).toBe(2 * CHUNK_SIZE + CHUNK_SIZE / 2)
    for (let at = incoming.received; at < bytes.length; at += PIECE_SIZE) await incoming.append(at, bytes.subarray(at, at + PIECE_SIZE))
    await incoming.commit()
    expectBytes(await store.get(list.hash as BlobHash), bytes)
  })
})

import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FsBlobStore } from '../../src/adapters/blobstore-fs/index.js'
import { CHUNK_SIZE } from '../../src/core/blobs/index.js'
import { syntheticChunk, syntheticList } from './synthetic.js'

/**
 * Resumption after a SIGKILL (docs/protocol/blobs.md, "Partials"): a real child process receives
 * a blob into the store and is killed mid-receive; this process then resumes the kept partial,
 * which must re-check every whole chunk and go on from there.
 */
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const child = join(root, 'test', 'blobstore-fs', 'receive-child.mjs')
const built = join(root, 'dist', 'src', 'adapters', 'blobstore-fs', 'fs-blob-store.js')
const source = join(root, 'src', 'adapters', 'blobstore-fs', 'fs-blob-store.ts')
const CHUNKS = 12

describe('FsBlobStore after a SIGKILL mid-receive', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'orbit-blobs-kill-'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it('resumes the partial the killed child kept, resending at most the chunk it was in', async () => {
    if (!existsSync(built) || statSync(built).mtimeMs < statSync(source).mtimeMs) {
      throw new Error(`${built} is missing or older than its source: run \`npx tsc -p tsconfig.build.json\` first`)
    }
    const list = syntheticList(CHUNKS)
    const listFile = join(dir, 'list.json')
    writeFileSync(listFile, JSON.stringify(list))
    const blobs = join(dir, 'blobs')
    const proc = spawn(process.execPath, [child, blobs, String(CHUNKS), listFile], { stdio: ['ignore', 'pipe', 'inherit'] })
    let lastChunk = -1
    const killed = new Promise<NodeJS.Signals | null>((resolve) => proc.on('exit', (_code, signal) => resolve(signal)))
    for await (const line of createInterface({ input: proc.stdout })) {
      const m = /^CHUNK (\d+)$/.exec(line)
      if (m !== null) lastChunk = Number(m[1])
      if (lastChunk === 4) {
        proc.kill('SIGKILL')
        break
      }
      if (line === 'DONE') break
    }
    expect(await killed).toBe('SIGKILL')
    expect(lastChunk).toBe(4)

    const store = new FsBlobStore(blobs)
    expect(await store.has(list.hash)).toBe(false)
    const [kept] = await store.partials()
    expect(kept?.list).toEqual(list)
    const incoming = await store.receive(list)
    // Chunks 0..4 were acknowledged; the kill may have landed inside chunk 5.
    expect(incoming.received).toBeGreaterThanOrEqual(5 * CHUNK_SIZE)
    expect(incoming.received).toBeLessThan(6 * CHUNK_SIZE)
    let resent = 0
    for (let i = Math.floor(incoming.received / CHUNK_SIZE); i < CHUNKS; i++) {
      const bytes = syntheticChunk(i)
      const from = Math.max(incoming.received - i * CHUNK_SIZE, 0)
      await incoming.append(i * CHUNK_SIZE + from, bytes.subarray(from))
      resent += bytes.length - from
    }
    expect(resent).toBe(list.size - kept!.received)
    expect(await incoming.commit()).toEqual({ hash: list.hash, size: list.size })
    expect(await store.chunks(list.hash)).toEqual(list)
    expect(await store.partials()).toEqual([])
  })
})

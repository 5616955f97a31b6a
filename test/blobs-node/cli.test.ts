/**
 * The blob commands as a user runs them (built CLI, no daemon): `orbit blobs limit` reads and sets
 * config `blobs.maxBytes` and refuses bad sizes with nothing written; `--logo` is checked against
 * it; `orbit blobs` and `contact show` say where a logo is; `orbit blobs fetch` without a daemon
 * says what to run. Plus the renderers' wording for each state.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jsonError, orbit, orbitJson, requireBuilt } from '../daemon/helpers.js'
import { parseSize } from '../../src/apps/node/blobs.js'
import { blobStateText, progressLine } from '../../src/apps/cli/commands/blobs.js'
import type { BlobHash, DeviceId } from '../../src/core/ids.js'
import type { BlobStatus } from '../../src/apps/node/api.js'
import { syntheticPng } from '../../bench/synthetic-png.js'

const root = mkdtempSync(join(tmpdir(), 'orbit-blobs-cli-'))
const dir = join(root, 'dev')
beforeAll(async () => {
  requireBuilt()
  await orbitJson(dir, ['init', '--name', 'Laptop'])
}, 60_000)
afterAll(() => rmSync(root, { recursive: true, force: true }))

describe('orbit blobs (CLI, no daemon)', () => {
  it('limit: default 10 MB, set with units, bad sizes refused with the limit unchanged', async () => {
    expect(await orbitJson(dir, ['blobs', 'limit'])).toEqual({ maxBytes: 10 * 1024 * 1024 })
    expect(await orbitJson(dir, ['blobs', 'limit', '20MB'])).toEqual({ maxBytes: 20 * 1024 * 1024 })
    for (const bad of ['lots', '12', '9GB']) {
      const r = await orbit(['--data', dir, '--json', 'blobs', 'limit', bad])
      expect(r.code).toBe(1)
      expect(jsonError(r)).toMatchObject({ name: 'ValidationError' })
    }
    expect(await orbitJson(dir, ['blobs', 'limit'])).toEqual({ maxBytes: 20 * 1024 * 1024 })
  }, 60_000)

  it('--logo above the limit is refused (TOO_LARGE, nothing written); within it, blobs and contact show say present', async () => {
    await orbitJson(dir, ['blobs', 'limit', '64KB'])
    const file = join(root, 'logo.png')
    writeFileSync(file, syntheticPng(100_000, 5))
    const refused = await orbit(['--data', dir, '--json', 'contact', 'add', '--name', 'Too Big', '--logo', file])
    expect(refused.code).toBe(1)
    expect(jsonError(refused)).toMatchObject({ name: 'ValidationError', code: 'TOO_LARGE' })
    expect((await orbitJson<{ contacts: unknown[] }>(dir, ['contact', 'list'])).contacts).toEqual([])

    await orbitJson(dir, ['blobs', 'limit', '1MB'])
    const added = await orbitJson<{ id: string; logo: string }>(dir, ['contact', 'add', '--name', 'Ada', '--logo', file])
    const status = await orbitJson<BlobStatus>(dir, ['blobs'])
    expect(status).toMatchObject({ referenced: 1, present: 1, missing: 0, live: false, maxBytes: 1024 * 1024 })
    const shown = await orbit(['--data', dir, 'contact', 'show', added.id])
    expect(shown.stdout).toMatch(/logo:\s+present \(PNG 640×480, 97\.7 KB\)/)
    const fetch = await orbit(['--data', dir, '--json', 'blobs', 'fetch'])
    expect(fetch.code).toBe(1)
    expect(jsonError(fetch)).toMatchObject({ code: 'DAEMON_NOT_RUNNING' })
  }, 60_000)
})

describe('blob wording', () => {
  const hash = 'ab'.repeat(32) as BlobHash
  it('parses sizes with binary units', () => {
    expect(parseSize('20MB')).toBe(20 * 1024 * 1024)
    expect(parseSize('512 kb')).toBe(512 * 1024)
    expect(parseSize('1.5GiB')).toBe(1.5 * 1024 ** 3)
    expect(parseSize('1000')).toBe(1000)
    expect(() => parseSize('-1MB')).toThrow(expect.objectContaining({ name: 'ValidationError' }))
  })
  it('says fetching from whom and how far, and missing with why', () => {
    expect(blobStateText({ hash, state: 'fetching', size: 1000, received: 400, from: 'dev' as DeviceId, fromName: 'Phone', etaMs: 3000, usedBy: [] })).toBe('pending — fetching from Phone (40%, 3 s left)')
    expect(blobStateText({ hash, state: 'missing', reason: 'no connected member has it', usedBy: [] })).toBe('missing (no connected member has it)')
    expect(progressLine({ progress: { transfers: [], queued: 0, completed: 0, failed: [], bytesTotal: 200, bytesDone: 100, etaMs: undefined } }, 10)).toBe('[#####.....] 50% 100 B of 200 B')
  })
})

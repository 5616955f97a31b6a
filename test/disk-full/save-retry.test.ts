/**
 * The parts that make a full disk survivable, without a disk (docs/architecture.md, "Disk full"):
 * a Repo over a storage adapter that fails like a full disk. Its background saves must not reject
 * unhandled, a flush must fail with DISK_FULL, and the retry loop must save everything once the
 * adapter takes writes again — the document reloads with every change.
 */
import { Repo, type Chunk, type StorageAdapterInterface, type StorageKey } from '@automerge/automerge-repo'
import { afterEach, describe, expect, it } from 'vitest'
import { guardBackgroundSaves } from '../../src/adapters/storage-sqlite/background-saves.js'
import { flushReady } from '../../src/adapters/storage-sqlite/record-heads.js'
import { SaveRetry, diskFullError, isDiskFull } from '../../src/adapters/storage-sqlite/index.js'

/** An in-memory adapter whose writes throw SQLite's SQLITE_FULL (mapped) while `full`. */
class FillableStorage implements StorageAdapterInterface {
  full = false
  readonly data = new Map<string, { key: StorageKey; data: Uint8Array }>()
  #check(): void {
    if (this.full) throw diskFullError('/fake/orbit.sqlite', Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }))
  }
  async load(key: StorageKey): Promise<Uint8Array | undefined> {
    return this.data.get(key.join('/'))?.data
  }
  async save(key: StorageKey, data: Uint8Array): Promise<void> {
    this.#check()
    this.data.set(key.join('/'), { key, data })
  }
  async remove(key: StorageKey): Promise<void> {
    this.#check()
    this.data.delete(key.join('/'))
  }
  async loadRange(prefix: StorageKey): Promise<Chunk[]> {
    return [...this.data.values()].filter((c) => prefix.every((p, i) => c.key[i] === p)).map((c) => ({ key: c.key, data: c.data }))
  }
  async removeRange(prefix: StorageKey): Promise<void> {
    this.#check()
    for (const [k, c] of this.data) if (prefix.every((p, i) => c.key[i] === p)) this.data.delete(k)
  }
}

const unhandled: unknown[] = []
const onUnhandled = (reason: unknown): void => void unhandled.push(reason)
afterEach(() => {
  process.off('unhandledRejection', onUnhandled)
  unhandled.length = 0
})

describe('saves on a full disk', () => {
  it('background saves report instead of rejecting; a flush fails DISK_FULL; the retry saves it all once space returns', async () => {
    process.on('unhandledRejection', onUnhandled)
    const storage = new FillableStorage()
    const repo = new Repo({ storage, network: [], saveDebounceRate: 10 })
    const retry = new SaveRetry({ flush: () => flushReady(repo), backoffMs: [20, 40] })
    const failures: unknown[] = []
    guardBackgroundSaves(
      repo,
      (error) => {
        failures.push(error)
        retry.failed(error)
      },
      () => retry.holding,
    )
    const handle = repo.create<{ n: number[] }>({ n: [] })
    await flushReady(repo)

    storage.full = true
    for (let i = 0; i < 20; i++) handle.change((d) => void d.n.push(i))
    // Let the Repo's throttled background save run (and fail).
    await new Promise((r) => setTimeout(r, 100))
    expect(unhandled).toEqual([])
    expect(failures.length).toBeGreaterThan(0)
    expect(retry.health).toMatchObject({ state: 'disk-full', code: 'DISK_FULL' })
    const flushed = await flushReady(repo).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(isDiskFull(flushed)).toBe(true)

    storage.full = false
    for (let i = 0; i < 50 && retry.health.state !== 'ok'; i++) await new Promise((r) => setTimeout(r, 20))
    expect(retry.health).toEqual({ state: 'ok' })
    retry.stop()

    // A fresh Repo over the same chunks sees every change.
    const reopened = new Repo({ storage, network: [] })
    const again = await reopened.find<{ n: number[] }>(handle.url)
    expect([...again.doc().n]).toEqual(Array.from({ length: 20 }, (_, i) => i))
    expect(unhandled).toEqual([])
  })

  it('without the guard, the same background save is an unhandled rejection (what killed the daemon)', async () => {
    process.on('unhandledRejection', onUnhandled)
    const storage = new FillableStorage()
    const repo = new Repo({ storage, network: [], saveDebounceRate: 10 })
    const handle = repo.create<{ n: number[] }>({ n: [] })
    await flushReady(repo)
    storage.full = true
    handle.change((d) => void d.n.push(1))
    await new Promise((r) => setTimeout(r, 100))
    expect(unhandled.some(isDiskFull)).toBe(true)
  })
})

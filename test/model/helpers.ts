import { Repo, parseAutomergeUrl, type AutomergeUrl } from '@automerge/automerge-repo'
import type { DeviceId } from '../../src/core/ids.js'
import type { MemberDevice } from '../../src/core/model/types.js'
import { CrmWorkspace } from '../../src/core/model/workspace.js'

export function device(id: string, addedBy = id): MemberDevice {
  return {
    id: id as DeviceId,
    publicKey: `${id}-public-key-base64url-0123456789`.slice(0, 43).padEnd(43, 'A'),
    name: `Device ${id}`,
    addedAt: 1_700_000_000_000,
    addedBy: addedBy as DeviceId,
  }
}

/** A clock that ticks one millisecond per call, so timestamps are deterministic. */
export function fakeClock(start = 1_700_000_000_000): () => number {
  let t = start
  return () => t++
}

export async function newWorkspace(options: { shardCount?: number } = {}) {
  const repo = new Repo({})
  const ws = await CrmWorkspace.create(repo, {
    name: 'Acme',
    founder: device('devA'),
    now: fakeClock(),
    ...options,
  })
  return { repo, ws }
}

/** A second device: a fresh repo holding copies of every document of `ws` (no network). */
export async function cloneWorkspace(repo: Repo, ws: CrmWorkspace, now = fakeClock(1_800_000_000_000)) {
  const other = new Repo({})
  for (const url of [ws.rootUrl, ...ws.shardUrls] as AutomergeUrl[]) {
    const binary = await repo.export(url)
    if (binary === undefined) throw new Error(`cannot export ${url}`)
    other.import(binary, { docId: parseAutomergeUrl(url).documentId })
  }
  const copy = await CrmWorkspace.open(other, ws.rootUrl, { now })
  return { repo: other, ws: copy }
}

/** Merge every document of `from` into `into` (a one-way sync). */
export async function mergeInto(into: CrmWorkspace, from: CrmWorkspace): Promise<void> {
  const a = await into.allHandles()
  const b = await from.allHandles()
  a.forEach((handle, i) => handle.merge(b[i]!))
}

/** Sync both ways. */
export async function syncBoth(x: CrmWorkspace, y: CrmWorkspace): Promise<void> {
  await mergeInto(x, y)
  await mergeInto(y, x)
}

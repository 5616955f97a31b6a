/**
 * Two devices on loopback for the sync-state suites: A runs `orbit serve` (mDNS off), B joins it
 * by invite code and works in-process (no daemon), so both paths of the CLI are exercised.
 */
import type { SyncHistoryEntry } from '../../src/core/engine/session-recorder.js'
import { orbitJson, type Scratch } from '../daemon/helpers.js'

export interface Ready {
  listen: string
  deviceId: string
  invite?: { code: string }
}

export interface Pair {
  a: { dir: string; id: string; listen: string; serve: ReturnType<Scratch['serve']> }
  b: { dir: string; id: string }
}

/** A serving, B joined (the join's first sync done). */
export async function pairOnLoopback(scratch: Scratch): Promise<Pair> {
  const aDir = scratch.dir('orbit-state-')
  const serve = scratch.serve(aDir, ['--name', 'Alpha', '--listen', '127.0.0.1:0', '--no-mdns'])
  const ready = (await serve.ready) as unknown as Ready
  const bDir = scratch.dir('orbit-state-')
  const init = await orbitJson<{ deviceId: string }>(bDir, ['init', '--name', 'Beta'])
  await orbitJson(bDir, ['pair', 'join', ready.invite!.code])
  return { a: { dir: aDir, id: ready.deviceId, listen: ready.listen, serve }, b: { dir: bDir, id: init.deviceId } }
}

/** A finished session as `orbit sync history --json` prints it. */
export type HistoryRow = SyncHistoryEntry

export async function history(dir: string, args: string[] = []): Promise<HistoryRow[]> {
  return (await orbitJson<{ sessions: HistoryRow[] }>(dir, ['sync', 'history', ...args])).sessions
}

/**
 * Asks until `check` holds (a daemon writes a link's row when the link closes, after the other
 * side's command returned) — a condition, not a timing assertion; gives up after `tries`.
 */
export async function eventually<T>(read: () => Promise<T>, check: (value: T) => boolean, tries = 40): Promise<T> {
  let value = await read()
  for (let i = 0; i < tries && !check(value); i++) {
    await new Promise((r) => setTimeout(r, 250))
    value = await read()
  }
  return value
}

/**
 * The daemon's lock file, `<data>/daemon.lock` (mode 0600): one daemon per data dir, and the way
 * the CLI finds it. It holds JSON `{ pid, control, deviceId, listen?, startedAt }`. A lock whose
 * pid is dead is stale and is taken over; a lock of a live process refuses the second daemon.
 *
 * Light on purpose (no Automerge): the CLI reads it on every command that may be routed.
 */
import { createHash } from 'node:crypto'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { z } from 'zod'
import { StoreError } from '../../core/errors.js'

/** File name of the lock inside a data dir. */
export const LOCK_FILE = 'daemon.lock'
/** File name of the control socket inside a data dir (when the path is short enough). */
export const SOCKET_FILE = 'daemon.sock'

const LockSchema = z.object({
  pid: z.number().int().positive(),
  control: z.string().min(1).max(4096),
  deviceId: z.string().max(128).optional(),
  listen: z.string().max(300).optional(),
  startedAt: z.number(),
})

/** What a running daemon writes into its lock file. */
export type DaemonLockInfo = z.infer<typeof LockSchema>

export const lockPath = (dataDir: string): string => join(dataDir, LOCK_FILE)

/**
 * Where the control socket of `dataDir` lives: inside the data dir, unless that path is too long
 * for a Unix socket (about 107 bytes on Linux), then in the temp dir under a hash of the data dir.
 */
export function controlSocketPath(dataDir: string): string {
  const inside = join(dataDir, SOCKET_FILE)
  if (Buffer.byteLength(inside) <= 100) return inside
  const hash = createHash('sha256').update(dataDir).digest('hex').slice(0, 20)
  return join(tmpdir(), `orbit-${hash}.sock`)
}

/** Whether a process with this pid exists (EPERM: it exists but is not ours). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The lock of a live daemon on `dataDir`, or undefined (no lock, unreadable, or its pid is dead). */
export function readDaemonLock(dataDir: string): DaemonLockInfo | undefined {
  let text: string
  try {
    text = readFileSync(lockPath(dataDir), 'utf8')
  } catch {
    return undefined
  }
  let info: DaemonLockInfo
  try {
    info = LockSchema.parse(JSON.parse(text))
  } catch {
    return undefined
  }
  return pidAlive(info.pid) ? info : undefined
}

/** A held lock: rewrite it as the daemon learns more (its listen address), release it on stop. */
export interface DaemonLock {
  readonly path: string
  update(info: Partial<DaemonLockInfo>): void
  /** Removes the file if it is still ours. Idempotent. */
  release(): void
}

/**
 * Takes the lock for this process.
 * @throws StoreError `DAEMON_RUNNING` when a live daemon holds it.
 */
export function acquireDaemonLock(dataDir: string, info: Omit<DaemonLockInfo, 'pid'>): DaemonLock {
  const path = lockPath(dataDir)
  let current: DaemonLockInfo = { ...info, pid: process.pid }
  const write = (flag: 'wx' | 'w'): void => writeFileSync(path, JSON.stringify(current) + '\n', { flag, mode: 0o600 })
  for (let attempt = 0; ; attempt++) {
    try {
      write('wx')
      break
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw wrap(error, path)
      const holder = readDaemonLock(dataDir)
      if (holder !== undefined && holder.pid !== process.pid) {
        throw new StoreError(
          `orbit serve is already running on ${dataDir} (pid ${holder.pid}); stop it first, or use another --data dir`,
          { code: 'DAEMON_RUNNING' },
        )
      }
      // Stale: its process is gone (crash, SIGKILL). Take it over.
      rmSync(path, { force: true })
    }
  }
  let released = false
  return {
    path,
    update(more) {
      if (released) return
      current = { ...current, ...more, pid: process.pid }
      write('w')
    },
    release() {
      if (released) return
      released = true
      try {
        const now = LockSchema.parse(JSON.parse(readFileSync(path, 'utf8')))
        if (now.pid === process.pid) rmSync(path, { force: true })
      } catch {
        // gone or unreadable: nothing of ours to remove
      }
    },
  }
}

function wrap(error: unknown, path: string): StoreError {
  return new StoreError(`cannot write the daemon lock ${path}: ${(error as Error).message}`, { code: 'OPEN_FAILED', cause: error })
}

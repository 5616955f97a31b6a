/**
 * A small tmpfs for disk-full tests: `mountTmpfs(bytes)` mounts one on a fresh directory,
 * `fill(leaveBytes)` writes a ballast file until only `leaveBytes` are free, `release()` deletes
 * it, and `unmount()` (call it from `finally`) kills nothing, removes the mount and the directory.
 *
 * tmpfs rather than a loop-mounted ext4 image: SQLite sees the same ENOSPC (SQLITE_FULL) on both,
 * tmpfs needs no image file, no `mkfs` and no loop device, and its `size=` is exact, so the free
 * space the ballast leaves is the free space SQLite gets (ext4 keeps reserved blocks for root,
 * and these tests run as root).
 */
import { execFileSync } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Why tmpfs mounts can't be made here, or undefined when they can. */
export function tmpfsUnavailableReason(): string | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'disk-full tests mount a tmpfs and need root'
  const probe = mkdtempSync(join(tmpdir(), 'orbit-tmpfs-probe-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1M', 'tmpfs', probe], { stdio: 'ignore' })
    execFileSync('umount', [probe], { stdio: 'ignore' })
    return undefined
  } catch {
    return 'cannot mount a tmpfs here (no CAP_SYS_ADMIN?)'
  } finally {
    rmSync(probe, { recursive: true, force: true })
  }
}

/** A mounted tmpfs. */
export interface Tmpfs {
  readonly dir: string
  /** Bytes free now (for root: tmpfs reserves nothing). */
  free(): number
  /** Writes the ballast file so that about `leaveBytes` stay free. */
  fill(leaveBytes: number): void
  /** Deletes the ballast file: the space is back. */
  release(): void
  unmount(): void
}

/** Mounts a tmpfs of `bytes` on a new directory under the OS temp dir. */
export function mountTmpfs(bytes: number): Tmpfs {
  const dir = mkdtempSync(join(tmpdir(), 'orbit-diskfull-'))
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0700`, 'tmpfs', dir])
  const ballast = join(dir, 'ballast')
  let mounted = true
  const free = (): number => {
    const s = statfsSync(dir)
    return Number(s.bavail) * Number(s.bsize)
  }
  return {
    dir,
    free,
    fill(leaveBytes) {
      const fd = openSync(ballast, 'a')
      try {
        const block = Buffer.alloc(64 * 1024, 0x5a)
        // Append until the filesystem says no; then trim back to leave what was asked.
        for (;;) {
          const want = free() - leaveBytes
          if (want <= 0) break
          try {
            writeSync(fd, block, 0, Math.min(block.length, want))
          } catch {
            break
          }
        }
      } finally {
        closeSync(fd)
      }
    },
    release() {
      rmSync(ballast, { force: true })
    },
    unmount() {
      if (!mounted) return
      mounted = false
      try {
        execFileSync('umount', [dir])
      } catch {
        // A process still holding a file keeps the mount busy: detach it lazily instead.
        execFileSync('umount', ['-l', dir])
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

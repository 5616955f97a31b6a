/**
 * Resident memory from /proc, for the benches' RSS reports.
 */
import { readFileSync } from 'node:fs'

/** The kB fields (`VmHWM`, `VmRSS`, …) of one read of /proc/PID/status; NaN for a field not there. */
export function procStatusKb(pid: number | 'self'): (field: string) => number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN)
}

/**
 * This process's own peak resident set in kB: `VmHWM` from /proc/self/status. Not
 * `process.resourceUsage().maxRSS`: on Linux a spawned process's maxRSS starts at what its parent
 * held when it forked (the kernel folds the memory the child had before exec into it), so a bench
 * child would report the bench's own memory — a child spawned by a bench holding 300 MB reports
 * 304 MB where its VmHWM is 39 MB. Without /proc, maxRSS, caveat and all.
 */
export function ownPeakRssKb(): number {
  try {
    const kb = procStatusKb('self')('VmHWM')
    if (Number.isFinite(kb)) return kb
  } catch {
    // No /proc here.
  }
  return process.resourceUsage().maxRSS
}

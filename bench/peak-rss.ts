/**
 * A process's own peak resident set, for the benches' RSS reports.
 */
import { readFileSync } from 'node:fs'

/**
 * This process's own peak resident set in kB: `VmHWM` from /proc/self/status. Not
 * `process.resourceUsage().maxRSS`: on Linux a spawned process's maxRSS starts at what its parent
 * held when it forked (the kernel folds the memory the child had before exec into it), so a bench
 * child would report the bench's own memory — a child spawned by a bench holding 300 MB reports
 * 304 MB where its VmHWM is 39 MB. Without /proc, maxRSS, caveat and all.
 */
export function ownPeakRssKb(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))
    if (m !== null) return Number(m[1])
  } catch {
    // No /proc here.
  }
  return process.resourceUsage().maxRSS
}

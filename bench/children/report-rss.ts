/**
 * Preloaded with `node --import` into a measured child process: on exit, writes its peak resident
 * set size (KB, `process.resourceUsage().maxRSS`) to `$ORBIT_BENCH_RSS_FILE`.
 */
import { writeFileSync } from 'node:fs'

const out = process.env.ORBIT_BENCH_RSS_FILE
if (out !== undefined && out !== '') {
  process.on('exit', () => {
    writeFileSync(out, String(process.resourceUsage().maxRSS))
  })
}

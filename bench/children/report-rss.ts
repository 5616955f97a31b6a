/**
 * Preloaded with `node --import` into a measured child process: on exit, writes its own peak
 * resident set size (kB, VmHWM: bench/peak-rss.ts says why not `maxRSS`) to `$ORBIT_BENCH_RSS_FILE`.
 */
import { writeFileSync } from 'node:fs'
import { ownPeakRssKb } from '../peak-rss.js'

const out = process.env.ORBIT_BENCH_RSS_FILE
if (out !== undefined && out !== '') {
  process.on('exit', () => {
    writeFileSync(out, String(ownPeakRssKb()))
  })
}

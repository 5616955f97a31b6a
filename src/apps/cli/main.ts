/**
 * Entry point of the `orbit` executable (bin/orbit.js). Keep the static imports light: the
 * read-only commands must start without loading Automerge.
 */
import { runCli } from './run.js'

const code = await runCli(process.argv.slice(2), {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  env: process.env,
  cwd: process.cwd(),
})
// Writes to pipes and files are synchronous on POSIX, so nothing printed is lost; exiting here
// also stops any timer a library left behind once the command's work is durable.
process.exit(code)

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
// A write to a pipe is asynchronous on POSIX: exiting at once can cut a long `--json` answer
// short (seen with `contact list --all --json` of thousands of contacts). Exit once both streams
// have handed everything to the OS; exiting (rather than returning) also stops any timer a
// library left behind once the command's work is durable.
const drained = (stream: NodeJS.WriteStream): Promise<void> => new Promise((resolve) => stream.write('', () => resolve()))
await Promise.all([drained(process.stdout), drained(process.stderr)])
process.exit(code)

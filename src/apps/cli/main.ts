/**
 * Entry point of the `orbit` executable (bin/orbit.js). Keep the static imports light: the
 * fast route (fast-route.ts) answers `contact add` through a running daemon and `contact list`
 * before commander, zod or Automerge load; every other command runs the full CLI (run.ts).
 */
import type { CliIo } from './context.js'
import { fastRoute } from './fast-route.js'

// A reader that went away (`orbit contact list | head -1`) is not an error of the command: what
// it writes after that is dropped, and the command still finishes its work (an import still
// commits) and exits with its own code, instead of dying on an unhandled EPIPE.
const gone = new Set<NodeJS.WriteStream>()
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err
    gone.add(stream)
  })
}
const write = (stream: NodeJS.WriteStream, s: string): boolean => (gone.has(stream) ? true : stream.write(s))
const io: CliIo = {
  stdout: (s) => write(process.stdout, s),
  stderr: (s) => write(process.stderr, s),
  env: process.env,
  cwd: process.cwd(),
}
const argv = process.argv.slice(2)
const code = (await fastRoute(argv, io)) ?? (await (await import('./run.js')).runCli(argv, io))
// A write to a pipe is asynchronous on POSIX: exiting at once can cut a long `--json` answer
// short (seen with `contact list --all --json` of thousands of contacts). Exit once both streams
// have handed everything to the OS; exiting (rather than returning) also stops any timer a
// library left behind once the command's work is durable.
const drained = (stream: NodeJS.WriteStream): Promise<void> => (gone.has(stream) || stream.destroyed ? Promise.resolve() : new Promise((resolve) => stream.write('', () => resolve())))
await Promise.all([drained(process.stdout), drained(process.stderr)])
process.exit(code)

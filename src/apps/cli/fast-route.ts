/**
 * The CLI's fast route (docs/architecture.md, "One code path per command"): the commands a user
 * runs most, recognised from the raw argv before commander, zod and the command modules load.
 *
 * - `contact add` with a running `orbit serve` on the data dir: one `workspace.call addContact`
 *   over the control socket (docs/protocol/control.md), the daemon validating the input and
 *   answering once the write is durable, exactly what the full path sends and waits for;
 * - `contact add` with no daemon: the write in this process without automerge-repo
 *   (src/apps/node/quick-add.ts), which hands back to the full CLI whatever it does not handle;
 * - `contact list`: the SQLite listing (src/apps/node/read-view.ts), as the full path reads it.
 *
 * Anything else, or any argument this parser does not know exactly (an `--opt=value` form, `--`,
 * `--help`, `--org`, `--logo`, a value starting with `-`), is not handled here: {@link fastRoute}
 * returns undefined and the full CLI runs, so every answer, error and exit code stays the full
 * path's. Nothing is sent before the request is complete: a daemon that cannot be reached before
 * the request was written also falls back (the full path waits for a starting daemon).
 */
import { readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import type { CliIo } from './context.js'
import { resolveDataDir } from '../node/data-dir.js'
import type { ControlErrorBody } from '../control/protocol.js'

/** A command the fast route recognised, with its options as commander would have parsed them. */
export type FastCommand =
  | { kind: 'contact add'; dataFlag: string | undefined; json: boolean; input: Record<string, unknown> }
  | {
      kind: 'contact list'
      dataFlag: string | undefined
      json: boolean
      query: { limit: number; offset: number; all: boolean; includeRemoved: boolean; query?: string }
    }

/** Value-taking options of `contact add` the fast route handles: how each is stored. */
const ADD_OPTIONS: Record<string, { key: string; repeat: boolean }> = {
  '--name': { key: 'name', repeat: false },
  '--email': { key: 'emails', repeat: true },
  '--phone': { key: 'phones', repeat: true },
  '--title': { key: 'title', repeat: false },
  '--tag': { key: 'tags', repeat: true },
}

/**
 * Parses `argv` (after the script) when it is one of the fast route's commands in a form it knows
 * exactly; undefined otherwise (the full CLI then parses it).
 */
export function parseFastCommand(argv: readonly string[]): FastCommand | undefined {
  let dataFlag: string | undefined
  let json = false
  const path: string[] = []
  const values = new Map<string, string[]>()
  const flags = new Set<string>()
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] as string
    if (token === '--json') {
      json = true
      continue
    }
    if (token === '--data') {
      const value = argv[++i]
      if (value === undefined || value.startsWith('-')) return undefined
      dataFlag = value
      continue
    }
    if (!token.startsWith('-')) {
      path.push(token)
      if (path.length > 2) return undefined
      continue
    }
    // A command option before its command is the full parser's to refuse.
    if (path.length !== 2) return undefined
    const known = optionKind(path[1] as string, token)
    if (known === undefined) return undefined
    if (known === 'flag') {
      flags.add(token)
      continue
    }
    const value = argv[++i]
    if (value === undefined || value.startsWith('-')) return undefined
    values.set(token, [...(values.get(token) ?? []), value])
  }
  if (path[0] !== 'contact') return undefined
  if (path[1] === 'add') {
    const input: Record<string, unknown> = {}
    for (const [option, { key, repeat }] of Object.entries(ADD_OPTIONS)) {
      const given = values.get(option)
      if (given !== undefined) input[key] = repeat ? given : given.at(-1)
    }
    if (input.name === undefined) return undefined
    return { kind: 'contact add', dataFlag, json, input }
  }
  if (path[1] === 'list') {
    const limit = count(values.get('--limit'), 50, 1)
    const offset = count(values.get('--offset'), 0, 0)
    if (limit === undefined || offset === undefined) return undefined
    const text = values.get('--query')?.at(-1)
    return {
      kind: 'contact list',
      dataFlag,
      json,
      query: { limit, offset, all: flags.has('--all'), includeRemoved: flags.has('--include-removed'), ...(text === undefined ? {} : { query: text }) },
    }
  }
  return undefined
}

function optionKind(command: string, token: string): 'value' | 'flag' | undefined {
  if (command === 'add') return token in ADD_OPTIONS ? 'value' : undefined
  if (command === 'list') {
    if (token === '--limit' || token === '--offset' || token === '--query') return 'value'
    if (token === '--all' || token === '--include-removed') return 'flag'
  }
  return undefined
}

/**
 * The last of an integer option's values, when every one is what `options.ts`'s `integer(min)`
 * accepts (commander parses each as it comes); undefined otherwise.
 */
function count(given: string[] | undefined, fallback: number, min: number): number | undefined {
  if (given === undefined) return fallback
  let n = fallback
  for (const text of given) {
    if (!/^\d+$/.test(text)) return undefined
    n = Number(text)
    if (!Number.isSafeInteger(n) || n < min) return undefined
  }
  return n
}

/**
 * Runs `argv` on the fast route. Resolves with the exit code, or undefined when the full CLI must
 * run it (not a fast command, no daemon for a routed write, or the daemon not listening yet).
 */
export async function fastRoute(argv: readonly string[], io: CliIo): Promise<number | undefined> {
  const command = parseFastCommand(argv)
  if (command === undefined) return undefined
  const dataDir = resolveDataDir(command.dataFlag, io.env, io.cwd)
  if (command.kind === 'contact list') {
    const { listContactsPage } = await import('./commands/contact-page.js')
    const { openReadView } = await import('../node/read-view.js')
    let out: string
    try {
      const view = await openReadView(dataDir)
      try {
        out = listContactsPage(view, command.query, command.json)
      } finally {
        view.close()
      }
    } catch {
      // A refusal (no store, a corrupt one): the full path says it, in its words.
      return undefined
    }
    io.stdout(out)
    return 0
  }
  const daemon = liveDaemon(dataDir)
  if (daemon === undefined) {
    // No daemon: the write in this process, without automerge-repo (src/apps/node/quick-add.ts).
    const { quickAddContact } = await import('../node/quick-add.js')
    let created
    try {
      created = await quickAddContact(dataDir, command.input, { yieldTo: () => liveDaemon(dataDir) !== undefined })
    } catch (error) {
      return failWith(error as Error, command.json, io)
    }
    if (created === undefined) return undefined
    return printCreated(created, command.json, io)
  }
  const answer = await requestOnce(daemon.control, { method: 'addContact', args: [command.input] })
  if (answer === 'not-listening') return undefined
  if ('result' in answer) {
    const created = answer.result as { id?: unknown }
    if (typeof created?.id !== 'string') return failWith(new Error('the daemon sent a malformed answer'), command.json, io, 'BAD_RESPONSE')
    return printCreated(created as { id: string }, command.json, io)
  }
  if ('body' in answer) {
    const { errorFromBody } = await import('../control/client.js')
    return failWith(errorFromBody(answer.body), command.json, io)
  }
  return failWith(answer.error, command.json, io, answer.code)
}

/** Prints a created contact as the full path does (the id, or the contact with --json); exit code 0. */
function printCreated(created: { id: string }, json: boolean, io: CliIo): number {
  io.stdout(json ? JSON.stringify(created) + '\n' : created.id + '\n')
  return 0
}

/** Prints `error` as the full path does (src/apps/cli/run.ts) and returns its exit code. */
async function failWith(error: Error, json: boolean, io: CliIo, wireCode?: string): Promise<number> {
  const { WireError } = await import('../../core/errors.js')
  const { reportError } = await import('./run.js')
  const typed = wireCode === undefined ? error : new WireError(error.message, { code: wireCode, cause: error })
  return reportError(typed, 'orbit contact add', json, io)
}

/**
 * The live daemon on `dataDir` (src/apps/node/lock.ts's lock file: pid alive, control path set),
 * read without zod; undefined when there is none or the file is not what a daemon writes.
 */
function liveDaemon(dataDir: string): { control: string } | undefined {
  let info: unknown
  try {
    info = JSON.parse(readFileSync(join(dataDir, 'daemon.lock'), 'utf8'))
  } catch {
    return undefined
  }
  const { pid, control } = (info ?? {}) as { pid?: unknown; control?: unknown }
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0 || typeof control !== 'string' || control === '') return undefined
  try {
    process.kill(pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return undefined
  }
  return { control }
}

type Answer = { result: unknown } | { body: ControlErrorBody } | { error: Error; code: string } | 'not-listening'

/** How long the fast route waits for the daemon's answer: the full path's default (src/apps/control/client.ts). */
const ANSWER_TIMEOUT_MS = 120_000
/** Largest answer line read (src/apps/control/protocol.ts, MAX_CONTROL_LINE). */
const MAX_ANSWER = 8 * 1024 * 1024

/** One `workspace.call` request on the control socket (docs/protocol/control.md). */
function requestOnce(control: string, params: { method: string; args: unknown[] }): Promise<Answer> {
  const id = Math.random().toString(16).slice(2, 14).padEnd(12, '0')
  return new Promise((resolve) => {
    const socket = connect(control)
    let buffer = ''
    let connected = false
    let settled = false
    const finish = (answer: Answer): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      resolve(answer)
    }
    const unreachable = (message: string): Answer => ({ error: new Error(message), code: 'DAEMON_UNREACHABLE' })
    const timer = setTimeout(() => finish({ error: new Error(`the daemon did not answer within ${ANSWER_TIMEOUT_MS} ms`), code: 'DAEMON_TIMEOUT' }), ANSWER_TIMEOUT_MS)
    socket.setEncoding('utf8')
    socket.on('connect', () => {
      connected = true
      socket.write(JSON.stringify({ v: 1, id, op: 'workspace.call', params }) + '\n')
    })
    socket.on('data', (chunk: string) => {
      buffer += chunk
      if (buffer.length > MAX_ANSWER) return finish({ error: new Error('daemon answer too long'), code: 'BAD_RESPONSE' })
      const nl = buffer.indexOf('\n')
      if (nl >= 0) finish(parseAnswer(buffer.slice(0, nl)))
    })
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (!connected && (error.code === 'ECONNREFUSED' || error.code === 'ENOENT')) return finish('not-listening')
      finish(unreachable(`cannot reach the daemon at ${control}: ${error.message}; is \`orbit serve\` still running?`))
    })
    socket.on('close', () => finish(unreachable('the daemon closed the connection')))
  })
}

/** The daemon's answer line, checked as src/apps/control/protocol.ts's ResponseSchema does. */
function parseAnswer(line: string): Answer {
  const malformed: Answer = { error: new Error('the daemon sent a malformed answer'), code: 'BAD_RESPONSE' }
  let parsed: unknown
  try {
    parsed = JSON.parse(line)
  } catch {
    return malformed
  }
  const r = parsed as { v?: unknown; ok?: unknown; result?: unknown; error?: Partial<Record<keyof ControlErrorBody, unknown>> }
  if (typeof r !== 'object' || r === null || r.v !== 1) return malformed
  if (r.ok === true) return { result: r.result }
  const e = r.error
  if (r.ok !== false || typeof e !== 'object' || e === null) return malformed
  if (typeof e.name !== 'string' || typeof e.code !== 'string' || typeof e.message !== 'string' || (e.field !== undefined && typeof e.field !== 'string')) return malformed
  return { body: { name: e.name, code: e.code, message: e.message, ...(e.field === undefined ? {} : { field: e.field }) } }
}

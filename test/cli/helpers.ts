/** Running the real `orbit` executable as a child process against temp data dirs. */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
export const ORBIT_BIN = join(REPO_ROOT, 'bin/orbit.js')
const BUILT_MAIN = join(REPO_ROOT, 'dist/src/apps/cli/main.js')

/** Fails fast with a useful message when the CLI was not built (`npm test` builds first). */
export function requireBuiltCli(): void {
  if (!existsSync(BUILT_MAIN)) throw new Error(`${BUILT_MAIN} is missing: run \`npm run build\` before these tests`)
}

export interface OrbitRun {
  code: number | null
  stdout: string
  stderr: string
}

export interface RunOptions {
  env?: Record<string, string | undefined>
  cwd?: string
  nodeArgs?: string[]
}

/** Runs `node bin/orbit.js ...args` and waits for it. HOME points at a temp dir unless given. */
export function orbit(args: readonly string[], options: RunOptions = {}): OrbitRun {
  const env: Record<string, string | undefined> = { ...process.env, ORBIT_LOG_LEVEL: 'silent', ...options.env }
  delete env.ORBIT_HOME
  if (options.env?.ORBIT_HOME !== undefined) env.ORBIT_HOME = options.env.ORBIT_HOME
  const r = spawnSync(process.execPath, [...(options.nodeArgs ?? []), ORBIT_BIN, ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: env as NodeJS.ProcessEnv,
    encoding: 'utf8',
    timeout: 60_000,
  })
  if (r.error) throw r.error
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** Like {@link orbit} with `--data dir --json`, parsing stdout as JSON; throws on a non-zero exit. */
export function orbitJson<T = unknown>(dir: string, args: readonly string[]): T {
  const r = orbit(['--data', dir, '--json', ...args])
  if (r.code !== 0) throw new Error(`orbit ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  return JSON.parse(r.stdout) as T
}

/** Parses the JSON error a `--json` run wrote to stderr. */
export function jsonError(r: OrbitRun): { name: string; code: string; message: string; field?: string } {
  const parsed = JSON.parse(r.stderr.trim()) as { error: { name: string; code: string; message: string; field?: string } }
  return parsed.error
}

export function tempDir(prefix = 'orbit-cli-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

/**
 * A fingerprint of every file under `dir` (relative path, size, SHA-256), to prove that a refused
 * command wrote nothing at all.
 */
export function fingerprint(dir: string): string {
  if (!existsSync(dir)) return '<absent>'
  if (statSync(dir).isFile()) return `${statSync(dir).size} ${createHash('sha256').update(readFileSync(dir)).digest('hex')}`
  const lines: string[] = []
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name)
      const st = statSync(p)
      if (st.isDirectory()) walk(p)
      else lines.push(`${relative(dir, p)} ${st.size} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`)
    }
  }
  walk(dir)
  return lines.join('\n')
}

/** The smallest valid PNG (1×1, transparent). */
export const TINY_PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=',
  'base64',
)

/**
 * A digest of the store's logical content (every row of every table), for commands that open the
 * store but must not change it: SQLite may checkpoint its WAL into the main file on close, which
 * changes bytes but not content.
 */
export async function storeDigest(dataDir: string): Promise<string> {
  const { default: Database } = await import('better-sqlite3')
  const db = new Database(join(dataDir, 'orbit.sqlite'), { readonly: true, fileMustExist: true })
  try {
    const hash = createHash('sha256')
    const tables = db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`).all() as { name: string }[]
    for (const { name } of tables) {
      hash.update(`table ${name}\n`)
      const rows = db.prepare(`SELECT * FROM "${name}"`).raw().all() as unknown[][]
      const lines = rows.map((r) => JSON.stringify(r.map((v) => (Buffer.isBuffer(v) ? v.toString('hex') : v)))).sort()
      for (const line of lines) hash.update(line + '\n')
    }
    const blobs = join(dataDir, 'blobs')
    hash.update(fingerprint(blobs))
    hash.update(fingerprint(join(dataDir, 'identity.key')))
    return hash.digest('hex')
  } finally {
    db.close()
  }
}

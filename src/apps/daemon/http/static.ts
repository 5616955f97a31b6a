/**
 * The built page (`dist/web/`, made by `npm run build`) as static files: a fixed MIME table, no
 * directory listing, nothing outside the root (the path is decoded once, every segment checked, and
 * the resolved real path must stay under the root's real path, so a symlink cannot lead out).
 * `/` and unknown extension-less paths (the page's own routes) get `index.html`.
 */
import { existsSync, realpathSync, statSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname, extname, join, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Content types by extension; anything else is `application/octet-stream`. */
export const MIME_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
}

/** The package root: the nearest folder above this file holding a package.json (src/ and dist/src/ alike). */
export function packageRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir
    const up = dirname(dir)
    if (up === dir) return from
    dir = up
  }
}

/** Where the built UI is served from by default: `<package root>/dist/web`. */
export const defaultWebRoot = (): string => join(packageRoot(), 'dist', 'web')

/** A static file to send, or why not. */
export type StaticResult =
  | { kind: 'file'; body: Buffer; type: string; immutable: boolean; index: boolean }
  | { kind: 'not-built' }
  | { kind: 'not-found' }
  | { kind: 'refused' }

/** The page shown when dist/web is absent. */
export const NOT_BUILT_PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>Orbit</title></head><body>
<h1>The Orbit web UI was not built</h1>
<p>This <code>orbit serve</code> has no <code>dist/web/</code> to serve. Run <code>npm run build</code> in the Orbit Sync package and start <code>orbit serve</code> again. The API under <code>/api/v1/</code> works without it.</p>
</body></html>`

/** Serves files of one root folder. */
export class StaticFiles {
  readonly #root: string | undefined

  /** @param root the folder (absent folder: every request answers `not-built`). */
  constructor(root: string) {
    try {
      this.#root = statSync(root).isDirectory() ? realpathSync(root) : undefined
    } catch {
      this.#root = undefined
    }
  }

  /** Whether there is a built UI to serve. */
  get built(): boolean {
    return this.#root !== undefined
  }

  /** What `pathname` (the URL's path, still percent-encoded) resolves to. */
  async resolve(pathname: string): Promise<StaticResult> {
    let decoded: string
    try {
      decoded = decodeURIComponent(pathname)
    } catch {
      return { kind: 'refused' }
    }
    const segments = decoded.split('/').slice(1)
    // No dot segments, no backslashes, no NUL, no hidden files: before any file system access.
    if (segments.some((s) => s === '..' || s === '.' || s.startsWith('.') || s.includes('\\') || s.includes('\0'))) return { kind: 'refused' }
    if (this.#root === undefined) return { kind: 'not-built' }
    const root = this.#root
    const relative = segments.filter((s) => s !== '').join('/')
    const wanted = relative === '' ? 'index.html' : relative
    const file = await this.#file(root, wanted)
    if (file !== undefined) return file
    // The page's own routes (no extension) are the page; a missing asset is a 404.
    if (extname(wanted) === '') return (await this.#file(root, 'index.html')) ?? { kind: 'not-found' }
    return { kind: 'not-found' }
  }

  async #file(root: string, relative: string): Promise<StaticResult | undefined> {
    let real: string
    try {
      real = realpathSync(join(root, relative))
      if (!real.startsWith(root + sep) || !statSync(real).isFile()) return undefined
    } catch {
      return undefined
    }
    const ext = extname(real).toLowerCase()
    return {
      kind: 'file',
      body: await readFile(real),
      type: MIME_TYPES[ext] ?? 'application/octet-stream',
      // Vite puts content hashes in asset names: those never change.
      immutable: relative.startsWith('assets/'),
      // The page itself (where server.ts puts the boot data).
      index: relative === 'index.html',
    }
  }
}

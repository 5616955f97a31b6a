import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { raw, UiScratch, type UiDaemon } from './helpers.js'

describe('web UI static files', () => {
  const scratch = new UiScratch()
  let a: UiDaemon
  let outside: string
  beforeAll(async () => {
    outside = mkdtempSync(join(tmpdir(), 'orbit-http-web-'))
    const web = join(outside, 'web')
    mkdirSync(join(web, 'assets'), { recursive: true })
    writeFileSync(join(web, 'index.html'), '<!doctype html><title>Orbit UI</title><body><div id="root"></div></body>')
    writeFileSync(join(web, 'assets', 'app-1234.js'), 'console.log(1)')
    writeFileSync(join(web, 'assets', 'app.css'), 'body{}')
    writeFileSync(join(web, 'logo.svg'), '<svg/>')
    writeFileSync(join(web, '.env'), 'SECRET=1')
    writeFileSync(join(outside, 'secret.txt'), 'TOP SECRET')
    symlinkSync(join(outside, 'secret.txt'), join(web, 'assets', 'link.txt'))
    a = await scratch.daemon('A', { webRoot: web })
  }, 60_000)
  afterAll(async () => {
    await scratch.cleanup()
    rmSync(outside, { recursive: true, force: true })
  })

  it('serves files with their MIME types, index.html for / and for the page routes', async () => {
    const index = await raw(a.port, { path: '/' })
    expect(index.status).toBe(200)
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(index.text).toContain('Orbit UI')
    expect(index.headers['content-security-policy']).toContain("default-src 'self'")
    const js = await raw(a.port, { path: '/assets/app-1234.js' })
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8')
    expect(js.headers['cache-control']).toContain('immutable')
    expect((await raw(a.port, { path: '/assets/app.css' })).headers['content-type']).toBe('text/css; charset=utf-8')
    expect((await raw(a.port, { path: '/logo.svg' })).headers['content-type']).toBe('image/svg+xml')
    expect((await raw(a.port, { path: '/sync' })).text).toContain('Orbit UI')
    expect((await raw(a.port, { path: '/assets/missing.js' })).status).toBe(404)
    // A folder is not listed.
    const folder = await raw(a.port, { path: '/assets/' })
    expect(folder.text).not.toContain('app-1234.js')
    expect((await raw(a.port, { method: 'POST', path: '/', headers: { origin: `http://127.0.0.1:${a.port}` } })).status).toBe(405)
  })

  it('puts GET status and the first contacts page into the page for a signed-in browser only, escaped, never cached', async () => {
    const added = await a.api('POST', 'contacts', { name: 'Eve </script><script>alert(1)</script>', emails: ['eve@example.com'] })
    expect(added.status).toBe(201)
    const bootOf = (text: string): { status: { device: { name: string } }; contacts: { total: number; offset: number; items: Array<{ name: string }> } } | undefined => {
      const m = /<script type="application\/json" id="orbit-boot">(.*?)<\/script>/s.exec(text)
      return m === null ? undefined : JSON.parse(m[1]!)
    }
    const page = await raw(a.port, { path: '/', headers: { cookie: `orbit_ui=${a.secret}` } })
    expect(page.status).toBe(200)
    expect(page.headers['cache-control']).toBe('no-store')
    // The element sits inside the body, and the name's "</script>" did not end it early.
    expect(page.text.indexOf('id="orbit-boot"')).toBeLessThan(page.text.indexOf('</body>'))
    expect(page.text.match(/<\/script>/g)).toHaveLength(1)
    const boot = bootOf(page.text)
    expect(boot?.status.device.name).toBe('A')
    expect(boot?.contacts).toMatchObject({ total: 1, offset: 0 })
    expect(boot?.contacts.items.map((c) => c.name)).toEqual(['Eve </script><script>alert(1)</script>'])
    // The same as the API answers.
    expect(boot?.contacts).toEqual((await a.api('GET', 'contacts?offset=0&limit=200')).json())
    // No cookie, or a wrong one: the page as built, nothing of the workspace in it.
    for (const headers of [{}, { cookie: 'orbit_ui=wrong' }] as Array<Record<string, string>>) {
      const bare = await raw(a.port, { path: '/', headers })
      expect(bare.text).toBe('<!doctype html><title>Orbit UI</title><body><div id="root"></div></body>')
      expect(bare.text).not.toContain('Eve')
    }
  })

  it('refuses traversal, hidden files and symlinks out of the root', async () => {
    const attempts = [
      '/../secret.txt',
      '/%2e%2e/secret.txt',
      '/assets/%2e%2e/%2e%2e/secret.txt',
      '/..%2fsecret.txt',
      '/assets/..%2f..%2fsecret.txt',
      '/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
      '/..\\secret.txt',
      '/assets/%5c..%5c..%5csecret.txt',
      '/.env',
      '/%2eenv',
      '/assets/link.txt',
      '/index.html%00.js',
      '/%E0%A4%A',
      '//etc/passwd',
    ]
    for (const path of attempts) {
      const r = await raw(a.port, { path })
      expect(r.text, path).not.toContain('TOP SECRET')
      expect(r.text, path).not.toContain('SECRET=1')
      expect(r.text, path).not.toContain('root:')
      expect([400, 404], path).toContain(r.status)
    }
    // A raw request line that no client would normalise.
    const text = await new Promise<string>((resolve) => {
      const socket = connect(a.port, '127.0.0.1', () => socket.end(`GET /../../secret.txt HTTP/1.1\r\nHost: 127.0.0.1:${a.port}\r\nConnection: close\r\n\r\n`))
      let out = ''
      socket.setEncoding('utf8').on('data', (d: string) => (out += d)).on('close', () => resolve(out))
    })
    expect(text).toMatch(/^HTTP\/1\.1 40[04]/)
    expect(text).not.toContain('TOP SECRET')
  })
})

describe('the signed-in page carries its stylesheet and its pre-React paint inline', () => {
  const scratch = new UiScratch()
  const roots: string[] = []
  afterAll(async () => {
    await scratch.cleanup()
    for (const r of roots) rmSync(r, { recursive: true, force: true })
  })

  /** A built UI: index.html linking `assets/app.css`, and `assets/prepaint-inline.js` holding `script`. */
  function webRoot(script: string): string {
    const root = mkdtempSync(join(tmpdir(), 'orbit-http-inline-'))
    roots.push(root)
    mkdirSync(join(root, 'assets'))
    writeFileSync(join(root, 'index.html'), '<!doctype html><head><link rel="stylesheet" crossorigin href="./assets/app.css"></head><body><div id="root"></div></body>')
    writeFileSync(join(root, 'assets', 'app.css'), '.rows{color:red}')
    writeFileSync(join(root, 'assets', 'prepaint-inline.js'), script)
    return root
  }

  it('inlines both after the boot data, allows exactly that script by its SHA-256, and only for a signed-in page', async () => {
    const script = '(function(){document.title="painted"})();'
    const a = await scratch.daemon('A', { webRoot: webRoot(script) })
    const page = await raw(a.port, { path: '/', headers: { cookie: `orbit_ui=${a.secret}` } })
    expect(page.text).toContain('<style>.rows{color:red}</style>')
    expect(page.text).not.toContain('assets/app.css')
    // The paint runs after the data it draws from, inside the body.
    expect(page.text.indexOf(`<script>${script}</script>`)).toBeGreaterThan(page.text.indexOf('id="orbit-boot"'))
    expect(page.text.indexOf(`<script>${script}</script>`)).toBeLessThan(page.text.indexOf('</body>'))
    const hash = createHash('sha256').update(script).digest('base64')
    expect(page.headers['content-security-policy']).toContain(`script-src 'self' 'sha256-${hash}'`)
    // Not signed in: the page as built, its CSP without the hash.
    const bare = await raw(a.port, { path: '/' })
    expect(bare.text).toBe('<!doctype html><head><link rel="stylesheet" crossorigin href="./assets/app.css"></head><body><div id="root"></div></body>')
    expect(bare.headers['content-security-policy']).not.toContain('sha256')
  }, 60_000)

  it('leaves out a script that could close its element: the page works without it', async () => {
    const a = await scratch.daemon('B', { webRoot: webRoot('var s = "</script><script>alert(1)";') })
    const page = await raw(a.port, { path: '/', headers: { cookie: `orbit_ui=${a.secret}` } })
    expect(page.status).toBe(200)
    expect(page.text).not.toContain('alert(1)')
    expect(page.text).toContain('id="orbit-boot"')
    expect(page.headers['content-security-policy']).not.toContain('sha256')
  }, 60_000)
})

/**
 * In-process daemons with the web UI on 127.0.0.1 (port 0, no mDNS, their own temp data dirs), and
 * a raw HTTP client that can send any Host, Origin or body (fetch cannot forge Host).
 */
import { request } from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { initDevice } from '../../src/apps/node/device.js'
import { startDaemon, type Daemon } from '../../src/apps/daemon/daemon.js'

/** A response, body as text (and bytes). */
export interface RawResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  text: string
  bytes: Buffer
  json<T = Record<string, unknown>>(): T
}

/** One request with exactly these headers (Host included unless overridden). */
export function raw(port: number, o: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer }): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host: `127.0.0.1:${port}`, ...o.headers }
    if (o.body !== undefined) headers['content-length'] = String(Buffer.byteLength(o.body))
    const req = request({ host: '127.0.0.1', port, method: o.method ?? 'GET', path: o.path, headers, setHost: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const bytes = Buffer.concat(chunks)
        const text = bytes.toString('utf8')
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, bytes, json: <T>() => JSON.parse(text) as T })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    if (o.body !== undefined) req.write(o.body)
    req.end()
  })
}

/** A daemon under test with its UI's port and secret, and helpers that send the right Host, Origin and secret. */
export interface UiDaemon {
  daemon: Daemon
  dir: string
  port: number
  secret: string
  /** An authorised request: Bearer secret, same-origin Origin on writes, JSON body. */
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<RawResponse>
}

/** Temp dirs and daemons a test made; `cleanup()` from afterEach. */
export class UiScratch {
  readonly dirs: string[] = []
  readonly daemons: Daemon[] = []

  async daemon(name: string, options: { webRoot?: string } = {}): Promise<UiDaemon> {
    const root = mkdtempSync(join(tmpdir(), 'orbit-http-'))
    this.dirs.push(root)
    const dir = join(root, 'data')
    await initDevice(dir, { name })
    const daemon = await startDaemon({
      dataDir: dir,
      listen: { host: '127.0.0.1', port: 0 },
      mdns: false,
      http: { host: '127.0.0.1', port: 0 },
      webRoot: options.webRoot ?? join(root, 'no-web'),
    })
    this.daemons.push(daemon)
    const ui = daemon.ui()!
    const secret = new URL(ui.url).searchParams.get('secret')!
    const port = ui.port
    return {
      daemon,
      dir,
      port,
      secret,
      api: (method, path, body, headers = {}) =>
        raw(port, {
          method,
          path: `/api/v1/${path}`,
          headers: {
            authorization: `Bearer ${secret}`,
            ...(method === 'GET' ? {} : { origin: `http://127.0.0.1:${port}` }),
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            ...headers,
          },
          ...(body === undefined ? {} : { body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body) }),
        }),
    }
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.daemons.splice(0).map((d) => d.stop()))
    for (const d of this.dirs.splice(0)) rmSync(d, { recursive: true, force: true })
  }
}

/** Reads `event: NAME` blocks from an SSE stream until `until` returns true for one (or the timeout). */
export function readEvents(port: number, secret: string, until: (event: string, data: unknown, all: Array<{ event: string; data: unknown }>) => boolean, timeoutMs = 20_000): Promise<Array<{ event: string; data: unknown }>> {
  return new Promise((resolve, reject) => {
    const seen: Array<{ event: string; data: unknown }> = []
    let buffer = ''
    const req = request({ host: '127.0.0.1', port, path: '/api/v1/events', headers: { authorization: `Bearer ${secret}` } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`events answered ${res.statusCode}`))
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        buffer += chunk
        let end
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const event = /^event: (.*)$/m.exec(block)?.[1]
          const data = /^data: (.*)$/m.exec(block)?.[1]
          if (event === undefined || data === undefined) continue
          const parsed = JSON.parse(data) as unknown
          seen.push({ event, data: parsed })
          if (until(event, parsed, seen)) {
            clearTimeout(timer)
            req.destroy()
            resolve(seen)
            return
          }
        }
      })
    })
    const timer = setTimeout(() => {
      req.destroy()
      reject(new Error(`no matching event within ${timeoutMs} ms; saw ${JSON.stringify(seen).slice(0, 2000)}`))
    }, timeoutMs)
    req.on('error', (e) => {
      if (!req.destroyed) reject(e)
    })
    req.end()
  })
}

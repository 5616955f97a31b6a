import { createServer, type Server } from 'node:net'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { jsonError, orbit, requireBuilt, Scratch } from '../daemon/helpers.js'
import { raw } from './helpers.js'

interface Ui {
  url: string
  port: number
  host: string
  exposed: boolean
  note?: string
}

describe('orbit serve --http and orbit ui (real child processes)', () => {
  const scratch = new Scratch()
  beforeAll(() => requireBuilt())
  afterEach(() => scratch.cleanup())

  it('prints the secret link in its greeting, `orbit ui` prints the same, and the link opens the API; the secret survives a restart', async () => {
    const dir = scratch.dir('orbit-http-cli-')
    const serve = scratch.serve(dir, ['--no-mdns', '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0', '--name', 'Cli'])
    const ready = await serve.ready
    const ui = ready.ui as Ui
    expect(ui.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?secret=[A-Za-z0-9_-]{43}$/)
    const asked = await orbit(['--data', dir, '--json', 'ui'])
    expect(asked.code).toBe(0)
    expect((JSON.parse(asked.stdout) as Ui).url).toBe(ui.url)
    const human = await orbit(['--data', dir, 'ui'])
    expect(human.stdout.trim()).toBe(ui.url)
    const secret = new URL(ui.url).searchParams.get('secret')!
    const status = await raw(ui.port, { path: '/api/v1/status', headers: { authorization: `Bearer ${secret}` } })
    expect(status.status).toBe(200)
    expect(status.json<{ device: { name: string } }>().device.name).toBe('Cli')
    expect(await serve.stop()).toBe(0)

    const again = scratch.serve(dir, ['--no-mdns', '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0'])
    const second = (await again.ready).ui as Ui
    expect(new URL(second.url).searchParams.get('secret')).toBe(secret)
    await again.stop()
  }, 90_000)

  it('`orbit ui` without a daemon exits 1 saying how to start one', async () => {
    const dir = scratch.dir('orbit-http-cli-')
    expect((await orbit(['--data', dir, 'init', '--name', 'Idle'])).code).toBe(0)
    const r = await orbit(['--data', dir, 'ui'])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`orbit serve is not running on ${dir}; start it with \`orbit serve\``)
  }, 60_000)

  it('refuses a non-loopback --http host without --http-expose; --no-http serves none and `orbit ui` says so', async () => {
    const dir = scratch.dir('orbit-http-cli-')
    const refused = await orbit(['--data', dir, '--json', 'serve', '--no-mdns', '--listen', '127.0.0.1:0', '--http', '0.0.0.0:0', '--name', 'X'])
    expect(refused.code).toBe(1)
    expect(jsonError(refused).code).toBe('HTTP_EXPOSE_REQUIRED')
    const serve = scratch.serve(dir, ['--no-mdns', '--listen', '127.0.0.1:0', '--no-http'])
    const ready = await serve.ready
    expect(ready.ui).toBeUndefined()
    const r = await orbit(['--data', dir, '--json', 'ui'])
    expect(r.code).toBe(1)
    expect(jsonError(r).code).toBe('HTTP_OFF')
  }, 90_000)

  it('with no --http it serves on 127.0.0.1:7879, or on any free port (saying why) when 7879 is taken', async () => {
    // Hold 7879 when it is free, so the fallback is what is tested either way.
    const holder: Server = createServer()
    await new Promise<void>((resolve) => {
      holder.once('error', () => resolve())
      holder.listen(7879, '127.0.0.1', () => resolve())
    })
    try {
      const dir = scratch.dir('orbit-http-cli-')
      const serve = scratch.serve(dir, ['--no-mdns', '--listen', '127.0.0.1:0', '--name', 'Default'])
      const ui = (await serve.ready).ui as Ui
      expect(ui.host).toBe('127.0.0.1')
      expect(ui.port).not.toBe(7879)
      expect(ui.note).toContain('7879')
      const secret = new URL(ui.url).searchParams.get('secret')!
      expect((await raw(ui.port, { path: '/api/v1/status', headers: { authorization: `Bearer ${secret}` } })).status).toBe(200)
    } finally {
      holder.close()
    }
  }, 90_000)
})

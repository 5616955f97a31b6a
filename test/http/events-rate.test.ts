import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { allowedHosts, isLoopbackHost } from '../../src/apps/daemon/http/server.js'
import { uiLine } from '../../src/apps/cli/commands/serve.js'
import { readEvents, UiScratch, type UiDaemon } from './helpers.js'

describe('the event stream coalesces', () => {
  const scratch = new UiScratch()
  let a: UiDaemon
  beforeAll(async () => {
    a = await scratch.daemon('Rate')
  }, 60_000)
  afterAll(() => scratch.cleanup())

  it('sends at most ~10 state events a second under a storm of store changes, and the last one is the final state', async () => {
    const store = a.daemon.store
    let storm: Promise<void> | undefined
    let stormEnded = 0
    const events = await readEvents(
      a.port,
      a.secret,
      (event, data, all) => {
        if (event === 'state' && storm === undefined) {
          // 1.5 s of changes, every 2 ms, ending with discovery on.
          storm = (async () => {
            const end = Date.now() + 1500
            let on = false
            while (Date.now() < end) {
              on = !on
              store.getState().setDiscovering(on)
              await new Promise((r) => setTimeout(r, 2))
            }
            store.getState().setDiscovering(true)
            stormEnded = all.length
          })()
        }
        return stormEnded > 0 && all.length > stormEnded && (data as { status: string }).status === 'discovering'
      },
      20_000,
    )
    await storm
    const states = events.filter((e) => e.event === 'state')
    // The connect event, then at most one per 100 ms over ~1.5 s (+ the trailing one, + slack for timer jitter).
    expect(states.length).toBeGreaterThan(3)
    expect(states.length).toBeLessThanOrEqual(1 + 16 + 3)
    expect((states.at(-1)!.data as { status: string }).status).toBe('discovering')
    store.getState().setDiscovering(false)
  }, 30_000)
})

describe('exposure', () => {
  it('loopback hosts need no --http-expose; others do, and an exposed wildcard accepts this machine\'s addresses', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1']) expect(isLoopbackHost(h), h).toBe(true)
    for (const h of ['0.0.0.0', '192.168.1.20', '::', 'example.com']) expect(isLoopbackHost(h), h).toBe(false)
    expect(allowedHosts('127.0.0.1', 7879, false)).toEqual(['127.0.0.1:7879', 'localhost:7879', '[::1]:7879'])
    expect(allowedHosts('192.168.1.20', 7879, true)).toContain('192.168.1.20:7879')
    expect(allowedHosts('0.0.0.0', 7879, true).length).toBeGreaterThan(3)
    expect(allowedHosts('192.168.1.20', 7879, false)).not.toContain('192.168.1.20:7879')
    const line = uiLine({ url: 'http://127.0.0.1:7879/?secret=s', exposed: true, hosts: ['127.0.0.1:7879', 'localhost:7879', '192.168.1.20:7879'], built: true })
    expect(line).toContain('EXPOSED beyond this machine, at 192.168.1.20:7879')
  })
})

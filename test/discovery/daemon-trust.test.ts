/**
 * The daemon's view of member addresses, without sockets: the per device@address backoff of
 * announced addresses that proved nothing (src/apps/daemon/discovery.ts, docs/protocol/lan.md
 * "TXT record"), and the addresses `orbit peers` lists for a live link (src/apps/daemon/peers-view.ts).
 */
import { describe, expect, it } from 'vitest'
import { FIRST_DIAL_BACKOFF_MS, MAX_DIAL_BACKOFFS, MAX_DIAL_BACKOFF_MS, Trust } from '../../src/apps/daemon/discovery.js'
import { rowAddresses } from '../../src/apps/daemon/peers-view.js'
import type { DeviceId } from '../../src/core/ids.js'

const B = 'b'.repeat(32) as DeviceId

describe('Trust: the backoff of announced addresses', () => {
  it('5 s, doubling up to 10 minutes, counting only failures after the wait; a proof clears it', () => {
    let now = 1_000_000
    const trust = new Trust(() => now, 600_000)
    expect(trust.isBackedOff(B, '10.0.0.3')).toBe(false)
    trust.failed(B, '10.0.0.3')
    expect(trust.isBackedOff(B, '10.0.0.3')).toBe(true)
    expect(trust.isBackedOff(B, '10.0.0.4')).toBe(false) // per address
    // A failure during the wait (the loop's dial) does not lengthen it.
    now += FIRST_DIAL_BACKOFF_MS - 1
    trust.failed(B, '10.0.0.3')
    expect(trust.isBackedOff(B, '10.0.0.3')).toBe(true)
    now += 1
    expect(trust.isBackedOff(B, '10.0.0.3')).toBe(false)
    // The next failure waits twice as long, and so on up to the cap.
    const waits: number[] = []
    for (let i = 0; i < 10; i++) {
      trust.failed(B, '10.0.0.3')
      const from = now
      while (trust.isBackedOff(B, '10.0.0.3')) now += 1000
      waits.push(now - from)
    }
    expect(waits).toEqual([10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 600_000, 600_000, 600_000, 600_000])
    expect(MAX_DIAL_BACKOFF_MS).toBe(600_000)
    trust.failed(B, '10.0.0.3')
    trust.prove(B, '10.0.0.3')
    expect(trust.isBackedOff(B, '10.0.0.3')).toBe(false)
  })

  it('holds at most 1024 entries: a flood of addresses evicts the oldest', () => {
    const trust = new Trust(() => 0, 600_000)
    for (let i = 0; i < MAX_DIAL_BACKOFFS + 500; i++) trust.failed(B, `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`)
    expect(trust.backoffs).toBe(MAX_DIAL_BACKOFFS)
    expect(trust.isBackedOff(B, '10.0.0.0')).toBe(false)
    expect(trust.isBackedOff(B, '10.0.5.243')).toBe(true) // the last one
  })
})

describe('rowAddresses: what `orbit peers` lists', () => {
  it('a link this device dialled: its host:port first', () => {
    expect(rowAddresses('10.0.0.2:7878', ['10.0.0.9:7878', '10.0.0.2:7878'])).toEqual(['10.0.0.2:7878', '10.0.0.9:7878'])
  })
  it('a link the peer opened: never its bare source address (no port to dial), the endpoints at that address first', () => {
    // The flake of test/discovery/serve-netns.test.ts: B dialled A first, and A listed "10.0.0.2".
    expect(rowAddresses('10.0.0.2', ['10.0.0.9:7000', '10.0.0.2:7878'])).toEqual(['10.0.0.2:7878', '10.0.0.9:7000'])
    expect(rowAddresses('::ffff:10.0.0.2', ['10.0.0.2:7878'])).toEqual(['10.0.0.2:7878'])
    expect(rowAddresses('fe80::2', ['[fe80::2]:7878'])).toEqual(['[fe80::2]:7878'])
    expect(rowAddresses('10.0.0.2', [])).toEqual([])
  })
  it('no live link: what was discovered or remembered, once each', () => {
    expect(rowAddresses(undefined, ['10.0.0.2:7878', '10.0.0.2:7878'])).toEqual(['10.0.0.2:7878'])
  })
})

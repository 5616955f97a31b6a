/**
 * `npm run demo:sync` (scripts/demo-sync.mjs): two devices pair, edit in conflict,
 * sync over LAN and then by QR frames, and end with the same contacts. Needs `npm run build`.
 */
import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'

describe('npm run demo:sync (the live two-device demo)', () => {
  it('pairs, syncs over LAN and by QR, and both devices list the same contacts', () => {
    const r = spawnSync(process.execPath, ['scripts/demo-sync.mjs'], { encoding: 'utf8', timeout: 180_000, env: { ...process.env, ORBIT_LOG_LEVEL: 'silent' } })
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    const listings = r.stdout.split(/\n\[(?:laptop|phone)\] \$ orbit contact list\n/).slice(1).map((block) => block.split('\n\n')[0]!.trim())
    expect(listings.length).toBeGreaterThanOrEqual(3)
    const [laptopFinal, phoneFinal] = listings.slice(-2)
    expect(laptopFinal).toBe(phoneFinal)
    for (const name of ['Ada Lovelace', 'Alan Turing', 'Grace Hopper', 'Katherine Johnson']) expect(laptopFinal).toContain(name)
    expect(r.stdout).toContain('Joined workspace Acme sales')
  }, 200_000)
})

import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'

describe('PROTOCOL.md', () => {
  it('is the current assembly of docs/protocol/*.md', () => {
    const r = spawnSync(process.execPath, ['scripts/build-protocol.mjs', '--check'], { encoding: 'utf8' })
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
  })
})

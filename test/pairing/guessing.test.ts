/**
 * Guessing an invite's secret is bounded on a listening node: refused attempts are answered at
 * most one a second, and after five of them every pending invite is withdrawn, so the real code
 * no longer works either and the user makes a new one.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createOrbitNode, type OrbitNode } from '../../src/apps/node/orbit-node.js'
import { initDevice } from '../../src/apps/node/device.js'
import { joinWorkspace } from '../../src/apps/node/join.js'
import { MAX_FAILED_PAIRINGS, PAIRING_RETRY_DELAY_MS } from '../../src/apps/node/pairing-admission.js'
import { encodeInviteCode, parseInviteCode } from '../../src/core/pairing/index.js'

describe('guessing an invite', () => {
  let root: string
  let node: OrbitNode | undefined
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'orbit-guess-'))
  })
  afterEach(async () => {
    await node?.stop()
    rmSync(root, { recursive: true, force: true })
  })

  it('answers refusals at most one a second and withdraws every invite after five', async () => {
    node = await createOrbitNode({ dataDir: join(root, 'a'), init: { name: 'Alpha' }, listen: { host: '127.0.0.1', port: 0 }, background: false })
    const { code } = await node.createInvite()
    const address = `127.0.0.1:${node.listenAddress!.port}`
    const mallory = join(root, 'm')
    await initDevice(mallory, { name: 'Mallory' })

    const started = Date.now()
    for (let i = 0; i < MAX_FAILED_PAIRINGS; i++) {
      expect(node.pairing.pending()).toBe(1)
      const guess = parseInviteCode(code)
      guess.secret = guess.secret.map((x, j) => (j === 0 ? x ^ (i + 1) : x))
      await expect(joinWorkspace(mallory, encodeInviteCode(guess), { address })).rejects.toMatchObject({ name: 'PairingError', code: 'REFUSED' })
    }
    // Four waits between five refused answers.
    expect(Date.now() - started).toBeGreaterThanOrEqual((MAX_FAILED_PAIRINGS - 1) * PAIRING_RETRY_DELAY_MS - 50)
    expect(node.pairing.pending()).toBe(0)
    await expect(joinWorkspace(mallory, code, { address })).rejects.toMatchObject({ name: 'PairingError', code: 'REFUSED' })
    expect(node.device.workspace.listDevices().map((d) => d.name)).toEqual(['Alpha'])

    // A new invite works again.
    const fresh = await node.createInvite()
    const joined = await joinWorkspace(mallory, fresh.code, { address })
    expect(joined.members.map((m) => m.name).sort()).toEqual(['Alpha', 'Mallory'])
  }, 120_000)
})

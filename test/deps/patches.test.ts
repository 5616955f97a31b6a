import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
// @ts-expect-error: a plain .mjs script, no declarations
import { EDITS, applyEdits, packageDir } from '../../scripts/patch-deps.mjs'

type Edit = { pkg: string; file: string; from: string; to: string }
const edits = EDITS as Edit[]
const root = join(import.meta.dirname, '..', '..')

describe('scripts/patch-deps.mjs', () => {
  it('every edit is in place in the installed dependencies (postinstall ran)', () => {
    // Fails after a dependency upgrade moves a patch point: re-read the upgraded code, then update
    // the edit (or drop it if upstream made the diff lazy).
    expect(() => execFileSync(process.execPath, [join(root, 'scripts/patch-deps.mjs'), '--check'], { stdio: 'pipe' })).not.toThrow()
  })

  it('the automerge-repo this process loads runs the patched code', async () => {
    // The class's own source text, as loaded: proves the module in use is the patched one.
    const { DocHandle } = await import('@automerge/automerge-repo')
    expect(DocHandle.toString()).toContain('this.listenerCount("change") === 0 ? []')
    const sync = readFileSync(join(packageDir('@automerge/automerge-repo', root), 'dist/synchronizer/DocSynchronizer.js'), 'utf8')
    expect(sync).toContain('handle.on("heads-changed", asyncThrottle(')
    expect(sync).not.toContain('handle.on("change", asyncThrottle(')
  })

  it('werift gathers with no STUN server unless one is configured (no public fallback)', async () => {
    const { createPeerConnection } = await import('../../src/adapters/transport-webrtc/peer.js')
    // The ICE agent's STUN target, read where werift keeps it; a configured one shows it is the right place.
    const stunTarget = async (iceServers: { urls: string }[]): Promise<unknown> => {
      const pc = createPeerConnection({ hostAddresses: ['127.0.0.1'], iceServers })
      try {
        pc.createDataChannel('probe')
        await pc.setLocalDescription(await pc.createOffer())
        const transports = (pc as unknown as { iceTransports: { connection: { stunServer?: unknown } }[] }).iceTransports
        expect(transports.length).toBeGreaterThan(0)
        return transports[0]!.connection.stunServer
      } finally {
        await pc.close()
      }
    }
    expect(await stunTarget([])).toBeUndefined()
    expect(await stunTarget([{ urls: 'stun:127.0.0.1:3478' }])).toEqual(['127.0.0.1', 3478])
  })

  it('applies once, leaves applied edits alone, and refuses to guess at a moved patch point', () => {
    const original = edits.map((e) => `before\n${e.from}\nafter`).join('\n')
    const first = applyEdits(original, edits)
    expect(first.results).toEqual(edits.map(() => 'applied'))
    for (const e of edits) expect(first.text).toContain(e.to)
    const again = applyEdits(first.text, edits)
    expect(again).toEqual({ text: first.text, results: edits.map(() => 'already') })
    const moved = applyEdits('nothing to see here', edits)
    expect(moved).toEqual({ text: 'nothing to see here', results: edits.map(() => 'missing') })
    // A patch point that appears twice is ambiguous: left alone.
    const twice = applyEdits(`${edits[0]!.from}\n${edits[0]!.from}`, [edits[0]!])
    expect(twice.results).toEqual(['missing'])
  })
})

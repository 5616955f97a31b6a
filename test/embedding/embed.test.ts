/**
 * The embedding API through the package's `exports` (self-reference: `import ... from 'orbit-sync'`
 * resolves to the built dist/): examples/embed.mjs runs as a child process — two nodes on
 * loopback, pairing, a contact added on one and seen on the other — and an app's typed use of
 * the package type-checks against the built declarations.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

function run(args: string[], timeoutMs = 90_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: 'pipe', env: { ...process.env, ORBIT_LOG_LEVEL: 'silent' } })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s))
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s))
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${args.join(' ')} timed out: ${stdout}\n${stderr}`))
    }, timeoutMs)
    child.once('exit', (code) => {
      clearTimeout(timer)
      resolvePromise({ code, stdout, stderr })
    })
  })
}

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist/src/apps/node/index.js'))) throw new Error('dist/ is missing: run `npm run build` before these tests')
})

describe('embedding orbit-sync', () => {
  it('examples/embed.mjs pairs two nodes, syncs a contact across and stops them', async () => {
    const r = await run(['examples/embed.mjs'])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const lines = r.stdout.trim().split('\n')
    const laptopId = /^laptop: Laptop \(([a-z2-7]{32})\) listening on 127\.0\.0\.1:\d+$/.exec(lines[0]!)?.[1]
    expect(laptopId).toBeDefined()
    expect(lines).toContain('phone: joined workspace "My CRM" of Laptop, members: Laptop, Phone')
    expect(lines.find((l) => l.startsWith('laptop: added Ada Lovelace (ct_'))).toBeDefined()
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^phone: completed local-network session with ${laptopId}, \\d+ documents in sync$`)))
    expect(lines).toContain('phone: sees Ada Lovelace <ada@example.com>')
    expect(lines).toContainEqual(expect.stringMatching(/^laptop: sync store status .*syncing.*; session with the phone over local-network, [1-9]\d* bytes sent$/))
    expect(lines.at(-1)).toBe('stopped')
  })

  it('an app’s typed use of the package type-checks against the built declarations', async () => {
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc')
    const r = await run([tsc, '-p', 'examples/tsconfig.json'])
    expect(r.stdout + r.stderr).toBe('')
    expect(r.code).toBe(0)
  })
})

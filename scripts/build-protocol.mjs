#!/usr/bin/env node
// Assembles PROTOCOL.md from the per-area documents in docs/protocol/, in reading order.
// `node scripts/build-protocol.mjs` writes it; `--check` exits 1 when PROTOCOL.md is stale
// (test/docs/protocol.test.ts runs the check, so the documents and PROTOCOL.md cannot drift).
import { readFileSync, writeFileSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const dir = join(root, 'docs', 'protocol')
// Bottom-up: who you are, how you talk, what you say on each tier, what is stored.
const ORDER = ['identity', 'handshake', 'link', 'lan', 'pairing', 'control', 'http', 'seal', 'qr', 'webrtc', 'mesh', 'blobs', 'storage', 'data-dir']

export function buildProtocol() {
  const present = readdirSync(dir).filter((f) => f.endsWith('.md')).map((f) => f.slice(0, -3))
  const names = [...ORDER.filter((n) => present.includes(n)), ...present.filter((n) => !ORDER.includes(n)).sort()]
  const parts = names.map((name) => {
    const text = readFileSync(join(dir, `${name}.md`), 'utf8').trim()
    // Every heading goes one level down (a document's title becomes a section), outside code fences.
    let fenced = false
    return text
      .split('\n')
      .map((line) => {
        if (line.startsWith('```')) fenced = !fenced
        return !fenced && /^#{1,5} /.test(line) ? `#${line}` : line
      })
      .join('\n')
  })
  const toc = names
    .map((name, i) => {
      const title = parts[i].split('\n')[0].replace(/^## /, '')
      return `- [${title}](docs/protocol/${name}.md)`
    })
    .join('\n')
  return `# Orbit Sync protocol

Every byte Orbit Sync puts on a wire, in a QR code or on disk, versioned. Each section is
maintained next to its code in \`docs/protocol/\` and assembled here by
\`node scripts/build-protocol.mjs\` (a test fails when this file is stale). Notation follows
y-protocols: \`•\` concatenates, integers are unsigned and big-endian unless a section says otherwise.

${toc}

${parts.join('\n\n---\n\n')}
`
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = buildProtocol()
  const target = join(root, 'PROTOCOL.md')
  if (process.argv.includes('--check')) {
    let current = ''
    try {
      current = readFileSync(target, 'utf8')
    } catch {
      // No PROTOCOL.md yet: it is stale by definition.
    }
    if (current !== text) {
      console.error('PROTOCOL.md is stale: run `node scripts/build-protocol.mjs`')
      process.exit(1)
    }
  } else {
    writeFileSync(target, text)
    console.log(`wrote ${target}`)
  }
}

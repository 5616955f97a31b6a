/**
 * Baseline child process for the cold-open bench: a plain `Automerge.load` of one document holding
 * every contact, then the first page by name — what listing costs without our layout and index.
 *
 * Usage: node automerge-list.js FILE LIMIT
 */
import { readFileSync } from 'node:fs'
import * as Automerge from '@automerge/automerge'

interface Doc {
  contacts: Record<string, { id: string; name: string; emails?: string[] }>
}

const [file, limitArg] = process.argv.slice(2)
if (file === undefined) throw new Error('usage: automerge-list FILE LIMIT')
const limit = Number(limitArg ?? 50)
const doc = Automerge.load<Doc>(new Uint8Array(readFileSync(file)))
const page = Object.values(doc.contacts)
  .map((c) => ({ id: c.id, name: c.name, key: c.name.toLowerCase(), email: c.emails?.[0] ?? '' }))
  .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  .slice(0, limit)
process.stdout.write(page.map((c) => `${c.id}  ${c.name}  ${c.email}`).join('\n') + '\n')

/**
 * `orbit blobs`: the images (logos) the workspace references and what this device holds of them;
 * `orbit blobs fetch` fetches the missing ones now; `orbit blobs limit` reads or sets the largest
 * image this device accepts (docs/architecture.md, "Images").
 */
import type { CommandModule } from '../command-module.js'
import { withApi } from '../api.js'
import { bytes, table } from '../format.js'
import type { BlobItem, BlobStatus, NodeBlobFetchResult } from '../../node/api.js'

/** A duration for people: 3 s, 2 min. */
function eta(ms: number | undefined): string {
  if (ms === undefined) return ''
  if (ms < 60_000) return `${Math.max(1, Math.round(ms / 1000))} s`
  return `${Math.round(ms / 60_000)} min`
}

const percent = (item: Pick<BlobItem, 'received' | 'size'>): number => (item.size === undefined || item.size === 0 ? 0 : Math.floor(((item.received ?? 0) * 100) / item.size))

/** Who a transfer comes from, by name when known. */
const fromText = (item: BlobItem): string => (item.fromName !== undefined && item.fromName !== '' ? item.fromName : (item.from ?? '').slice(0, 8))

/** One item's state for people: "present 52.0 KB", "fetching from Phone 40% (3 s left)", "missing: why". */
export function blobStateText(item: BlobItem): string {
  if (item.state === 'present') {
    const image = item.image === undefined ? '' : `${item.image.type.replace(/^image\//, '').toUpperCase()}${item.image.width === undefined ? '' : ` ${item.image.width}×${item.image.height}`}, `
    return `present (${image}${bytes(item.size ?? 0)})`
  }
  if (item.state === 'fetching') {
    const left = eta(item.etaMs)
    return `pending — fetching from ${fromText(item)} (${percent(item)}%${left === '' ? '' : `, ${left} left`})`
  }
  return `missing (${item.reason ?? 'no connected member has it'})`
}

/** `orbit blobs` for people. */
export function renderBlobStatus(s: BlobStatus): string {
  const head = `${s.referenced} image${s.referenced === 1 ? '' : 's'} referenced: ${s.present} here (${bytes(s.bytesPresent)}), ${s.missing} missing. Limit ${bytes(s.maxBytes)} (\`orbit blobs limit\`).`
  const providers = s.live ? `Connected members that can send images: ${s.providers.length === 0 ? 'none' : s.providers.map((p) => p.name || p.deviceId.slice(0, 8)).join(', ')}.` : 'orbit serve is not running here: nothing fetches in the background.'
  if (s.items.length === 0) return `${head}\n${providers}`
  const rows = s.items.map((i) => [i.hash.slice(0, 12), i.state, i.size === undefined ? '' : bytes(i.size), i.usedBy.map((u) => `${u.kind} ${u.name}${u.deleted ? ' (deleted)' : ''}`).join(', '), i.state === 'present' ? '' : blobStateText(i)])
  return `${head}\n${providers}\n\n${table(['HASH', 'STATE', 'SIZE', 'USED BY', 'DETAIL'], rows, 60)}`
}

/** A progress bar line: `[#####.....] 52% 10.0 MB of 19.1 MB, 4 s left`. */
export function progressLine(s: Pick<BlobStatus, 'progress'>, width = 30): string {
  const { bytesDone, bytesTotal, etaMs } = s.progress
  const f = bytesTotal === 0 ? 0 : Math.min(1, bytesDone / bytesTotal)
  const filled = Math.round(f * width)
  const left = eta(etaMs)
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.floor(f * 100)}% ${bytes(bytesDone)} of ${bytes(bytesTotal)}${left === '' ? '' : `, ${left} left`}`
}

/**
 * A size as people type it: `20MB`, `512 KB`, `1.5GB`, `10485760` (binary units, as the default
 * "10 MB" is 10 × 1024 × 1024 bytes).
 */
async function sizeArg(text: string): Promise<number> {
  const { parseSize } = await import('../../node/blobs.js')
  return parseSize(text, 'maxBytes')
}

export const blobsCommands: CommandModule = {
  name: 'blobs',
  register(program, ctx) {
    const blobs = program
      .command('blobs')
      .description('the images (logos) the workspace references: which are here, which are fetching (from whom, how far), which are missing and why')
      .addHelpText(
        'after',
        `
Images travel peer to peer over the same links as the documents (LAN, WebRTC; never in QR
frames): a running \`orbit serve\` fetches every referenced image this device lacks after each sync
and whenever a member comes online, resuming a cut transfer where it stopped. Deleted (restorable)
contacts keep their logo.

--json gives { maxBytes, referenced, present, missing, bytesPresent, live, providers, items, progress }.

Examples:
  $ orbit blobs
  $ orbit blobs --json
  $ orbit blobs fetch           # fetch the missing ones now (needs orbit serve)
  $ orbit blobs limit 20MB      # accept images up to 20 MB (default 10 MB)`,
      )
      .action(
        ctx.action(async (_opts, cmd) => {
          const { dataDir } = ctx.globals(cmd)
          const status = await withApi(dataDir, (api) => api.blobs())
          ctx.emit(cmd, status, () => renderBlobStatus(status))
        }),
      )

    blobs
      .command('fetch')
      .description('fetch now every referenced image this device lacks, from the connected members that have it (through orbit serve)')
      .addHelpText(
        'after',
        `
Shows a progress bar on a terminal (plain lines otherwise), then what came and what did not, each
with why. Exit code 1 when any image could not be fetched.

Examples:
  $ orbit blobs fetch
  $ orbit blobs fetch --json    # { fetched: [hash], failed: [{ hash, code, message }] }`,
      )
      .action(
        ctx.action(async (_opts, cmd) => {
          const { dataDir, json } = ctx.globals(cmd)
          const tty = process.stderr.isTTY === true && !json
          const result = await withApi(dataDir, async (api) => {
            const run = api.fetchBlobs()
            let done = false
            void run.then(
              () => (done = true),
              () => (done = true),
            )
            // Progress while it runs: a redrawn bar on a terminal, a line per second otherwise.
            let lastLine = ''
            let lastAt = 0
            while (!done && !json) {
              await new Promise((r) => setTimeout(r, 250))
              if (done) break
              const s = await api.blobs().catch(() => undefined)
              if (s === undefined || s.progress.bytesTotal === 0) continue
              const line = progressLine(s)
              if (tty) ctx.io.stderr(`\r${line}`)
              else if (line !== lastLine && Date.now() - lastAt >= 1000) {
                ctx.io.stderr(line + '\n')
                lastAt = Date.now()
              }
              lastLine = line
            }
            if (tty && lastLine !== '') ctx.io.stderr('\n')
            return run
          })
          ctx.emit(cmd, result, () => renderFetch(result))
          if (result.failed.length > 0) {
            const { WireError } = await import('../../../core/errors.js')
            throw new WireError(`${result.failed.length} image(s) could not be fetched: ${result.failed[0]!.message}`, { code: result.failed[0]!.code })
          }
        }),
      )

    blobs
      .command('limit')
      .description('the largest image this device accepts and fetches (config blobs.maxBytes, default 10 MB); with SIZE, set it')
      .argument('[size]', 'e.g. 20MB, 512KB, 1GB or a byte count (units are binary: 1 MB = 1024 × 1024 bytes)')
      .addHelpText(
        'after',
        `
The limit applies to \`--logo\` (\`orbit contact add/edit\`, \`orbit org add\`) and to images fetched
from other members: a larger one is refused (TOO_LARGE) and stays missing here. From 1 KB to 4 GB.

Examples:
  $ orbit blobs limit           # prints the limit
  $ orbit blobs limit 20MB
  $ orbit blobs limit 10MB --json   # { "maxBytes": 10485760 }`,
      )
      .action(
        ctx.action<[string | undefined]>(async (size, _opts, cmd) => {
          const { dataDir } = ctx.globals(cmd)
          const maxBytes = size === undefined ? undefined : await sizeArg(size)
          const limit = await withApi(dataDir, (api) => api.blobLimit(maxBytes))
          ctx.emit(cmd, { maxBytes: limit }, () => `${size === undefined ? 'Image limit' : 'Image limit set to'}: ${bytes(limit)} (${limit} bytes)`)
        }),
      )
  },
}

/** What `orbit blobs fetch` prints for people. */
export function renderFetch(r: NodeBlobFetchResult): string {
  if (r.fetched.length === 0 && r.failed.length === 0) return 'No image is missing.'
  return [
    `Fetched ${r.fetched.length} image${r.fetched.length === 1 ? '' : 's'}.`,
    ...r.failed.map((f) => `  not fetched ${f.hash.slice(0, 12)}: ${f.message} (${f.code})`),
  ].join('\n')
}

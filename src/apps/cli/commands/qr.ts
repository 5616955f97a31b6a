/**
 * `orbit qr export` / `orbit qr import`: sync by animated QR codes, with no network at all.
 * Register with `qrCommands` in commands/index.ts.
 */
import type { Command } from 'commander'
import type { CommandModule } from '../command-module.js'
import type { CliContext } from '../context.js'
import { integer } from '../options.js'

interface ExportSummary {
  out: string
  frames: number
  blocks: number
  bundleBytes: number
  recipients: string[]
  documents: number
  pendingBlobs: string[]
}

/** Writes a bundle as frames (and optionally prints them to the terminal). */
async function writeBundleFrames(
  ctx: CliContext,
  cmd: Command,
  out: string,
  bundle: Uint8Array,
  options: { frames?: number; terminal?: boolean },
): Promise<{ frames: number; blocks: number }> {
  const { encodeFrames, DEFAULT_PAYLOAD_SIZE } = await import('../../../core/qr/frame.js')
  const { writeFrameSet, renderQrTerminal } = await import('../../../adapters/qr-image/index.js')
  const frames = encodeFrames(bundle, options.frames === undefined ? {} : { frameCount: options.frames })
  await writeFrameSet(out, frames)
  if (options.terminal === true && !ctx.globals(cmd).json) {
    frames.forEach((f, i) => ctx.io.stdout(`frame ${i + 1} of ${frames.length}\n${renderQrTerminal(f)}\n`))
  }
  return { frames: frames.length, blocks: Math.ceil(bundle.length / DEFAULT_PAYLOAD_SIZE) }
}

async function listFrameFiles(inputs: string[]): Promise<string[]> {
  const { readdir, stat } = await import('node:fs/promises')
  const { join } = await import('node:path')
  const files: string[] = []
  for (const input of inputs) {
    if ((await stat(input)).isDirectory()) {
      const names = (await readdir(input)).filter((n) => n.toLowerCase().endsWith('.png')).sort()
      files.push(...names.map((n) => join(input, n)))
    } else files.push(input)
  }
  return files
}

function describeExport(s: ExportSummary): string {
  const lines = [
    `Wrote ${s.frames} QR frame${s.frames === 1 ? '' : 's'} to ${s.out} (open ${s.out}/index.html to show them full-screen).`,
    `Bundle: ${s.bundleBytes} bytes, ${s.documents} document${s.documents === 1 ? '' : 's'}, for ${s.recipients.join(', ')}.`,
  ]
  if (s.frames > 1) lines.push(`Any ${s.blocks} of the ${s.frames} frames are enough, in any order.`)
  if (s.pendingBlobs.length > 0) lines.push(`${s.pendingBlobs.length} image(s) are not carried by QR; they sync over a live tier.`)
  return lines.join('\n')
}

export const qrCommands: CommandModule = {
  name: 'qr',
  register(program, ctx) {
    const qr = program.command('qr').description('sync by animated QR codes (no network needed)')
    qr.addHelpText('after', '\nRun `orbit qr <command> --help` for a command\'s options.')

    qr.command('export')
      .description('write what another device lacks as QR frames: frame-0001.png, … and index.html')
      .requiredOption('--out <dir>', 'directory to write the frames to')
      .option('--for <device>', 'only this device can read it, and it carries only what that device lacks')
      .option('--frames <n>', 'number of frames (default: enough to survive a quarter lost)', integer(1))
      .option('--terminal', 'also print the frames to the terminal')
      .addHelpText(
        'after',
        `
Examples:
  $ orbit qr export --out ./qr
  $ orbit qr export --out ./qr --for abcd...wxyz --frames 20
  $ orbit qr export --out ./qr --terminal`,
      )
      .action(
        ctx.action(async (opts, cmd) => {
          const { dataDir } = ctx.globals(cmd)
          const { resolve } = await import('node:path')
          const out = resolve(ctx.io.cwd, String(opts.out))
          // Through the running `orbit serve` when there is one (it holds the store), else in-process.
          const { withApi } = await import('../api.js')
          const result = await withApi(dataDir, (api) => api.qrExport(opts.for === undefined ? {} : { forDevice: String(opts.for) }))
          const written = await writeBundleFrames(ctx, cmd, out, result.bundle, {
            ...(opts.frames === undefined ? {} : { frames: opts.frames as number }),
            terminal: opts.terminal === true,
          })
          const summary: ExportSummary = {
            out,
            frames: written.frames,
            blocks: written.blocks,
            bundleBytes: result.bundle.length,
            recipients: result.recipients,
            documents: result.documents,
            pendingBlobs: result.pendingBlobs,
          }
          ctx.emit(cmd, summary, () => describeExport(summary))
        }),
      )

    qr.command('import')
      .description('read QR frames (PNG files or a directory of them), apply them, and optionally write the reply')
      .argument('<files...>', 'PNG files and/or directories holding frame-*.png')
      .option('--reply <dir>', 'write the reply frames (what the sender lacks) to this directory')
      .option('--frames <n>', 'number of reply frames (default: enough to survive a quarter lost)', integer(1))
      .addHelpText(
        'after',
        `
Examples:
  $ orbit qr import ./qr --reply ./qr-reply
  $ orbit qr import frame-0001.png frame-0003.png --json

After \`orbit pair join invite.png --offline\`, the first import from the inviter completes the join:
this device takes over the inviter's workspace.`,
      )
      .action(
        ctx.action<[string[]]>(async (inputs, opts, cmd) => {
          const { dataDir, json } = ctx.globals(cmd)
          const { readFile } = await import('node:fs/promises')
          const { basename, resolve } = await import('node:path')
          const { QrError } = await import('../../../core/errors.js')
          const { FrameDecoder, parseFrame } = await import('../../../core/qr/frame.js')
          const { decodeQrPng } = await import('../../../adapters/qr-image/index.js')
          const files = await listFrameFiles(inputs.map((i) => resolve(ctx.io.cwd, i)))
          // One decoder per bundle: a directory may hold frames of an older export too; whichever
          // bundle completes first is the one applied.
          const decoders = new Map<string, InstanceType<typeof FrameDecoder>>()
          const skipped: Array<{ file: string; reason: string }> = []
          let bundle: Uint8Array | undefined
          let used = 0
          for (const file of files) {
            try {
              const bytes = decodeQrPng(await readFile(file))
              const id = parseFrame(bytes).bundleId
              let decoder = decoders.get(id)
              if (decoder === undefined) decoders.set(id, (decoder = new FrameDecoder({ bundleId: id })))
              const r = decoder.push(bytes)
              used++
              if (!json) ctx.io.stderr(`${basename(file)}: ${r.status} — ${r.received} of ≈${r.needed} frames\n`)
              if (r.status === 'complete') {
                bundle = decoder.result()
                break
              }
            } catch (error) {
              if (!(error instanceof QrError)) throw error
              skipped.push({ file, reason: error.message })
              if (!json) ctx.io.stderr(`${basename(file)}: skipped (${error.message})\n`)
            }
          }
          if (bundle === undefined) {
            const best = [...decoders.values()].map((d) => d.progress).sort((a, b) => b.received / b.needed - a.received / a.needed)[0]
            throw new QrError(
              best === undefined
                ? 'no Orbit QR frame found in the given images'
                : `only ${best.received} of ≈${best.needed} frames could be read: add more frames (any of them, in any order)`,
              { code: 'QR_INCOMPLETE' },
            )
          }
          const reply = opts.reply === undefined ? undefined : resolve(ctx.io.cwd, String(opts.reply))
          const { withApi } = await import('../api.js')
          const { imported, replyBundle } = await withApi(dataDir, (api) => api.qrImport(bundle, { reply: reply !== undefined }))
          let replyFrames: number | undefined
          if (reply !== undefined && replyBundle !== undefined) {
            replyFrames = (
              await writeBundleFrames(ctx, cmd, reply, replyBundle, opts.frames === undefined ? {} : { frames: opts.frames as number })
            ).frames
          }
          const summary = { ...imported, framesRead: used, skipped, ...(reply === undefined ? {} : { reply, replyFrames }) }
          ctx.emit(cmd, summary, () => {
            const lines = [
              imported.status === 'applied'
                ? `Applied changes from ${imported.senderId}: the bundle's ${imported.documents} document${imported.documents === 1 ? '' : 's'}, ` +
                  `${imported.changedDocuments === imported.documents ? 'all' : imported.changedDocuments} changed here` +
                  (imported.changedDocuments === imported.documents ? '.' : ` (this device already had the other ${imported.documents - imported.changedDocuments}).`)
                : `Nothing new from ${imported.senderId}: this device already had all of the bundle's ${imported.documents} document${imported.documents === 1 ? '' : 's'}.`,
            ]
            if (imported.pendingBlobs.length > 0) {
              lines.push(`${imported.pendingBlobs.length} image(s) are pending: they arrive with the next LAN or WebRTC sync.`)
            }
            if (reply !== undefined) lines.push(`Wrote ${replyFrames} reply frame(s) to ${reply}: show them to ${imported.senderId} (orbit qr import).`)
            return lines.join('\n')
          })
        }),
      )
  },
}

/**
 * Builds the web UI (src/apps/web, docs/ui.md) into dist/web, which `orbit serve` serves.
 * JSX goes through Vite's built-in transform (oxc) with the automatic runtime: no React plugin.
 *
 * The entry (main.ts) is small: it paints the contacts list from the boot data and then imports
 * start.tsx (React and the screens). `preloadStart` puts that chunk (and the chunks it imports) in
 * the page's head as `<link rel="modulepreload">`, so the browser fetches and compiles it while the
 * entry paints instead of after.
 */
import { defineConfig, type Plugin } from 'vite'

function preloadStart(): Plugin {
  return {
    name: 'orbit-preload-start',
    transformIndexHtml: {
      order: 'post',
      handler(html, ctx) {
        const bundle = ctx.bundle
        if (bundle === undefined) return html
        const chunks = Object.values(bundle).flatMap((c) => (c.type === 'chunk' ? [c] : []))
        const start = chunks.find((c) => c.facadeModuleId?.endsWith('/start.tsx') === true)
        if (start === undefined) throw new Error('vite.config.ts: no start.tsx chunk to preload')
        const entries = new Set(chunks.filter((c) => c.isEntry).map((c) => c.fileName))
        const files = [start.fileName, ...start.imports].filter((f) => !entries.has(f))
        return files.map((f) => ({ tag: 'link', attrs: { rel: 'modulepreload', crossorigin: true, href: `./${f}` }, injectTo: 'head' as const }))
      },
    },
  }
}

export default defineConfig({
  root: 'src/apps/web',
  base: './',
  oxc: { jsx: { runtime: 'automatic' } },
  plugins: [preloadStart()],
  build: {
    outDir: '../../../dist/web',
    emptyOutDir: true,
    target: 'es2022',
    // Chromium (and every browser the page targets) has modulepreload: no polyfill in the entry.
    modulePreload: { polyfill: false },
    reportCompressedSize: true,
    chunkSizeWarningLimit: 800,
  },
})

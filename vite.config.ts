/**
 * Builds the web UI (src/apps/web, docs/ui.md) into dist/web, which `orbit serve` serves.
 * JSX goes through Vite's built-in transform (oxc) with the automatic runtime: no React plugin.
 *
 * The entry (main.ts) is small: it paints the contacts list from the boot data and then imports
 * start.tsx (React and the screens). `preloadStart` names that chunk (and the chunks it imports) in
 * a `<meta name="orbit-start">` of the page's head; the entry adds a `<link rel="modulepreload">`
 * for each once it has drawn, so the browser fetches and compiles React while that paint waits.
 */
import { defineConfig, type Plugin } from 'vite'

/** The meta element naming the chunks to preload (src/apps/web/main.ts reads it). */
const START_META = 'orbit-start'

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
        // Named in a meta element, not preloaded by the document: the entry asks for them once it has
        // drawn (main.ts), so their fetch and compile do not compete with the first paint.
        return [{ tag: 'meta', attrs: { name: START_META, content: files.map((f) => `./${f}`).join(' ') }, injectTo: 'head' as const }]
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

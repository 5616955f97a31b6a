/**
 * Builds the web UI (src/apps/web, docs/ui.md) into dist/web, which `orbit serve` serves.
 * JSX goes through Vite's built-in transform (oxc) with the automatic runtime: no React plugin.
 */
import { defineConfig } from 'vite'

export default defineConfig({
  root: 'src/apps/web',
  base: './',
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: '../../../dist/web',
    emptyOutDir: true,
    target: 'es2022',
    reportCompressedSize: true,
    chunkSizeWarningLimit: 800,
  },
})

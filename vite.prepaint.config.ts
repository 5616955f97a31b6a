/**
 * Builds the pre-React paint (src/apps/web/prepaint-inline.ts) as one classic script,
 * `dist/web/assets/prepaint-inline.js`, after vite.config.ts built the page (docs/ui.md, "Build"):
 * the daemon inlines it into the page it serves, so it can have no imports.
 */
import { defineConfig } from 'vite'

export default defineConfig({
  root: 'src/apps/web',
  build: {
    outDir: '../../../dist/web/assets',
    emptyOutDir: false,
    target: 'es2022',
    copyPublicDir: false,
    lib: { entry: 'prepaint-inline.ts', formats: ['iife'], name: 'orbitPrepaint', fileName: () => 'prepaint-inline.js' },
    reportCompressedSize: true,
  },
})

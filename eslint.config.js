// @ts-check
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'web/dist/**', 'coverage/**', '**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'warn',
    },
  },
  {
    // The platform boundary (docs/architecture.md, "Layers"): core runs in browsers and React Native too.
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          // Exact module names (patterns are gitignore-style and would also match core's own ./crypto).
          paths: ['fs', 'path', 'net', 'os', 'crypto', 'child_process', 'dgram', 'http', 'https', 'stream', 'events', 'url', 'util', 'zlib', 'worker_threads', 'buffer', 'better-sqlite3', 'multicast-dns', 'werift', 'pngjs', 'qrcode', 'jsqr', 'pino', 'commander'].map((name) => ({
            name,
            message: 'core is platform-free: no Node built-ins or Node-only packages (put it in an adapter).',
          })),
          patterns: [
            { group: ['node:*'], message: 'core is platform-free: no node:* imports (put it in an adapter).' },
            { group: ['**/adapters/**', '**/apps/**'], message: 'core must not depend on adapters or apps.' },
          ],
        },
      ],
      'no-restricted-globals': ['error', { name: 'Buffer', message: 'core is platform-free: use Uint8Array.' }, { name: 'process', message: 'core is platform-free.' }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: {
      globals: Object.fromEntries(
        ['process', 'console', 'URL', 'Buffer', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'performance', 'TextEncoder', 'TextDecoder', 'AbortController', 'AbortSignal', 'structuredClone', 'queueMicrotask'].map((name) => [name, 'readonly']),
      ),
    },
  },
)

// Prints vitest's JSON result as one plain closing line: "Tests: N passed, N failed, N skipped".
import { readFileSync } from 'node:fs'

const file = process.argv[2] ?? 'test-results/vitest.json'
let result
try {
  result = JSON.parse(readFileSync(file, 'utf8'))
} catch (error) {
  console.log(`Tests: 0 passed, 1 failed (no vitest result at ${file}: ${error.message})`)
  process.exit(1)
}
const passed = result.numPassedTests ?? 0
const failed = result.numFailedTests ?? 0
const skipped = (result.numPendingTests ?? 0) + (result.numTodoTests ?? 0)
const brokenSuites = (result.testResults ?? []).filter((s) => s.status === 'failed' && (s.assertionResults ?? []).length === 0).length
console.log(`Tests: ${passed} passed, ${failed + brokenSuites} failed, ${skipped} skipped`)

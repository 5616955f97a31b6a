/** Plain-text rendering for people: tables and key/value blocks. */

/** Left-aligned columns; cells are cut at `max` characters. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[], max = 40): string {
  const cut = (s: string) => (s.length > max ? s.slice(0, max - 1) + '…' : s)
  const cells = [headers, ...rows].map((r) => r.map((c) => cut(c.replace(/\s+/g, ' '))))
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)))
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd()).join('\n')
}

/** `key: value` lines with aligned values; undefined values are skipped. */
export function fields(pairs: readonly (readonly [string, string | undefined])[]): string {
  const shown = pairs.filter((p): p is readonly [string, string] => p[1] !== undefined)
  const width = Math.max(0, ...shown.map(([k]) => k.length))
  return shown.map(([k, v]) => `${(k + ':').padEnd(width + 1)} ${v}`).join('\n')
}

/** An ISO date-time (UTC, to the second) for a timestamp. */
export const when = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')

/** A byte count for people: 1.4 MB. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`
  return `${(n / (1024 * 1024)).toFixed(1)} MB`
}

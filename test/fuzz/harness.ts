/**
 * The fuzz harness (docs/fuzzing.md): one small seeded, structure-aware mutator and a runner that
 * checks the one rule every decoder of the product keeps — an input ends in a value or a typed
 * `OrbitError`, never a TypeError/RangeError, an unhandled rejection or a hang.
 *
 * Inputs start from valid encodings (made by the project's own encoders) and are mutated: bit
 * flips, byte sets, truncation, extension, slices cut/duplicated, length fields edited, CBOR
 * major types swapped, huge lengths spliced in; a share are random bytes. Everything derives from
 * one seed: input `i` of target `T` is `mutate(new Prng(scenarioSeed(seed ^ hash(T), i)))`, so a
 * failure printed as `seed S input i` is replayed with `ORBIT_FUZZ_SEED=S ORBIT_FUZZ_TARGET=T`.
 *
 * Budget: each target runs `inputs` inputs in CI (a count, so a run is reproducible), stopping
 * early at `ciMs` wall time on a slow machine (the count reached is reported). `npm run fuzz --
 * --minutes N` (scripts/fuzz.mjs) sets `ORBIT_FUZZ_MS` and the runner then goes by time alone.
 */
import { concatBytes } from '../../src/core/crypto/bytes.js'
import { OrbitError } from '../../src/core/errors.js'
import { Prng, scenarioSeed } from '../helpers/prng.js'

/** The run's base seed: `ORBIT_FUZZ_SEED`, else a fixed one (CI is reproducible). */
export const FUZZ_SEED = process.env.ORBIT_FUZZ_SEED === undefined ? 0x0f022 : Number(process.env.ORBIT_FUZZ_SEED) >>> 0
/** Long-run wall time per target (ms), from scripts/fuzz.mjs; undefined in CI. */
export const FUZZ_MS = process.env.ORBIT_FUZZ_MS === undefined ? undefined : Number(process.env.ORBIT_FUZZ_MS)
/** Only this target runs its inputs (`--target NAME`); the others run none. */
export const FUZZ_TARGET = process.env.ORBIT_FUZZ_TARGET
/** Test timeout for a fuzz `it` (some run two targets): twice the long run's time plus slack, else the CI bound. */
export const FUZZ_TEST_TIMEOUT = FUZZ_MS === undefined ? 60_000 : 2 * FUZZ_MS + 120_000

/** What one target does with one input. `run` returns (or resolves) on success and throws on refusal. */
export interface FuzzTarget<I = Uint8Array> {
  name: string
  /** Valid inputs to mutate (made by the project's encoders). */
  seeds: readonly I[]
  /** Makes input `i` from its own PRNG (default: {@link mutateBytes} of a seed, for byte targets). */
  generate?: (prng: Prng, seeds: readonly I[]) => I
  run(input: I): unknown
  /** Inputs in CI. */
  inputs: number
  /** CI wall-time cap for the target (ms); the count reached is reported. Default 3000 (the folder's ≤ 90 s: docs/fuzzing.md). */
  ciMs?: number
  /** Bound on one input (ms): past it the input counts as a hang. Default 5000. */
  perInputMs?: number
  /** Extra check on an accepted value (e.g. "nothing written"); throw to fail. */
  check?: (input: I, value: unknown) => void | Promise<void>
}

/** What a run did: counts by outcome, for the report and for assertions that the fuzzing reached past the first check. */
export interface FuzzReport {
  target: string
  seed: number
  inputs: number
  accepted: number
  /** Typed refusals by `name/code`. */
  refusals: Map<string, number>
  wallMs: number
  slowestMs: number
}

/** Stable 32-bit hash of a name (to give each target its own stream from one seed). */
function nameHash(name: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0
  return h
}

const hex = (b: Uint8Array, max = 512): string => Buffer.from(b.subarray(0, max)).toString('hex') + (b.length > max ? `…(${b.length} bytes)` : '')

function show(input: unknown): string {
  if (input instanceof Uint8Array) return hex(input)
  if (typeof input === 'string') return JSON.stringify(input.length > 600 ? input.slice(0, 600) + '…' : input)
  try {
    return JSON.stringify(input, (_k, v: unknown) => (v instanceof Uint8Array ? hex(v, 64) : v))?.slice(0, 800) ?? String(input)
  } catch {
    return String(input)
  }
}

/** The failure of one input: everything needed to replay it. */
export class FuzzFailure extends Error {
  constructor(target: string, seed: number, index: number, input: unknown, why: string, cause?: unknown) {
    super(`fuzz target ${target}: input ${index} of seed ${seed} ${why}\n  replay: ORBIT_FUZZ_SEED=${seed} ORBIT_FUZZ_TARGET=${target} npx vitest run test/fuzz\n  input: ${show(input)}`, { cause })
    this.name = 'FuzzFailure'
  }
}

const HANG = Symbol('hang')

/** Runs one target's budget; throws {@link FuzzFailure} on the first input that breaks the rule. */
export async function fuzz<I>(target: FuzzTarget<I>, seed = FUZZ_SEED): Promise<FuzzReport> {
  const report: FuzzReport = { target: target.name, seed, inputs: 0, accepted: 0, refusals: new Map(), wallMs: 0, slowestMs: 0 }
  if (FUZZ_TARGET !== undefined && FUZZ_TARGET !== target.name) return report
  const generate = target.generate ?? ((prng: Prng, seeds: readonly I[]) => mutateBytes(prng, seeds as unknown as readonly Uint8Array[]) as unknown as I)
  const streamSeed = (seed ^ nameHash(target.name)) >>> 0
  const perInput = target.perInputMs ?? 5000
  const budgetMs = FUZZ_MS ?? target.ciMs ?? 3000
  const maxInputs = FUZZ_MS === undefined ? target.inputs : Number.MAX_SAFE_INTEGER
  // An unhandled rejection during the run is this target's failure, not a stray one later.
  let unhandled: unknown
  const onUnhandled = (reason: unknown): void => {
    unhandled ??= reason
  }
  process.on('unhandledRejection', onUnhandled)
  // An exception thrown from a microtask or timer the input set off (e.g. a handler on a pipe).
  process.on('uncaughtException', onUnhandled)
  const start = performance.now()
  try {
    for (let i = 0; i < maxInputs && performance.now() - start < budgetMs; i++) {
      const input = generate(new Prng(scenarioSeed(streamSeed, i)), target.seeds)
      const t0 = performance.now()
      let value: unknown
      let error: unknown
      let failed = false
      try {
        const out = target.run(input)
        if (out instanceof Promise) {
          let timer: NodeJS.Timeout | undefined
          value = await Promise.race([out, new Promise((resolve) => (timer = setTimeout(() => resolve(HANG), perInput)))]).finally(() => clearTimeout(timer))
        } else value = out
      } catch (e) {
        failed = true
        error = e
      }
      const ms = performance.now() - t0
      report.slowestMs = Math.max(report.slowestMs, ms)
      report.inputs++
      if (value === HANG) throw new FuzzFailure(target.name, seed, i, input, `did not settle within ${perInput} ms`)
      // A synchronous decoder cannot be interrupted; one that took past the bound is a hang all the same.
      if (ms > perInput) throw new FuzzFailure(target.name, seed, i, input, `took ${Math.round(ms)} ms (bound ${perInput} ms)`)
      if (failed) {
        if (!(error instanceof OrbitError)) throw new FuzzFailure(target.name, seed, i, input, `threw ${(error as Error)?.name ?? typeof error}: ${(error as Error)?.message ?? String(error)}`, error)
        const field = (error as { field?: unknown }).field
        const key = `${error.name}/${error.code}${typeof field === 'string' ? `(${field.replace(/\..*/u, '')})` : ''}`
        report.refusals.set(key, (report.refusals.get(key) ?? 0) + 1)
      } else {
        report.accepted++
        try {
          await target.check?.(input, value)
        } catch (e) {
          throw new FuzzFailure(target.name, seed, i, input, `was accepted but ${(e as Error).message}`, e)
        }
      }
      if (unhandled !== undefined) throw new FuzzFailure(target.name, seed, i, input, `left an unhandled rejection or exception: ${String(unhandled)}`, unhandled)
    }
  } finally {
    process.off('unhandledRejection', onUnhandled)
    process.off('uncaughtException', onUnhandled)
    report.wallMs = Math.round(performance.now() - start)
  }
  const refusals = [...report.refusals].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}×${n}`).join(' ')
  console.log(`fuzz ${target.name}: ${report.inputs} inputs in ${report.wallMs} ms (seed ${seed}, slowest ${Math.round(report.slowestMs)} ms), ${report.accepted} accepted; refusals ${refusals || 'none'}`)
  return report
}

// ---- mutation ------------------------------------------------------------------------------------

/** CBOR heads that announce a huge length: byte string, text, array, map with 4- and 8-byte lengths. */
const HUGE_CBOR_HEADS = [
  [0x5a, 0xff, 0xff, 0xff, 0xff],
  [0x7a, 0x7f, 0xff, 0xff, 0xff],
  [0x9a, 0xff, 0xff, 0xff, 0xf0],
  [0xba, 0x10, 0x00, 0x00, 0x00],
  [0x5b, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
  [0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
  [0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
  [0xfb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0], // NaN
  [0xfb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0], // Infinity
  [0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // -2^64
  [0xc1, 0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // a huge epoch date
  [0xd8, 0x40, 0x43, 1, 2, 3], // tag 64: a typed array
  [0xd9, 0xd9, 0xf7], // self-described CBOR
  [0x9f, 0x9f, 0x9f, 0x9f], // nested indefinite arrays, never closed
  [0xa1, 0x69, 0x5f, 0x5f, 0x70, 0x72, 0x6f, 0x74, 0x6f, 0x5f, 0x5f, 0xa0], // {"__proto__": {}}
  [0xf7], // undefined
  [0xf6], // null
]
/** Interesting 32-bit big-endian lengths for binary formats. */
const EDGE_LENGTHS = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff]

/** One mutation of `bytes` (a copy); `mutateBytes` applies one to four. */
export function mutateOnce(prng: Prng, bytes: Uint8Array): Uint8Array {
  const b = Uint8Array.from(bytes)
  const at = (): number => (b.length === 0 ? 0 : prng.int(0, b.length - 1))
  switch (prng.int(0, 10)) {
    case 0: {
      // bit flips
      for (let n = prng.int(1, 4); n > 0 && b.length > 0; n--) {
        const i = at()
        b[i] = b[i]! ^ (1 << prng.int(0, 7))
      }
      return b
    }
    case 1: {
      // bytes set to edge values
      for (let n = prng.int(1, 3); n > 0 && b.length > 0; n--) b[at()] = prng.pick([0, 1, 0x7f, 0x80, 0xff, prng.int(0, 255)])
      return b
    }
    case 2:
      return b.subarray(0, prng.int(0, b.length)) // truncation
    case 3: {
      // extension with random bytes or repeats of the tail
      const extra = new Uint8Array(prng.chance(0.1) ? prng.int(256, 4096) : prng.int(1, 32))
      for (let i = 0; i < extra.length; i++) extra[i] = prng.chance(0.5) ? prng.int(0, 255) : (b[b.length - 1 - (i % Math.max(1, b.length))] ?? 0)
      return concatBytes(b, extra)
    }
    case 4: {
      // cut a slice out
      const i = at()
      return concatBytes(b.subarray(0, i), b.subarray(Math.min(b.length, i + prng.int(1, 16))))
    }
    case 5: {
      // duplicate a slice
      const i = at()
      const j = Math.min(b.length, i + prng.int(1, 32))
      return concatBytes(b.subarray(0, j), b.subarray(i, j), b.subarray(j))
    }
    case 6: {
      // a length field: a 32-bit (or 16-bit, or 8-bit) big-endian value at a random place
      if (b.length === 0) return b
      const i = at()
      const v = prng.pick(EDGE_LENGTHS) + (prng.chance(0.3) ? prng.int(-2, 2) : 0)
      const width = prng.pick([1, 2, 4])
      for (let k = 0; k < width && i + k < b.length; k++) b[i + k] = (v >>> (8 * (width - 1 - k))) & 0xff
      return b
    }
    case 7: {
      // CBOR major type swap: keep the additional info, change the major type of one head
      if (b.length === 0) return b
      const i = at()
      b[i] = (prng.int(0, 7) << 5) | (b[i]! & 0x1f)
      return b
    }
    case 8: {
      // a huge or odd CBOR head spliced in (replacing a few bytes or inserted)
      const head = Uint8Array.from(prng.pick(HUGE_CBOR_HEADS))
      const i = at()
      return concatBytes(b.subarray(0, i), head, b.subarray(Math.min(b.length, i + (prng.chance(0.5) ? prng.int(0, 9) : 0))))
    }
    case 9: {
      // swap two bytes
      if (b.length < 2) return b
      const i = at()
      const j = at()
      const t = b[i]!
      b[i] = b[j]!
      b[j] = t
      return b
    }
    default: {
      // a run of one byte (long strings, zero fill)
      const i = at()
      const run = new Uint8Array(prng.int(1, 64)).fill(prng.pick([0, 0xff, 0x41, prng.int(0, 255)]))
      return concatBytes(b.subarray(0, i), run, b.subarray(i))
    }
  }
}

/** Random bytes of a random (mostly small) length. */
export function randomBytes(prng: Prng, max = 512): Uint8Array {
  const out = new Uint8Array(prng.chance(0.8) ? prng.int(0, 64) : prng.int(0, max))
  for (let i = 0; i < out.length; i++) out[i] = prng.int(0, 255)
  return out
}

/** The default generator: a seed with one to four mutations (90%), or random bytes (10%); now and then a seed as is. */
export function mutateBytes(prng: Prng, seeds: readonly Uint8Array[]): Uint8Array {
  if (seeds.length === 0 || prng.chance(0.1)) return randomBytes(prng)
  let b = prng.pick(seeds)
  if (prng.chance(0.02)) return b
  for (let n = prng.int(1, 4); n > 0; n--) b = mutateOnce(prng, b)
  return b
}

/** A text input: a UTF-8 seed mutated as bytes, then decoded leniently (lone bytes become U+FFFD). */
export function mutateText(prng: Prng, seeds: readonly string[]): string {
  const bytes = mutateBytes(prng, seeds.map((s) => new TextEncoder().encode(s)))
  let text = new TextDecoder().decode(bytes)
  // Characters a byte flip rarely makes: separators, quotes, controls, surrogates, long runs.
  if (prng.chance(0.3)) {
    const piece = prng.pick(['"', '""', ',', ';', ':', '\r\n', '\n ', '\\', '\\n', '=', '\u0000', '\ud800', '\u2028', 'BEGIN:VCARD\r\n', 'END:VCARD\r\n', 'ENCODING=b:', ';ENCODING=QUOTED-PRINTABLE:=', 'x'.repeat(prng.int(100, 5000))])
    const i = prng.int(0, text.length)
    text = text.slice(0, i) + piece + text.slice(i)
  }
  return text
}


/** The shape every bench module follows, so `npm run bench` can run and print them all. */

/** One bar checked against a measured value. */
export interface BarCheck {
  metric: string
  value: number
  unit: string
  /** The bar, e.g. `≤ 0.5`. */
  bar: string
  pass: boolean
}

export type BenchValues = Record<string, number | string>

export interface BenchOutcome {
  values: BenchValues
  bars?: BarCheck[]
}

/**
 * A bench module. `run` measures its subject and its baseline side by side in the same run and
 * returns flat values (and, optionally, bar checks). Progress goes through `progress`.
 */
export interface BenchModule {
  readonly name: string
  run(progress: (message: string) => void): Promise<BenchValues | BenchOutcome>
}

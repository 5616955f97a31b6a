/**
 * A minimal typed listener registry. Core cannot import `node:events`, and a port's events are few
 * and fixed, so a map of sets is all it takes.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Listener = (...args: any[]) => void

export class Listeners<Events extends { [K in keyof Events]: Listener }> {
  readonly #sets = new Map<keyof Events, Set<Listener>>()

  /** Adds a listener; returns the function that removes it. */
  on<E extends keyof Events>(event: E, listener: Events[E]): () => void {
    let set = this.#sets.get(event)
    if (set === undefined) this.#sets.set(event, (set = new Set()))
    set.add(listener)
    return () => set.delete(listener)
  }

  /**
   * Calls every listener of `event`. A throwing listener does not stop the others or the caller:
   * its error goes to `onListenerError`.
   */
  emit<E extends keyof Events>(event: E, args: Parameters<Events[E]>, onListenerError?: (error: unknown) => void): void {
    const set = this.#sets.get(event)
    if (set === undefined) return
    for (const listener of [...set]) {
      try {
        listener(...args)
      } catch (error) {
        onListenerError?.(error)
      }
    }
  }

  clear(): void {
    this.#sets.clear()
  }
}

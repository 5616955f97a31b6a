/**
 * The `events` stream of the web UI's API (docs/protocol/http.md, "Events"): Server-Sent Events
 * pushed from the node's sync store and workspace, never polled. `state` on connect and on every
 * store change, coalesced to at most one per {@link EVENT_INTERVAL_MS}; `contacts` (data `{}`) when
 * the contact or organization listing changed, coalesced the same way; a comment ping every
 * {@link PING_INTERVAL_MS} so proxies and the browser keep the connection.
 */
import type { ServerResponse } from 'node:http'

/** At most one `state` (and one `contacts`) event per this many milliseconds (≤ 10/s). */
export const EVENT_INTERVAL_MS = 100
/** How often a comment line keeps an idle stream open. */
export const PING_INTERVAL_MS = 15_000

/** What the hub needs of the running node: a snapshot of the state, and change subscriptions. */
export interface EventSource {
  /** The `state` event's data, now. */
  state(): Promise<unknown>
  /** Calls `listener` on every sync store change; returns the unsubscribe function. */
  onState(listener: () => void): () => void
  /** Calls `listener` when the contact or organization listing changed; returns the unsubscribe function. */
  onContacts(listener: () => void): () => void
}

/** One coalescing timer: `kick` runs `fn` at most once per interval, trailing edge included. */
function coalesce(fn: () => void, intervalMs: number): { kick(): void; cancel(): void } {
  let timer: NodeJS.Timeout | undefined
  let last = 0
  let pending = false
  const run = (): void => {
    timer = undefined
    pending = false
    last = Date.now()
    fn()
  }
  return {
    kick() {
      if (pending) return
      pending = true
      timer = setTimeout(run, Math.max(0, last + intervalMs - Date.now()))
    },
    cancel() {
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      pending = false
    },
  }
}

/** Every open `events` stream, fed from one source (re-attached when the daemon restarts its node). */
export class EventHub {
  readonly #clients = new Set<ServerResponse>()
  #source: EventSource | undefined
  #off: Array<() => void> = []
  readonly #state = coalesce(() => void this.#sendState(), EVENT_INTERVAL_MS)
  readonly #contacts = coalesce(() => this.#broadcast('contacts', '{}'), EVENT_INTERVAL_MS)
  readonly #ping: NodeJS.Timeout

  constructor(pingIntervalMs: number = PING_INTERVAL_MS) {
    this.#ping = setInterval(() => {
      for (const c of this.#clients) c.write(': ping\n\n')
    }, pingIntervalMs)
    this.#ping.unref()
  }

  /** How many streams are open. */
  get size(): number {
    return this.#clients.size
  }

  /** Follows `source` from now on (undefined: none, while the node restarts); open streams get its state and a `contacts`. */
  attach(source: EventSource | undefined): void {
    for (const f of this.#off.splice(0)) f()
    this.#source = source
    if (source === undefined) return
    this.#off.push(source.onState(() => this.#state.kick()))
    this.#off.push(source.onContacts(() => this.#contacts.kick()))
    if (this.#clients.size > 0) {
      this.#state.kick()
      this.#contacts.kick()
    }
  }

  /** Takes over `res` as an event stream: headers, the current state, then every change until it closes. */
  open(res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    })
    res.write('retry: 2000\n\n')
    this.#clients.add(res)
    res.on('close', () => this.#clients.delete(res))
    void this.#stateTo([res])
  }

  /** Ends every stream and stops following the source. */
  close(): void {
    this.attach(undefined)
    this.#state.cancel()
    this.#contacts.cancel()
    clearInterval(this.#ping)
    for (const c of this.#clients) c.end()
    this.#clients.clear()
  }

  async #sendState(): Promise<void> {
    await this.#stateTo([...this.#clients])
  }

  async #stateTo(clients: ServerResponse[]): Promise<void> {
    const source = this.#source
    if (source === undefined || clients.length === 0) return
    let data: string
    try {
      data = JSON.stringify(await source.state())
    } catch {
      return
    }
    for (const c of clients) if (this.#clients.has(c)) c.write(`event: state\ndata: ${data}\n\n`)
  }

  #broadcast(event: string, data: string): void {
    for (const c of this.#clients) c.write(`event: ${event}\ndata: ${data}\n\n`)
  }
}

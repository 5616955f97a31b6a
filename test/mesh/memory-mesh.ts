/**
 * An in-memory network of signal ports for mesh tests: devices and the links between them, each
 * `signal` delivered on a later microtask with the sender's id as the link-authenticated one. A
 * link can be told to drop or hold what crosses it (a relay that drops or delays messages).
 */
import type { DeviceId } from '../../src/core/ids.js'
import type { Signal } from '../../src/core/link/envelope.js'
import type { SignalPort } from '../../src/core/link/link-adapter.js'

export class MemoryMesh {
  readonly #ports = new Map<DeviceId, MemoryPort>()
  readonly #links = new Set<string>()
  /** Per directed link `from>to`: 'drop' loses, 'hold' keeps what crosses it (see {@link release}). */
  readonly faults = new Map<string, 'drop' | 'hold'>()
  readonly held: Array<() => void> = []

  port(id: DeviceId): MemoryPort {
    let p = this.#ports.get(id)
    if (p === undefined) {
      p = new MemoryPort(id, this)
      this.#ports.set(id, p)
    }
    return p
  }

  link(x: DeviceId, y: DeviceId): void {
    this.#links.add(key(x, y))
    this.port(x).changed()
    this.port(y).changed()
  }

  unlink(x: DeviceId, y: DeviceId): void {
    this.#links.delete(key(x, y))
    this.port(x).changed()
    this.port(y).changed()
  }

  linked(x: DeviceId, y: DeviceId): boolean {
    return this.#links.has(key(x, y))
  }

  peersOf(x: DeviceId): DeviceId[] {
    return [...this.#ports.keys()].filter((y) => y !== x && this.linked(x, y))
  }

  deliver(from: DeviceId, to: DeviceId, signal: Signal): boolean {
    if (!this.linked(from, to)) return false
    const fault = this.faults.get(`${from}>${to}`)
    if (fault === 'drop') return true
    const go = (): void => this.port(to).receive(from, structuredClone(signal))
    if (fault === 'hold') this.held.push(go)
    else queueMicrotask(go)
    return true
  }

  release(): void {
    for (const go of this.held.splice(0)) go()
  }
}

const key = (x: string, y: string): string => (x < y ? `${x}|${y}` : `${y}|${x}`)

export class MemoryPort implements SignalPort {
  readonly #signal = new Set<(from: DeviceId, s: Signal) => void>()
  readonly #peers = new Set<() => void>()
  /** Every signal this port sent: to whom, what. */
  readonly sent: Array<{ to: DeviceId; signal: Signal }> = []

  constructor(
    readonly id: DeviceId,
    readonly net: MemoryMesh,
  ) {}

  signalPeers(): DeviceId[] {
    return this.net.peersOf(this.id)
  }

  sendSignal(to: DeviceId, signal: Signal): boolean {
    this.sent.push({ to, signal })
    return this.net.deliver(this.id, to, signal)
  }

  onSignal(listener: (from: DeviceId, s: Signal) => void): () => void {
    this.#signal.add(listener)
    return () => this.#signal.delete(listener)
  }

  onPeersChanged(listener: () => void): () => void {
    this.#peers.add(listener)
    return () => this.#peers.delete(listener)
  }

  receive(from: DeviceId, signal: Signal): void {
    for (const l of [...this.#signal]) l(from, signal)
  }

  changed(): void {
    for (const l of [...this.#peers]) l()
  }
}

export const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0))

/** One log line a {@link recordingLogger} kept. */
export interface LogRecord {
  level: 'debug' | 'info' | 'warn' | 'error'
  component: string
  message: string
  fields: Record<string, unknown> | undefined
}

/** A logger that keeps every line in `records`. */
export function recordingLogger(records: LogRecord[], component = ''): import('../../src/core/log.js').Logger {
  const at =
    (level: LogRecord['level']) =>
    (message: string, fields?: Record<string, unknown>): void => {
      records.push({ level, component, message, fields })
    }
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), forComponent: (name) => recordingLogger(records, name) }
}

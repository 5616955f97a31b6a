/**
 * What a transport hands the link layer: an ordered, reliable, authenticated byte pipe to one
 * device, whole messages in and out (the secure channel's plaintexts). A new tier supplies this
 * and nothing else (docs/protocol/link.md).
 */
import type { DeviceId } from '../ids.js'

export interface BytePipe {
  /** The device the secure channel authenticated at the other end. */
  readonly remoteDeviceId: DeviceId
  /** Sends one message, in order. Never throws; a pipe that failed reports it through `onClose`. */
  send(bytes: Uint8Array): void
  /** Subscribes to whole received messages; returns the unsubscribe function. */
  onBytes(handler: (bytes: Uint8Array) => void): () => void
  /** Called once when the pipe ends: undefined for an orderly close, else the (typed) error. */
  onClose(handler: (error: Error | undefined) => void): void
  /**
   * Closes the pipe (idempotent). What was sent before — the goodbye in particular — should still
   * reach the peer where the transport can manage it.
   */
  close(error?: Error): void
  readonly closed: boolean
}

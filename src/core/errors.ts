/**
 * Named errors, one base class per area, each carrying an optional `cause`.
 *
 * Tests and callers branch on `error.name` (or `instanceof`), never on the message:
 * messages are for people and may be reworded.
 */

/** Base of every error Orbit Sync throws on purpose. */
export class OrbitError extends Error {
  static override readonly name: string = 'OrbitError'
  /** A stable machine-readable code, e.g. `VALIDATION`, `NOT_INITIALISED`. */
  readonly code: string

  constructor(message: string, options: { code?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = (new.target as unknown as { name: string }).name
    this.code = options.code ?? 'ORBIT'
  }
}

/**
 * Input failed validation. `field` names the offending field (dotted path) when there is one;
 * `code` is `VALIDATION` unless a more specific one says more (e.g. an image's `TOO_LARGE`).
 */
export class ValidationError extends OrbitError {
  static override readonly name = 'ValidationError'
  readonly field: string | undefined
  constructor(message: string, options: { field?: string; code?: string; cause?: unknown } = {}) {
    super(message, { code: options.code ?? 'VALIDATION', cause: options.cause })
    this.field = options.field
  }
}

/** An id was well-formed but names nothing (used where absence is an error, e.g. `edit`). */
export class UnknownIdError extends OrbitError {
  static override readonly name = 'UnknownIdError'
  constructor(readonly kind: string, readonly id: string) {
    super(`no ${kind} with id ${id}`, { code: 'UNKNOWN_ID' })
  }
}

/** The data directory / store is missing, foreign, corrupt or from an incompatible version. */
export class StoreError extends OrbitError {
  static override readonly name = 'StoreError'
}

/** A wire frame, handshake message or other network input was malformed or refused. */
export class WireError extends OrbitError {
  static override readonly name = 'WireError'
}

/** The authenticated handshake failed: bad keys, unknown/revoked peer, replay, version mismatch. */
export class HandshakeError extends OrbitError {
  static override readonly name = 'HandshakeError'
}

/** Pairing was refused or its invite was malformed, expired or already used. */
export class PairingError extends OrbitError {
  static override readonly name = 'PairingError'
}

/** A QR frame, QR image or QR bundle was malformed, foreign, tampered or incomplete. */
export class QrError extends OrbitError {
  static override readonly name = 'QrError'
}

/** A sealed/signed payload failed to open or verify. */
export class CryptoError extends OrbitError {
  static override readonly name = 'CryptoError'
}

/** A WebRTC offer/answer code or connection failed. */
export class WebRtcError extends OrbitError {
  static override readonly name = 'WebRtcError'
}

/** The operation was cancelled through its AbortSignal or timed out. */
export class AbortedError extends OrbitError {
  static override readonly name = 'AbortedError'
}

/** Pairing: invites, the live pairing exchange, QR-only acceptance. See docs/protocol/pairing.md. */
export * from './invite.js'
export * from './invite-store.js'
export * from './messages.js'
export * from './exchange.js'
export * from './acceptance.js'
export * from './live.js'

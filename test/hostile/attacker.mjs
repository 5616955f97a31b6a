// A scripted hostile peer against a daemon's TCP port (docs/protocol/lan.md, "Transport"; link.md,
// "Limits"). Runs the built code from dist/. Argv: one JSON object { mode, port, ... }; prints one
// JSON line per event on stdout and a final { event: 'done', ... } line, then exits.
//
// Modes:
// - slowloris { count, addresses?, dripMs, holdMs }: `count` connections (spread over `addresses`) that drip a well-formed frame header
//   and then its body one byte every `dripMs`, never finishing a handshake; reports how many the
//   daemon closed within `holdMs`.
// - halfopen { count, addresses, holdMs, churn? }: `count` connections spread over the loopback
//   `addresses`, never a byte written; reports how many were closed (refused or dropped). With
//   `churn`, each one the daemon drops is opened again at once until `holdMs`.
// - oversized: one connection whose first frame header claims 4 GiB; reports whether it was closed.
// - member sub-modes (the device in `dir` is a paired member; it runs the real handshake, then
//   sends a valid hello): huge { bytes, waitMs? } — one sync envelope of `bytes`, then waits
//   `waitMs` (default 20 000) for the daemon to close the link; flood { messages, size, reconnect? } —
//   that many small sync envelopes as fast as the socket takes them; with `reconnect`, once closed,
//   a new session at once, reporting the control envelopes the daemon answers with.
import { connect } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..')
const dist = (p) => import(join(ROOT, 'dist/src', p))
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n')
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const cfg = JSON.parse(process.argv[2])
const HOST = '127.0.0.1'

function open(localAddress) {
  return new Promise((resolve) => {
    const s = connect({ host: HOST, port: cfg.port, ...(localAddress ? { localAddress } : {}) })
    const state = { socket: s, closed: false }
    s.on('error', () => undefined)
    s.on('close', () => (state.closed = true))
    s.resume()
    s.once('connect', () => resolve(state))
    s.once('close', () => resolve(state))
  })
}

async function slowloris() {
  const conns = await Promise.all(Array.from({ length: cfg.count }, (_, i) => open(cfg.addresses?.[i % cfg.addresses.length])))
  // A valid frame header announcing a 32-byte handshake message, then the body byte by byte, slowly.
  const bytes = [1, 0, 0, 0, 32, ...Array.from({ length: 32 }, (_, i) => i)]
  const started = Date.now()
  let i = 0
  while (Date.now() - started < cfg.holdMs && conns.some((c) => !c.closed)) {
    for (const c of conns) if (!c.closed && i < bytes.length) c.socket.write(Uint8Array.of(bytes[i]))
    i++
    await sleep(cfg.dripMs)
  }
  const closed = conns.filter((c) => c.closed).length
  for (const c of conns) c.socket.destroy()
  out({ event: 'done', closed, of: cfg.count, ms: Date.now() - started })
}

async function halfopen() {
  const conns = []
  for (let i = 0; i < cfg.count; i++) conns.push(open(cfg.addresses[i % cfg.addresses.length]))
  const all = await Promise.all(conns)
  out({ event: 'opened', count: all.length, closedAtOnce: all.filter((c) => c.closed).length })
  const started = Date.now()
  let reopened = 0
  if (cfg.churn === true) {
    // Every connection the daemon drops is opened again at once, for `holdMs`.
    while (Date.now() - started < cfg.holdMs) {
      for (let i = 0; i < all.length; i++) {
        if (!all[i].closed) continue
        all[i] = await open(cfg.addresses[i % cfg.addresses.length])
        reopened++
      }
      await sleep(5)
    }
  }
  while (Date.now() - started < cfg.holdMs && all.some((c) => !c.closed)) await sleep(200)
  const closed = all.filter((c) => c.closed).length
  for (const c of all) c.socket.destroy()
  out({ event: 'done', closed, of: all.length, reopened })
}

async function oversized() {
  const c = await open()
  c.socket.write(Uint8Array.of(1, 0xff, 0xff, 0xff, 0xff))
  // Then bytes as if the body followed: the daemon must not buffer them.
  for (let i = 0; i < 64 && !c.closed; i++) {
    c.socket.write(new Uint8Array(64 * 1024))
    await sleep(10)
  }
  const started = Date.now()
  while (!c.closed && Date.now() - started < 10_000) await sleep(50)
  out({ event: 'done', closed: c.closed })
  c.socket.destroy()
}

/** A member's session to the daemon: the real handshake with the member's key, then a hello. */
async function memberSession(onPlain) {
  const { loadIdentity } = await dist('adapters/identity-fs/index.js')
  const { performHandshake } = await dist('core/crypto/channel.js')
  const { nodeChaChaPoly } = await dist('adapters/crypto-node/chacha-poly.js')
  const { FramedSocket } = await dist('adapters/transport-tcp/framed-socket.js')
  const { DEFAULT_MAX_FRAME_BYTES } = await dist('adapters/transport-tcp/frames.js')
  const envelope = await dist('core/link/envelope.js')
  const identity = loadIdentity(cfg.dir)
  const c = await open()
  const framed = new FramedSocket(c.socket, DEFAULT_MAX_FRAME_BYTES)
  const session = await performHandshake(framed.io, { identity, role: 'initiator', authorize: () => 'member', aead: nodeChaChaPoly, timeoutMs: 10_000 })
  framed.onFrame = (frame) => {
    if (onPlain === undefined) return
    const plain = session.decrypt(frame)
    if (plain !== undefined && plain.length > 0) onPlain(plain)
  }
  const send = (bytes) => {
    for (const f of session.encrypt(bytes)) framed.send(f)
  }
  send(envelope.encodeHello({ versions: [1], peerId: identity.deviceId, peerMetadata: { isEphemeral: true }, features: [...envelope.IMPLEMENTED_KINDS] }))
  return { c, framed, send, envelope, identity }
}

async function drained(socket) {
  if (socket.writableLength === 0 || socket.destroyed) return
  await new Promise((r) => {
    socket.once('drain', r)
    socket.once('close', r)
  })
}

async function huge() {
  const { c, send, envelope } = await memberSession()
  const data = new Uint8Array(cfg.bytes - 200)
  for (let i = 0; i < data.length; i += 4096) data[i] = i & 0xff
  const message = envelope.encodeSync(1, { type: 'sync', documentId: '4NMNnkMhL8jXrdJ9jamS58PAVdXu', data })
  if (cfg.over === true) {
    // Over the channel's limit, which our own encrypt() refuses to produce: one message at the
    // limit whose last chunk is marked "more follows" (the chunk flag is the first plaintext
    // byte), then a second one that completes it.
    const { CipherState } = await dist('core/crypto/noise.js')
    const original = CipherState.prototype.encryptWithAd
    CipherState.prototype.encryptWithAd = function (ad, plain) {
      plain[0] = 0
      return original.call(this, ad, plain)
    }
    send(message)
    CipherState.prototype.encryptWithAd = original
  }
  send(message)
  await drained(c.socket)
  // The daemon read all of it (but what the kernel's socket buffers hold) without closing us.
  const sentAll = !c.closed
  const started = Date.now()
  while (!c.closed && Date.now() - started < (cfg.waitMs ?? 20_000)) await sleep(100)
  out({ event: 'done', closed: c.closed, sentAll })
  c.socket.destroy()
}

/** Sends `cfg.messages` small sync envelopes as fast as the socket takes them, or until closed; returns how many. */
async function floodOn({ c, send, envelope }) {
  let sent = 0
  const data = new Uint8Array(cfg.size)
  while (sent < cfg.messages && !c.closed) {
    for (let k = 0; k < 100 && sent < cfg.messages; k++, sent++) {
      data[0] = sent & 0xff
      send(envelope.encodeSync(1, { type: 'ephemeral', documentId: '4NMNnkMhL8jXrdJ9jamS58PAVdXu', sessionId: 's', count: sent, data }))
    }
    await drained(c.socket)
  }
  const sentAt = Date.now()
  while (!c.closed && Date.now() - sentAt < 5_000) await sleep(100)
  c.socket.destroy()
  return sent
}

async function flood() {
  const first = await memberSession()
  const started = Date.now()
  const sent = await floodOn(first)
  let refused
  if (cfg.reconnect === true && first.c.closed) {
    // At once again, with a fresh handshake: what does the daemon say? A daemon too busy to
    // answer within the cooldown accepts us: flood again (the next cooldown is twice as long).
    for (let round = 1; round <= 3 && refused === undefined; round++) {
      const controls = []
      let hello = false
      const again = await memberSession((plain) => {
        const e = first.envelope.decodeEnvelope(plain)
        if (e.kind === first.envelope.EnvelopeKind.Control) controls.push(first.envelope.decodeControl(e.payload))
        if (e.kind === first.envelope.EnvelopeKind.Hello) hello = true
      })
      const at = Date.now()
      while (!again.c.closed && !hello && Date.now() - at < 10_000) await sleep(50)
      if (again.c.closed && !hello) refused = { closed: true, controls, round }
      else if (!(await floodOn(again), again.c.closed)) refused = { closed: false, controls, round }
      again.c.socket.destroy()
    }
  }
  out({ event: 'done', sent, closed: first.c.closed, ms: Date.now() - started, ...(refused ? { refused } : {}) })
}

const modes = { slowloris, halfopen, oversized, huge, flood }
modes[cfg.mode]().then(
  () => process.exit(0),
  (error) => {
    out({ event: 'error', name: error?.name, code: error?.code, message: String(error?.message ?? error) })
    process.exit(1)
  },
)

/**
 * The TXT record Orbit advertises with `_crmorbit._tcp` (docs/protocol/lan.md):
 *
 *     txt := "id=" deviceId • "name=" utf8(name, 1..63 bytes) • "pv=" decimal(protocolVersion)
 *
 * Parsing is strict on what we rely on and lenient on the rest, as DNS-SD wants (RFC 6763 §6):
 * keys are case-insensitive, the first occurrence of a key wins, unknown keys are ignored (room for
 * later versions). Anything else malformed throws a WireError (code `BAD_TXT`) — the caller drops
 * the record and logs it. The result is a hint: nothing here proves who sent it.
 */
import { WireError } from '../errors.js'
import type { DeviceId } from '../ids.js'
import { isDeviceId } from '../crypto/identity.js'

/** What a TXT record claims. */
export interface TxtRecord {
  deviceId: DeviceId
  name: string
  protocolVersion: number
}

/** DNS limits a TXT string to 255 bytes; DNS-SD recommends the whole record stay small. */
const MAX_ENTRY_BYTES = 255
const MAX_ENTRIES = 32
const MAX_NAME_BYTES = 63
const MAX_PROTOCOL_VERSION = 65535

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })
// Control characters in a name would let a record forge lines in logs and terminals.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/

function bad(message: string): WireError {
  return new WireError(`TXT record: ${message}`, { code: 'BAD_TXT' })
}

/** Cuts `name` to at most 63 UTF-8 bytes on a character boundary. */
export function truncateName(name: string): string {
  let out = ''
  let bytes = 0
  for (const ch of name.replace(new RegExp(CONTROL, 'g'), ' ')) {
    const n = encoder.encode(ch).length
    if (bytes + n > MAX_NAME_BYTES) break
    out += ch
    bytes += n
  }
  return out.trim() === '' ? 'orbit device' : out
}

/** Encodes the TXT strings for `record` (the name is truncated to 63 bytes). */
export function encodeTxtRecord(record: TxtRecord): Uint8Array[] {
  return [
    encoder.encode(`id=${record.deviceId}`),
    encoder.encode(`name=${truncateName(record.name)}`),
    encoder.encode(`pv=${record.protocolVersion}`),
  ]
}

/**
 * Parses untrusted TXT strings (as `multicast-dns` hands them over: Buffers, Uint8Arrays or
 * strings). Throws WireError (code `BAD_TXT`) when the record is unusable.
 */
export function parseTxtRecord(entries: unknown): TxtRecord {
  if (!Array.isArray(entries)) throw bad('not a list of strings')
  if (entries.length > MAX_ENTRIES) throw bad(`more than ${MAX_ENTRIES} strings`)
  const fields = new Map<string, string>()
  for (const entry of entries) {
    let bytes: Uint8Array
    if (entry instanceof Uint8Array) bytes = entry
    else if (typeof entry === 'string') bytes = encoder.encode(entry)
    else throw bad('a string is neither bytes nor text')
    if (bytes.length > MAX_ENTRY_BYTES) throw bad('a string is longer than 255 bytes')
    let text: string
    try {
      text = decoder.decode(bytes)
    } catch (cause) {
      throw new WireError('TXT record: a string is not UTF-8', { code: 'BAD_TXT', cause })
    }
    const eq = text.indexOf('=')
    if (eq <= 0) continue // boolean attributes and empty strings carry nothing we use
    const key = text.slice(0, eq).toLowerCase()
    if (!fields.has(key)) fields.set(key, text.slice(eq + 1))
  }

  const id = fields.get('id')
  if (id === undefined) throw bad('no id')
  if (!isDeviceId(id)) throw bad('id is not a device id')

  const name = fields.get('name')
  if (name === undefined || name.length === 0) throw bad('no name')
  if (encoder.encode(name).length > MAX_NAME_BYTES) throw bad('name longer than 63 bytes')
  if (CONTROL.test(name)) throw bad('name contains control characters')

  const pv = fields.get('pv')
  if (pv === undefined) throw bad('no pv')
  if (!/^[1-9][0-9]{0,4}$/.test(pv) || Number(pv) > MAX_PROTOCOL_VERSION) throw bad('pv is not a version number')

  return { deviceId: id, name, protocolVersion: Number(pv) }
}

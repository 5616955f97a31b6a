/**
 * ICE server configuration as users type it (`--ice stun:HOST:PORT`, `--ice turn:USER:PASS@HOST:PORT`)
 * parsed into the standard `RTCIceServer` shape.
 */
import { ValidationError } from '../errors.js'

/** The W3C `RTCIceServer` dictionary (declared here because core has no DOM or werift types). */
export interface IceServer {
  readonly urls: string
  readonly username?: string
  readonly credential?: string
}

const HOST = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)$/

/**
 * Parses one ICE server spec. Accepted forms: `stun:HOST[:PORT]`, `turn:USER:PASS@HOST[:PORT][?transport=udp|tcp]`
 * (`turns:` likewise). Default ports: 3478 (stun/turn), 5349 (turns).
 * Throws `ValidationError` (field `ice`) on anything else, including a TURN server without credentials.
 *
 * @example parseIceServer('turn:orbit:secret@10.0.0.1:3478') // { urls: 'turn:10.0.0.1:3478', username: 'orbit', credential: 'secret' }
 */
export function parseIceServer(spec: string, field = 'ice'): IceServer {
  const fail = (why: string): never => {
    throw new ValidationError(`${field}: ${why} (expected stun:HOST:PORT or turn:USER:PASS@HOST:PORT, got ${JSON.stringify(spec)})`, { field })
  }
  if (typeof spec !== 'string' || spec.length > 512) fail('not a string of reasonable length')
  const m = /^(stuns?|turns?):(.*)$/i.exec(spec.trim())
  if (m === null) return fail('unknown scheme')
  const scheme = (m[1] as string).toLowerCase()
  let rest = m[2] as string
  let query = ''
  const q = rest.indexOf('?')
  if (q >= 0) {
    query = rest.slice(q)
    rest = rest.slice(0, q)
  }
  let username: string | undefined
  let credential: string | undefined
  const at = rest.lastIndexOf('@')
  if (at >= 0) {
    const auth = rest.slice(0, at)
    rest = rest.slice(at + 1)
    const colon = auth.indexOf(':')
    if (colon <= 0 || colon === auth.length - 1) fail('credentials must be USER:PASS')
    try {
      username = decodeURIComponent(auth.slice(0, colon))
      credential = decodeURIComponent(auth.slice(colon + 1))
    } catch {
      // decodeURIComponent throws URIError on a stray `%` (e.g. `us%r`): bad input, not a crash.
      fail('credentials are not valid percent-encoding')
    }
  }
  const isTurn = scheme.startsWith('turn')
  if (isTurn && username === undefined) fail('a TURN server needs USER:PASS@')
  if (!isTurn && username !== undefined) fail('a STUN server takes no credentials')
  if (query !== '' && !(isTurn && /^\?transport=(udp|tcp)$/i.test(query))) fail('only ?transport=udp|tcp is understood, and only for TURN')
  let host = rest
  let port = scheme.endsWith('s') ? 5349 : 3478
  const portMatch = /^(.*):(\d{1,5})$/.exec(rest)
  if (portMatch !== null && !(rest.startsWith('[') && !rest.includes(']:'))) {
    host = portMatch[1] as string
    port = Number(portMatch[2])
  }
  if (!HOST.test(host)) fail('bad host')
  if (port < 1 || port > 65535) fail('port out of range')
  const urls = `${scheme}:${host}:${port}${query.toLowerCase()}`
  return username === undefined ? { urls } : { urls, username, credential: credential as string }
}

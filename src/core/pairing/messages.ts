/**
 * The pairing exchange's messages, carried as ordinary messages of a SecureSession whose
 * authorization is 'pairing'. Binary layouts: docs/protocol/pairing.md.
 *
 *   pairMessage := u8 version(1) • u8 type • body
 *   request (1) := 32 proof • str8 name
 *   accept  (2) := 16 workspaceId • str8 workspaceName • str16 rootUrl • u8 n • n × (32 publicKey • str8 name)
 *   refuse  (3) := (empty)
 */
import { PairingError, ValidationError } from '../errors.js'
import { base32, parseWorkspaceId, type DeviceId, type WorkspaceId } from '../ids.js'
import { ByteReader, concatBytes, fromBase32, string16, string8 } from '../crypto/bytes.js'
import { assertPublicKey, deviceIdFromPublicKey } from '../crypto/identity.js'

/** Version byte of pairing messages. */
export const PAIR_MESSAGE_VERSION = 1
const TYPE = { request: 1, accept: 2, refuse: 3 } as const
const PROOF_BYTES = 32
const MAX_MEMBERS = 255
const ROOT_URL = /^automerge:[1-9A-HJ-NP-Za-km-z]{1,128}$/

/** Joiner → inviter: proof of the invite secret, bound to this session's handshake hash. */
export interface PairRequest {
  type: 'pair-request'
  proof: Uint8Array
  /** The joiner's device name. */
  name: string
}

/** A workspace member as the joiner needs it to authorize the others before syncing. */
export interface PairMember {
  deviceId: DeviceId
  publicKey: Uint8Array
  name: string
}

/** Inviter → joiner: welcome; what to sync. */
export interface PairAccept {
  type: 'pair-accept'
  workspaceId: WorkspaceId
  workspaceName: string
  /** Automerge URL of the workspace's root document. */
  rootUrl: string
  /** Current members, the inviter and the joiner included. */
  members: PairMember[]
}

/** Inviter → joiner: no. Identical for a wrong, expired or used secret. */
export interface PairRefuse {
  type: 'pair-refuse'
}

export type PairMessage = PairRequest | PairAccept | PairRefuse

/** Encodes a pairing message. Throws ValidationError for out-of-range fields. */
export function encodePairMessage(message: PairMessage): Uint8Array {
  const head = (type: number): Uint8Array => Uint8Array.of(PAIR_MESSAGE_VERSION, type)
  switch (message.type) {
    case 'pair-request':
      if (message.proof.length !== PROOF_BYTES) throw new ValidationError('proof must be 32 bytes', { field: 'proof' })
      return concatBytes(head(TYPE.request), message.proof, string8(message.name, 'name'))
    case 'pair-accept': {
      if (!ROOT_URL.test(message.rootUrl)) throw new ValidationError('rootUrl: not an automerge URL', { field: 'rootUrl' })
      if (message.members.length > MAX_MEMBERS) throw new ValidationError('too many members', { field: 'members' })
      return concatBytes(
        head(TYPE.accept),
        fromBase32(parseWorkspaceId(message.workspaceId).slice(3), 'workspaceId'),
        string8(message.workspaceName, 'workspaceName'),
        string16(message.rootUrl, 'rootUrl'),
        Uint8Array.of(message.members.length),
        ...message.members.flatMap((m) => [m.publicKey, string8(m.name, 'members.name')]),
      )
    }
    case 'pair-refuse':
      return head(TYPE.refuse)
  }
}

/** Parses an untrusted pairing message. Throws PairingError `MALFORMED` or `UNSUPPORTED_VERSION`. */
export function parsePairMessage(bytes: Uint8Array): PairMessage {
  if (!(bytes instanceof Uint8Array)) throw malformed('not bytes')
  const r = new ByteReader(bytes, malformed)
  const version = r.u8('version')
  if (version !== PAIR_MESSAGE_VERSION) throw new PairingError(`pairing message version ${version} is not supported`, { code: 'UNSUPPORTED_VERSION' })
  const type = r.u8('type')
  let message: PairMessage
  if (type === TYPE.request) {
    message = { type: 'pair-request', proof: r.bytes(PROOF_BYTES, 'proof').slice(), name: r.string8('name') }
  } else if (type === TYPE.accept) {
    const workspaceId = `ws_${base32(r.bytes(16, 'workspace'))}` as WorkspaceId
    const workspaceName = r.string8('workspace name')
    const rootUrl = r.string16('root url')
    if (!ROOT_URL.test(rootUrl)) throw malformed('root url')
    const count = r.u8('member count')
    const members: PairMember[] = []
    for (let i = 0; i < count; i++) {
      const publicKey = r.bytes(32, 'member key').slice()
      try {
        assertPublicKey(publicKey)
      } catch {
        throw malformed('member key')
      }
      members.push({ deviceId: deviceIdFromPublicKey(publicKey), publicKey, name: r.string8('member name') })
    }
    message = { type: 'pair-accept', workspaceId, workspaceName, rootUrl, members }
  } else if (type === TYPE.refuse) {
    message = { type: 'pair-refuse' }
  } else {
    throw malformed(`unknown type ${type}`)
  }
  r.end('pairing message')
  return message
}

function malformed(what: string): PairingError {
  return new PairingError(`malformed pairing message (${what})`, { code: 'MALFORMED' })
}

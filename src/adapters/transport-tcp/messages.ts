/**
 * What travels inside the secure channel once a session is a workspace member
 * (docs/protocol/lan.md): CBOR maps, the first from each side a `join`, then automerge-repo
 * messages. Everything decoded here is untrusted; invalid input yields a WireError.
 */
import { cbor } from '@automerge/automerge-repo'
import type { Message, PeerId, PeerMetadata, StorageId } from '@automerge/automerge-repo'
import { WireError } from '../../core/errors.js'

/** Version of the message layer inside the channel, sent in `join`. */
export const REPO_PROTOCOL_VERSION = '1'

/** The first message each side sends: who it is to automerge-repo, and how it presents itself. */
export interface JoinMessage {
  type: 'join'
  senderId: PeerId
  peerMetadata: PeerMetadata
  supportedProtocolVersions: string[]
}

export function encodeMessage(message: JoinMessage | Message): Uint8Array {
  return cbor.encode(message)
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const MAX_ID_LENGTH = 256

function checkPeerId(value: unknown, field: string): PeerId {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ID_LENGTH) {
    throw new WireError(`message ${field} is not a peer id`, { code: 'BAD_MESSAGE' })
  }
  return value as PeerId
}

/** Decodes one channel plaintext into a CBOR map with a string `type`. */
function decodeMap(bytes: Uint8Array): Record<string, unknown> {
  let value: unknown
  try {
    value = cbor.decode(bytes)
  } catch (cause) {
    throw new WireError('message is not CBOR', { code: 'BAD_MESSAGE', cause })
  }
  if (!isRecord(value) || typeof value.type !== 'string') {
    throw new WireError('message is not a typed map', { code: 'BAD_MESSAGE' })
  }
  return value
}

/** Parses the peer's `join`. */
export function decodeJoin(bytes: Uint8Array): JoinMessage {
  const m = decodeMap(bytes)
  if (m.type !== 'join') throw new WireError(`expected join, got ${String(m.type).slice(0, 32)}`, { code: 'BAD_MESSAGE' })
  const senderId = checkPeerId(m.senderId, 'senderId')
  const versions = m.supportedProtocolVersions
  if (!Array.isArray(versions) || versions.length > 16 || !versions.every((v) => typeof v === 'string' && v.length <= 16)) {
    throw new WireError('join: bad supportedProtocolVersions', { code: 'BAD_MESSAGE' })
  }
  const meta = m.peerMetadata ?? {}
  if (!isRecord(meta)) throw new WireError('join: bad peerMetadata', { code: 'BAD_MESSAGE' })
  const peerMetadata: PeerMetadata = {}
  if (meta.storageId !== undefined) {
    if (typeof meta.storageId !== 'string' || meta.storageId.length > MAX_ID_LENGTH) {
      throw new WireError('join: bad storageId', { code: 'BAD_MESSAGE' })
    }
    peerMetadata.storageId = meta.storageId as StorageId
  }
  if (meta.isEphemeral !== undefined) {
    if (typeof meta.isEphemeral !== 'boolean') throw new WireError('join: bad isEphemeral', { code: 'BAD_MESSAGE' })
    peerMetadata.isEphemeral = meta.isEphemeral
  }
  return { type: 'join', senderId, peerMetadata, supportedProtocolVersions: versions as string[] }
}

/**
 * Parses a repo message and binds it to the connection: `senderId` must be the peer id this
 * connection joined as and `targetId` ours, so an authenticated peer cannot speak for another.
 */
export function decodeRepoMessage(bytes: Uint8Array, expected: { senderId: PeerId; targetId: PeerId }): Message {
  const m = decodeMap(bytes)
  if (m.type === 'join') throw new WireError('unexpected second join', { code: 'BAD_MESSAGE' })
  if (m.senderId !== expected.senderId) throw new WireError('message senderId is not the connected peer', { code: 'SPOOFED_SENDER' })
  if (m.targetId !== expected.targetId) throw new WireError('message targetId is not this peer', { code: 'BAD_MESSAGE' })
  if (m.data !== undefined && !(m.data instanceof Uint8Array)) throw new WireError('message data is not bytes', { code: 'BAD_MESSAGE' })
  if (m.documentId !== undefined && (typeof m.documentId !== 'string' || m.documentId.length > MAX_ID_LENGTH)) {
    throw new WireError('message documentId is not a string', { code: 'BAD_MESSAGE' })
  }
  // automerge-repo validates the rest per type (NetworkSubsystem drops non-repo messages).
  return m as unknown as Message
}

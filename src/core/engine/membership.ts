/**
 * The one membership and authorization policy every entry point asks (README, "Security"): a
 * live connection on any tier, a signed WebRTC code, a sealed QR bundle, a pairing attempt. The
 * workspace's replicated member list is the evidence; the policy only reads it, so a revocation
 * that arrives from another member takes effect on the next question.
 */
import { fromBase64Url } from '../crypto/bytes.js'
import type { DeviceId } from '../ids.js'
import type { MemberDevice } from '../model/types.js'
import type { MemberStatus } from '../model/workspace.js'

/** What a live connection from a device may do: sync as a member, only pair, or nothing. */
export type Admission = 'member' | 'pairing' | 'refuse'

/** Where membership is read from: a workspace (`CrmWorkspace` fits), or a fixed list. */
export interface MembershipSource {
  memberStatus(deviceId: string): MemberStatus
  getDevice(deviceId: string): Pick<MemberDevice, 'publicKey'> | undefined
  listDevices(): ReadonlyArray<Pick<MemberDevice, 'id'>>
}

/** The questions every tier and command asks before it lets a device in. */
export interface MembershipPolicy {
  /** `member`, `revoked` (refused for good) or `unknown`. */
  status(deviceId: string): MemberStatus
  /** Whether the device is a current (not revoked) member. */
  isMember(deviceId: string): boolean
  /**
   * What a live connection from `deviceId` may do: members sync; an unknown device may only pair,
   * and only while pairing is open (an invite is pending); a revoked device gets nothing.
   */
  admit(deviceId: string): Admission
  /** The Ed25519 public key of a current member (to verify its signed codes and bundles), else undefined. */
  memberKey(deviceId: string): Uint8Array | undefined
  /** Current members other than `self`. */
  peers(self: string): DeviceId[]
}

export interface MembershipOptions {
  /** Whether an unknown device may pair right now. Default: never. */
  pairingOpen?: () => boolean
}

/**
 * The policy over a membership source, read live on every question.
 *
 * @example
 * const policy = membershipPolicy(device.workspace, { pairingOpen: () => invites.list(now()).length > 0 })
 * tcp = new TcpNetworkAdapter({ authorize: (remote) => policy.admit(remote.deviceId), ... })
 */
export function membershipPolicy(source: MembershipSource, options: MembershipOptions = {}): MembershipPolicy {
  const isMember = (id: string): boolean => source.memberStatus(id) === 'member'
  return {
    status: (id) => source.memberStatus(id),
    isMember,
    admit(id) {
      const status = source.memberStatus(id)
      if (status === 'member') return 'member'
      if (status === 'revoked') return 'refuse'
      return options.pairingOpen?.() === true ? 'pairing' : 'refuse'
    },
    memberKey(id) {
      if (!isMember(id)) return undefined
      const record = source.getDevice(id)
      return record === undefined ? undefined : fromBase64Url(record.publicKey, 'publicKey')
    },
    peers: (self) => source.listDevices().map((d) => d.id as DeviceId).filter((id) => id !== self && isMember(id)),
  }
}

/**
 * A policy over a fixed member list: what a joiner knows of the workspace it is joining before its
 * root document has arrived (the inviter's pairing answer names the members).
 */
export function fixedMembership(members: ReadonlyArray<{ deviceId: string; publicKey: Uint8Array }>): MembershipPolicy {
  const keys = new Map(members.map((m) => [m.deviceId, m.publicKey]))
  const status = (id: string): MemberStatus => (keys.has(id) ? 'member' : 'unknown')
  return {
    status,
    isMember: (id) => keys.has(id),
    admit: (id) => (keys.has(id) ? 'member' : 'refuse'),
    memberKey: (id) => keys.get(id),
    peers: (self) => [...keys.keys()].filter((id) => id !== self) as DeviceId[],
  }
}

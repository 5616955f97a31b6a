/**
 * The workspace's devices as commands see them: `orbit device list` rows, revocation, and a member
 * named by id or prefix. Shared by the in-process API and the daemon.
 */
import { UnknownIdError, ValidationError } from '../../core/errors.js'
import { parseDeviceIdInput } from '../../core/crypto/identity.js'
import type { DeviceId } from '../../core/ids.js'
import type { OrbitDevice } from './device.js'

/** A row of `orbit device list`. */
export interface DeviceRow {
  id: string
  name: string
  addedAt: number
  addedBy: string
  revokedAt?: number
  status: 'member' | 'revoked'
  self: boolean
}

type MemberDevice = Pick<OrbitDevice, 'workspace' | 'identity'>

/** `orbit device list` rows for an open device. */
export function listDeviceRows(device: MemberDevice): DeviceRow[] {
  const ws = device.workspace
  return ws.listDevices().map((d) => ({
    id: d.id,
    name: d.name,
    addedAt: d.addedAt,
    addedBy: d.addedBy,
    ...(d.revokedAt === undefined ? {} : { revokedAt: d.revokedAt }),
    status: ws.memberStatus(d.id) === 'revoked' ? 'revoked' : 'member',
    self: d.id === device.identity.deviceId,
  }))
}

/** Revokes a member (by id or unique prefix) on an open device and flushes. */
export async function revokeOn(device: MemberDevice & Pick<OrbitDevice, 'flush'>, id: string): Promise<DeviceRow> {
  const target = resolveMember(device, id, { includeRevoked: true })
  if (target === device.identity.deviceId) throw new ValidationError('a device cannot revoke itself; revoke it from another member', { field: 'id' })
  await device.workspace.revokeDevice(target)
  await device.flush()
  return listDeviceRows(device).find((r) => r.id === target)!
}

/**
 * A member's full id from a full id (any grouping) or a unique prefix of at least 4 characters.
 * @throws UnknownIdError('device'), ValidationError when the prefix is ambiguous.
 */
export function resolveMember(device: Pick<OrbitDevice, 'workspace'>, input: string, options: { includeRevoked?: boolean } = {}): DeviceId {
  const ws = device.workspace
  let id: string | undefined
  try {
    id = parseDeviceIdInput(input, 'device')
  } catch {
    id = undefined
  }
  if (id !== undefined && ws.getDevice(id) !== undefined) return id as DeviceId
  const needle = input.replace(/[-\s]/g, '').toLowerCase()
  const candidates = ws
    .listDevices()
    .filter((d) => options.includeRevoked === true || ws.memberStatus(d.id) === 'member')
    .filter((d) => needle.length >= 4 && d.id.toLowerCase().startsWith(needle))
  if (candidates.length === 1) return candidates[0]!.id
  if (candidates.length > 1) throw new ValidationError(`device "${input}" is ambiguous: give more of its id`, { field: 'device' })
  throw new UnknownIdError('device', input)
}

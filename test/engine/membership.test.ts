/**
 * The one membership policy (src/core/engine/membership.ts), over a real CrmWorkspace on an
 * in-memory Repo: what a handshake may do, whose key verifies a signed code or bundle, and that a
 * revocation applies at the next question (the policy reads the replicated member list live).
 */
import { Repo } from '@automerge/automerge-repo'
import { afterEach, describe, expect, it } from 'vitest'
import { encodePublicKey, generateIdentity } from '../../src/core/crypto/identity.js'
import { fixedMembership, membershipPolicy } from '../../src/core/engine/membership.js'
import { CrmWorkspace } from '../../src/core/model/workspace.js'

const repos: Repo[] = []
afterEach(async () => {
  for (const r of repos.splice(0)) await r.shutdown()
})

async function workspace(): Promise<{ ws: CrmWorkspace; me: string; other: ReturnType<typeof generateIdentity> }> {
  const repo = new Repo({ network: [] })
  repos.push(repo)
  const founder = generateIdentity()
  const ws = await CrmWorkspace.create(repo, {
    name: 'Test',
    founder: { id: founder.deviceId, publicKey: encodePublicKey(founder.publicKey), name: 'A', addedAt: 1, addedBy: founder.deviceId },
    shardCount: 2,
  })
  const other = generateIdentity()
  await ws.addDevice({ id: other.deviceId, publicKey: encodePublicKey(other.publicKey), name: 'B', addedAt: 2, addedBy: founder.deviceId })
  return { ws, me: founder.deviceId, other }
}

describe('membershipPolicy', () => {
  it('admits members, lets unknown devices pair only while pairing is open, and refuses revoked devices for good', async () => {
    const { ws, me, other } = await workspace()
    let open = false
    const policy = membershipPolicy(ws, { pairingOpen: () => open })
    const stranger = generateIdentity().deviceId
    expect(policy.admit(other.deviceId)).toBe('member')
    expect(policy.admit(stranger)).toBe('refuse')
    open = true
    expect(policy.admit(stranger)).toBe('pairing')
    expect(policy.memberKey(other.deviceId)).toEqual(other.publicKey)
    expect(policy.memberKey(stranger)).toBeUndefined()
    expect(policy.peers(me)).toEqual([other.deviceId])

    await ws.revokeDevice(other.deviceId)
    // Read live: the same policy object answers differently once the member list changed.
    expect(policy.status(other.deviceId)).toBe('revoked')
    expect(policy.isMember(other.deviceId)).toBe(false)
    expect(policy.admit(other.deviceId)).toBe('refuse')
    expect(policy.memberKey(other.deviceId)).toBeUndefined()
    expect(policy.peers(me)).toEqual([])
    ws.close()
  })

  it('fixedMembership: what a joiner knows before the root arrives — members only, never pairing', () => {
    const a = generateIdentity()
    const policy = fixedMembership([{ deviceId: a.deviceId, publicKey: a.publicKey }])
    expect(policy.admit(a.deviceId)).toBe('member')
    expect(policy.admit(generateIdentity().deviceId)).toBe('refuse')
    expect(policy.memberKey(a.deviceId)).toEqual(a.publicKey)
    expect(policy.peers(a.deviceId)).toEqual([])
  })
})

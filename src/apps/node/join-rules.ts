/**
 * The rules for a device joining another workspace, shared by the live join (`pair join`), the
 * offline join (`pair join --offline`) and the adoption of its first QR bundle: a join replaces
 * this device's workspace, so it must never hide data made here.
 */
import { PairingError } from '../../core/errors.js'
import type { CrmWorkspace } from '../../core/model/workspace.js'

/** What this device holds of its own: contacts, organizations, and devices other than itself. */
export async function ownData(ws: CrmWorkspace, me: string): Promise<{ contacts: number; orgs: number; others: number; total: number }> {
  await ws.loadAllShards()
  const contacts = (await ws.listContacts({ includeDeleted: true })).length
  const orgs = (await ws.listOrgs({ includeDeleted: true })).length
  const others = ws.listDevices().filter((d) => d.id !== me).length
  return { contacts, orgs, others, total: contacts + orgs + others }
}

/**
 * Throws unless this device may join the invite's workspace.
 *
 * @param joinCommand how to retry from a fresh data dir, e.g. `pair join CODE --offline`
 * @throws PairingError `SELF` (its own invite), `ALREADY_MEMBER`, `WORKSPACE_NOT_EMPTY`
 */
export async function assertMayJoin(
  ws: CrmWorkspace,
  me: string,
  invite: { inviterDeviceId: string; workspaceId: string },
  joinCommand: string,
  alreadyMemberHint = '',
): Promise<void> {
  if (invite.inviterDeviceId === me) throw new PairingError('this invite was issued by this very device; use it on another one', { code: 'SELF' })
  if (ws.workspaceId === invite.workspaceId) {
    throw new PairingError(`this device is already a member of workspace ${ws.name}${alreadyMemberHint}`, { code: 'ALREADY_MEMBER' })
  }
  const own = await ownData(ws, me)
  if (own.total > 0) {
    throw new PairingError(
      `this device already has its own data (${own.contacts} contacts, ${own.orgs} organizations, ${own.others} other devices); ` +
        `joining another workspace would hide it. Join from a fresh data dir instead: \`orbit --data DIR init --name NAME\`, then \`orbit --data DIR ${joinCommand}\``,
      { code: 'WORKSPACE_NOT_EMPTY' },
    )
  }
}

/**
 * Type-checks an app's use of the package through its `exports` (test/embedding runs
 * `tsc -p examples/tsconfig.json` against the built declarations): the names resolve and carry types.
 */
import { createOrbitNode, type OrbitNode, type SyncReport, type SyncStoreState, type Tier } from 'orbit-sync'
import { membershipPolicy, type MembershipPolicy } from 'orbit-sync/engine'

export async function start(dataDir: string): Promise<OrbitNode> {
  const node = await createOrbitNode({ dataDir, init: { name: 'App' }, listen: { host: '127.0.0.1', port: 0 } })
  const status: (s: SyncStoreState) => string = (s) => s.status
  node.subscribe((s) => status(s))
  const tiers: readonly Tier[] = node.tiers
  const policy: MembershipPolicy = membershipPolicy(node.device.workspace)
  void tiers
  void policy
  return node
}

export function describe(report: SyncReport): string {
  return `${report.method} ${report.status}`
}

import type { CommandModule } from '../command-module.js'
import { bytes, fields } from '../format.js'
import { syncText } from './peers.js'
import type { PeerSyncView } from '../../node/api.js'

/** Each peer's sync state: the daemon's rows (names, reasons) when it runs, else read from the store. */
async function peerStates(dataDir: string): Promise<Array<{ deviceId: string; name?: string; sync: PeerSyncView }>> {
  // The lock first: the control client (and what it imports) only when a daemon runs.
  const { readDaemonLock } = await import('../../node/lock.js')
  const endpoint = readDaemonLock(dataDir) === undefined ? undefined : (await import('../../control/client.js')).findDaemon(dataDir)
  if (endpoint !== undefined) {
    const { remoteApi } = await import('../../control/client.js')
    const rows = await remoteApi(endpoint).peers()
    return rows.filter((r) => r.paired).map((r) => ({ deviceId: r.deviceId, name: r.name, sync: r.sync }))
  }
  const { openOrbitDatabase, ConfigStore } = await import('../../../adapters/storage-sqlite/index.js')
  const { CONFIG_KEYS, storePath } = await import('../../node/data-dir.js')
  const { readOnlyPeerSync } = await import('../../node/peer-sync-read.js')
  const db = openOrbitDatabase(storePath(dataDir), { create: false, readonly: true })
  try {
    const config = new ConfigStore(db)
    const root = config.get(CONFIG_KEYS.rootDocId)
    const shards = config.get(CONFIG_KEYS.shardDocIds)
    const ids = [...(typeof root === 'string' ? [root] : []), ...(Array.isArray(shards) ? shards.map(String) : [])]
    const idle = { reason: 'not-serving', detail: 'orbit serve is not running on this data dir: nothing syncs in the background' }
    return readOnlyPeerSync(db, ids).map((p) => ({ deviceId: p.deviceId, sync: p.sync.state === 'in-sync' ? p.sync : { ...p.sync, ...idle } }))
  } finally {
    db.close()
  }
}

export const statusCommands: CommandModule = {
  name: 'status',
  register(program, ctx) {
    program
      .command('status')
      .description('show this device, its workspace, what the store holds and where')
      .addHelpText(
        'after',
        `
Each paired device the store knows something of is listed with its sync state, as in
\`orbit peers\` ("in sync", "N documents behind / ahead", via which tier, when, and why not in sync).

Examples:
  $ orbit status
  $ orbit status --json`,
      )
      .action(
        ctx.action(async (_opts, cmd) => {
          const { dataDir } = ctx.globals(cmd)
          const { openReadView } = await import('../../node/read-view.js')
          const view = await openReadView(dataDir)
          try {
            const status = { ...view.status(), peers: await peerStates(dataDir) }
            ctx.emit(cmd, status, () =>
              fields([
                ['device', `${status.device.name} (${status.device.id})`],
                ['workspace', `${status.workspace.name ?? '?'} (${status.workspace.id ?? '?'})`],
                ['contacts', `${status.counts.contacts} (+${status.counts.removedContacts} removed)`],
                ['organizations', String(status.counts.orgs)],
                ['devices', String(status.counts.devices)],
                ['data dir', status.dataDir],
                ['store', `${status.store.file} (${bytes(status.store.bytes)})`],
                ...status.peers.map((p) => [`peer ${p.name ?? p.deviceId.slice(0, 8)}`, `${syncText(p.sync)} (${p.deviceId})`] as const),
              ]),
            )
          } finally {
            view.close()
          }
        }),
      )
  },
}

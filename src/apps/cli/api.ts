/**
 * The one code path of a command (docs/architecture.md, "One code path per command"): it asks an
 * `OrbitApi`, which is the running `orbit serve` on this data dir when there is one (over its
 * control socket, so two processes never write the same store), else the device opened here for
 * the command's duration, flushed and closed after.
 */
import type { OrbitApi } from '../node/api.js'

/**
 * Runs `fn` against the data dir's API and resolves once its changes are durable.
 *
 * A command that found no daemon waits for the data dir's writer lock; a daemon that starts
 * meanwhile takes that lock for as long as it runs, so the wait gives way to it (before `fn` ran)
 * and the command goes through the daemon, which itself waits for a daemon still starting.
 * @param handovers how many more times a wait may give way to a daemon (one that stops again
 *   before it is reached sends the command back to the start).
 * @throws whatever `fn` throws; StoreError `NOT_INITIALISED` and the store's refusals in-process.
 */
export async function withApi<T>(dataDir: string, fn: (api: OrbitApi) => Promise<T>, handovers = 3): Promise<T> {
  const { findDaemon, remoteApi } = await import('../control/client.js')
  const endpoint = findDaemon(dataDir)
  if (endpoint !== undefined) return fn(remoteApi(endpoint))
  const { withDevice } = await import('../node/device.js')
  const { localApi } = await import('../node/api.js')
  const { createLogger } = await import('../../adapters/log/pino.js')
  try {
    return await withDevice(
      dataDir,
      async (device) => {
        const api = localApi(device, { logger: createLogger() })
        try {
          return await fn(api)
        } finally {
          // Offers and answers this command held end with it, before the device closes.
          await api.close()
        }
      },
      handovers > 0 ? { yieldTo: () => findDaemon(dataDir) !== undefined } : {},
    )
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'DAEMON_STARTED') throw error
    // The daemon seen may have stopped again since: then the command starts over.
    const started = findDaemon(dataDir)
    return started === undefined ? withApi(dataDir, fn, handovers - 1) : fn(remoteApi(started))
  }
}

/**
 * The one code path of a command (docs/architecture.md, "One code path per command"): it asks an
 * `OrbitApi`, which is the running `orbit serve` on this data dir when there is one (over its
 * control socket, so two processes never write the same store), else the device opened here for
 * the command's duration, flushed and closed after.
 */
import type { OrbitApi } from '../node/api.js'

/**
 * Runs `fn` against the data dir's API and resolves once its changes are durable.
 * @throws whatever `fn` throws; StoreError `NOT_INITIALISED` and the store's refusals in-process.
 */
export async function withApi<T>(dataDir: string, fn: (api: OrbitApi) => Promise<T>): Promise<T> {
  const { findDaemon, remoteApi } = await import('../control/client.js')
  const endpoint = findDaemon(dataDir)
  if (endpoint !== undefined) return fn(remoteApi(endpoint))
  const { withDevice } = await import('../node/device.js')
  const { localApi } = await import('../node/api.js')
  const { createLogger } = await import('../../adapters/log/pino.js')
  return withDevice(dataDir, async (device) => {
    const api = localApi(device, { logger: createLogger() })
    try {
      return await fn(api)
    } finally {
      // Offers and answers this command held end with it, before the device closes.
      await api.close()
    }
  })
}

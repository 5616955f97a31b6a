/** Reading the device's own config rows (light: no Automerge), shared by the fast and full paths. */
import { StoreError } from '../../core/errors.js'
import type { ConfigStore } from '../../adapters/storage-sqlite/index.js'
import { CONFIG_KEYS } from './data-dir.js'

export interface DeviceConfig {
  deviceId: string
  deviceName: string
  rootUrl: string
}

/** The error for a data dir without a device, saying what to run. */
export function notInitialised(dataDir: string): StoreError {
  return new StoreError(`No Orbit data in ${dataDir}. Run \`orbit init --name "My laptop"\` first (or pass \`--data DIR\`).`, {
    code: 'NOT_INITIALISED',
  })
}

export function readDeviceConfig(config: ConfigStore, dataDir: string): DeviceConfig
export function readDeviceConfig(config: ConfigStore, dataDir: string, options: { allowMissing: true }): DeviceConfig | undefined
export function readDeviceConfig(config: ConfigStore, dataDir: string, options: { allowMissing?: boolean } = {}): DeviceConfig | undefined {
  const rootUrl = config.get(CONFIG_KEYS.rootUrl)
  if (typeof rootUrl !== 'string') {
    if (options.allowMissing === true) return undefined
    throw notInitialised(dataDir)
  }
  const deviceId = config.get(CONFIG_KEYS.deviceId)
  const deviceName = config.get(CONFIG_KEYS.deviceName)
  return { rootUrl, deviceId: typeof deviceId === 'string' ? deviceId : '?', deviceName: typeof deviceName === 'string' ? deviceName : '?' }
}

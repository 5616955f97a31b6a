export * from './types.js'
export * from './txt.js'
export { Listeners } from './listeners.js'

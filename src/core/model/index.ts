/** The CRM model: schema types, validation, sharding and the workspace change API. */
export type * from './types.js'
export * from './validate.js'
export * from './shard.js'
export * from './records.js'
export * from './workspace.js'
export * from './patch.js'

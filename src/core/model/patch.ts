/**
 * Pure helpers of the workspace: how a validated patch is applied inside an Automerge change, and
 * which entities a document change touched (read from the change's patches).
 */
import { ValidationError } from '../errors.js'
import type { ContactId, DeviceId, OrgId } from '../ids.js'
import type { Contact } from './types.js'
import type { ContactPatch } from './validate.js'

/** Anything with an Automerge patch path. */
export interface PathPatch {
  readonly path: readonly unknown[]
}

/** Run `fn`, re-throwing a ValidationError with its field prefixed by the input's index (`[3].name`). */
export function prefixed<T>(index: number, fn: () => T): T {
  try {
    return fn()
  } catch (error) {
    if (error instanceof ValidationError) {
      const field = error.field === undefined ? `[${index}]` : `[${index}].${error.field}`
      throw new ValidationError(`[${index}] ${error.message}`, { field, cause: error })
    }
    throw error
  }
}

/**
 * Apply a validated patch to a contact inside an Automerge change callback.
 * `null` clears an optional field; lists are replaced as a whole; tags change key by key.
 */
export function applyContactPatch(c: Contact, patch: ContactPatch, now: number): void {
  if (patch.name !== undefined) c.name = patch.name
  if (patch.emails !== undefined) c.emails = [...(patch.emails ?? [])]
  if (patch.phones !== undefined) c.phones = [...(patch.phones ?? [])]
  if (patch.title === null) delete c.title
  else if (patch.title !== undefined) c.title = patch.title
  if (patch.orgId === null) delete c.orgId
  else if (patch.orgId !== undefined) c.orgId = patch.orgId
  if (patch.logo === null) delete c.logo
  else if (patch.logo !== undefined) c.logo = patch.logo
  // Tags change key by key (never by replacing the map) so concurrent tag edits merge as a set.
  // An add writes a fresh op even when the tag is present (Automerge skips a put of an equal
  // value, hence delete-then-put): the fresh op is concurrent with any remove made elsewhere, so
  // add wins over a concurrent remove of the same tag (an observed-remove set).
  const addTag = (tag: string) => {
    if (c.tags[tag] !== undefined) delete c.tags[tag]
    c.tags[tag] = true
  }
  if (patch.tags !== undefined) {
    const wanted = new Set(patch.tags ?? [])
    for (const tag of Object.keys(c.tags)) if (!wanted.has(tag)) delete c.tags[tag]
    for (const tag of wanted) addTag(tag)
  }
  for (const tag of patch.addTags ?? []) addTag(tag)
  for (const tag of patch.removeTags ?? []) if (c.tags[tag] !== undefined) delete c.tags[tag]
  c.updatedAt = now
}

/** Ids of the contacts (`contacts/<id>/...`) that a shard change touched, sorted. */
export function contactIdsTouched(patches: readonly PathPatch[], allIds: () => string[]): ContactId[] {
  const ids = new Set<string>()
  for (const { path } of patches) {
    if (path[0] !== 'contacts') continue
    if (typeof path[1] === 'string') ids.add(path[1])
    // The whole map replaced (e.g. a first load by sync): everything in it is touched.
    else if (path.length === 1) for (const id of allIds()) ids.add(id)
  }
  return [...ids].sort() as ContactId[]
}

/** What a root change touched: organization ids, device ids, and workspace-level fields. */
export function rootTouched(patches: readonly PathPatch[]): { orgs: OrgId[]; devices: DeviceId[]; workspace: boolean } {
  const orgs = new Set<string>()
  const devices = new Set<string>()
  let workspace = false
  for (const { path } of patches) {
    const [top, key] = path
    if (top === 'orgs' && typeof key === 'string') orgs.add(key)
    else if ((top === 'devices' || top === 'revocations') && typeof key === 'string') devices.add(key)
    else if (top === 'name' || top === 'shards' || top === 'workspaceId') workspace = true
  }
  return { orgs: [...orgs].sort() as OrgId[], devices: [...devices].sort() as DeviceId[], workspace }
}

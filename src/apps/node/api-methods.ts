/**
 * The names of the workspace methods `OrbitApi` carries, apart from the API itself: the control
 * client and protocol need them on every command routed to a daemon, and importing src/apps/node/api.ts
 * for them would load Automerge, SQLite and the crypto before the request is even sent.
 */
/** Workspace methods the API carries (each validates its own input). */
export const WORKSPACE_METHODS = [
  'addContact',
  'addContacts',
  'editContact',
  'removeContact',
  'restoreContact',
  'getContact',
  'listContacts',
  'addNote',
  'removeNote',
  'addOrg',
  'editOrg',
  'removeOrg',
  'restoreOrg',
  'getOrg',
  'listOrgs',
  'listDevices',
  'getDevice',
  'memberStatus',
] as const
export type WorkspaceMethod = (typeof WORKSPACE_METHODS)[number]

/** Methods among {@link WORKSPACE_METHODS} that only read. */
export const READ_METHODS: ReadonlySet<WorkspaceMethod> = new Set(['getContact', 'listContacts', 'getOrg', 'listOrgs', 'listDevices', 'getDevice', 'memberStatus'])

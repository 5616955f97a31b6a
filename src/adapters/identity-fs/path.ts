/** Where the identity file lives; apart from identity-fs.ts so that a path check loads no decoder. */
import { join } from 'node:path'

/** File name of the key file inside the identity directory. */
export const IDENTITY_FILE = 'identity.key'

/** Path of the key file for `dir`. */
export const identityPath = (dir: string): string => join(dir, IDENTITY_FILE)

export { saveIdentity, loadIdentity, identityPath, IDENTITY_FILE } from './identity-fs.js'

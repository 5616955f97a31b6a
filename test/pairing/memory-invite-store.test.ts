import { MemoryInviteStore } from '../../src/core/pairing/invite-store.js'
import { runInviteStoreTests } from './invite-store-suite.js'

runInviteStoreTests('memory', () => ({ store: new MemoryInviteStore() }))

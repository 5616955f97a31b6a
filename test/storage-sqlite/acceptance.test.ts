import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runStorageAdapterTests } from '@automerge/automerge-repo/helpers/tests/storage-adapter-tests.js'
import { openOrbitDatabase } from '../../src/adapters/storage-sqlite/database.js'
import { SqliteStorageAdapter } from '../../src/adapters/storage-sqlite/storage-adapter.js'

runStorageAdapterTests(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'orbit-sqlite-acceptance-'))
  const db = openOrbitDatabase(join(dir, 'store.sqlite'), { create: true })
  return {
    adapter: new SqliteStorageAdapter(db),
    teardown: () => {
      db.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}, 'SqliteStorageAdapter')

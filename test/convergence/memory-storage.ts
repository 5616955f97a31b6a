import type { Chunk, StorageAdapterInterface, StorageKey } from '@automerge/automerge-repo'

/**
 * An in-memory automerge-repo storage adapter (survives a Repo restart in one test process).
 * Prefixes match whole key segments: `[doc]` is a prefix of `[doc, "sync-state", x]`, not of `[doc2]`.
 */
export class MemoryStorage implements StorageAdapterInterface {
  readonly #data = new Map<string, { key: StorageKey; data: Uint8Array }>()

  async load(key: StorageKey): Promise<Uint8Array | undefined> {
    return this.#data.get(JSON.stringify(key))?.data.slice()
  }

  async save(key: StorageKey, data: Uint8Array): Promise<void> {
    this.#data.set(JSON.stringify(key), { key: [...key], data: data.slice() })
  }

  async remove(key: StorageKey): Promise<void> {
    this.#data.delete(JSON.stringify(key))
  }

  async loadRange(prefix: StorageKey): Promise<Chunk[]> {
    return [...this.#data.values()].filter(e => isPrefix(prefix, e.key)).map(e => ({ key: [...e.key], data: e.data.slice() }))
  }

  async removeRange(prefix: StorageKey): Promise<void> {
    for (const [k, e] of this.#data) if (isPrefix(prefix, e.key)) this.#data.delete(k)
  }
}

function isPrefix(prefix: StorageKey, key: StorageKey): boolean {
  return prefix.length <= key.length && prefix.every((s, i) => key[i] === s)
}

/**
 * Fuzzing the link itself (docs/protocol/link.md, docs/fuzzing.md): a raw peer on an in-memory
 * pipe sends a hello (valid or mutated) and then a run of envelopes of every kind, mutated, to a
 * real link host. The host must never throw or leave an exception behind; every problem it reports
 * is a typed `OrbitError`; what it hands on (Repo messages, blob messages, signals) comes from the
 * link's authenticated peer only, and only after a hello.
 */
import type { Message, PeerId } from '@automerge/automerge-repo'
import { describe, expect, it } from 'vitest'
import { OrbitError } from '../../src/core/errors.js'
import type { DeviceId } from '../../src/core/ids.js'
import { encodeHello } from '../../src/core/link/envelope.js'
import type { Prng } from '../helpers/prng.js'
import { MemoryLinkAdapter, memoryPipePair } from '../link/memory.js'
import { FUZZ_TEST_TIMEOUT, fuzz, mutateBytes } from './harness.js'
import { ENVELOPE_SEEDS } from './seeds.js'

const me = 'aaaa-device' as DeviceId
const them = 'zzzz-device' as DeviceId
const HELLO = encodeHello({ versions: [1], peerId: them as unknown as PeerId, peerMetadata: {}, features: [1, 2, 3, 4, 5] })

interface LinkScript {
  hello: Uint8Array | undefined
  envelopes: Uint8Array[]
}

function linkScript(prng: Prng): LinkScript {
  const r = prng.next()
  return {
    hello: r < 0.75 ? HELLO : r < 0.9 ? mutateBytes(prng, [HELLO]) : undefined,
    envelopes: Array.from({ length: prng.int(1, 24) }, () => (prng.chance(0.3) ? prng.pick(ENVELOPE_SEEDS) : mutateBytes(prng, ENVELOPE_SEEDS))),
  }
}

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0))

describe('fuzz: a link host and a raw peer', () => {
  it(
    'a hello then mutated envelopes of every kind: no throw, typed link errors only, nothing handed on before a hello or from anyone else',
    async () => {
      const totals = { errors: 0, handed: 0 }
      const r = await fuzz<LinkScript>({
        name: 'link',
        seeds: [],
        generate: linkScript,
        inputs: 1500,
        run: async (script) => {
          const host = new MemoryLinkAdapter({ localDeviceId: me })
          const errors: unknown[] = []
          const handed: Array<{ what: string; from: string }> = []
          let helloSeen = false
          host.on2('link-error', (e) => errors.push(e.error))
          host.on2('peer-summary', () => (helloSeen = true))
          host.on('peer-candidate', () => (helloSeen = true))
          host.on('message', (m: Message) => handed.push({ what: `message before hello: ${!helloSeen}`, from: String(m.senderId) }))
          host.blobPort().onBlob((from) => handed.push({ what: `blob before hello: ${!helloSeen}`, from }))
          host.signalPort().onSignal((from) => handed.push({ what: `signal before hello: ${!helloSeen}`, from }))
          host.connect(me as unknown as PeerId, {})
          const [hostEnd, raw] = memoryPipePair(me, them)
          host.attach(hostEnd)
          if (script.hello !== undefined) raw.send(script.hello)
          await settle()
          for (const e of script.envelopes) raw.send(e)
          await settle()
          await settle()
          host.disconnect()
          for (const e of errors) if (!(e instanceof OrbitError)) throw new Error(`link-error carried ${String(e)}`)
          for (const h of handed) {
            if (h.what.endsWith('true')) throw new Error(h.what)
            if (h.from !== them) throw new Error(`${h.what.split(' ')[0]} handed on as from ${h.from}, the link is ${them}`)
          }
          totals.errors += errors.length
          totals.handed += handed.length
          return { errors: errors.length, handed: handed.length }
        },
      })
      console.log(`fuzz link: ${totals.handed} envelopes handed on, ${totals.errors} typed link errors`)
      if (r.inputs > 0) {
        expect(r.accepted).toBe(r.inputs)
        expect(totals.handed).toBeGreaterThan(0)
        expect(totals.errors).toBeGreaterThan(0)
      }
    },
    FUZZ_TEST_TIMEOUT,
  )
})

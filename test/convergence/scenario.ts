/**
 * One seeded convergence scenario: 3–5 devices on links of random tiers, random conflicting CRM
 * operations interleaved with partial, reordered and duplicated delivery, link cuts and device
 * disconnects; then heal and check. Everything random comes from the seed.
 */
import * as A from '@automerge/automerge'
import { vi } from 'vitest'
import { Prng } from '../helpers/prng.js'
import { checkWorld } from './checks.js'
import { OpLog, randomOp, recordInitial } from './ops.js'
import { buildWorld, deliverSome, heal, restart, seedRandomness, shutdown, tick, type Tier } from './world.js'

export interface ScenarioResult {
  seed: number
  devices: number
  ops: number
  healRounds: number
  delivered: number
  duplicated: number
  reordered: number
  dropped: number
  restarts: number
  /** The final heads of every shard, joined: equal for two runs of one seed when replay is exact. */
  fingerprint: string
  /** Documents whose materialized object showed the known Automerge bug (the listings were right). */
  staleObjects: string[]
}

/** Runs scenario `seed` under fake timers (the caller installs them). Throws on any violation. */
export async function runScenario(seed: number): Promise<ScenarioResult> {
  const rng = new Prng(seed)
  // The same fake wall clock for every run: Automerge puts a timestamp in each change (and its hash).
  vi.setSystemTime(1_700_000_000_000)
  const restoreRandomness = seedRandomness(new Prng(seed ^ 0x5eed5eed))
  // 3–5 devices, weighted to the smaller worlds: most interleavings already show with three.
  const n = rng.pick([3, 3, 3, 3, 3, 4, 4, 4, 5, 5])
  const tiers: Tier[] = ['reliable', 'ordered', 'hostile', 'hostile']
  const world = await buildWorld({
    devices: n,
    shardCount: rng.chance(0.7) ? 2 : 3,
    initialContacts: rng.int(2, 5),
    tierOf: () => rng.pick(tiers),
    upOf: () => rng.chance(0.85),
    storage: rng.chance(0.3),
  }).catch((error: unknown) => {
    restoreRandomness()
    throw error
  })
  const log = new OpLog()
  try {
    await recordInitial(log, world.devices[0]!, world.template.creation)
    const steps = rng.int(15, 40)
    for (let step = 0; step < steps; step++) {
      const r = rng.next()
      if (r < 0.32) {
        await randomOp(log, rng.pick(world.devices), rng)
      } else if (r < 0.7) {
        deliverSome(world, rng, rng.int(1, 8))
      } else if (r < 0.82) {
        // Lets automerge-repo's 100 ms sync throttle fire (or not yet).
        await vi.advanceTimersByTimeAsync(rng.int(1, 150))
      } else if (r < 0.89) {
        const link = rng.pick(world.hub.links)
        log.trace.push(`cut ${link.a.name}-${link.b.name}`)
        link.cut()
      } else if (r < 0.96) {
        const link = rng.pick(world.hub.links)
        log.trace.push(`restore ${link.a.name}-${link.b.name}`)
        link.restore()
      } else if (r < 0.98 && world.devices[0]?.storage !== undefined) {
        const d = rng.pick(world.devices)
        log.trace.push(`d${d.index} restart`)
        await restart(world, d)
      } else {
        const d = rng.pick(world.devices)
        if (d.adapter.online) {
          log.trace.push(`d${d.index} offline`)
          d.adapter.disconnect()
        } else {
          log.trace.push(`d${d.index} online`)
          d.adapter.connect(d.peerId, d.adapter.peerMetadata)
        }
      }
      await tick()
    }
    const healRounds = await heal(world)
    const notes = await checkWorld(world, log)
    // The shards' heads (the root's depend on document ids, which stay random).
    const shards = (await world.devices[0]!.ws.allHandles()).slice(1)
    const fingerprint = shards.map(h => A.getHeads(h.doc() as A.Doc<unknown>).join(',')).join('/')
    const stats = world.hub.links.map(l => l.stats)
    const sum = (k: 'delivered' | 'duplicated' | 'reordered' | 'dropped') => stats.reduce((s, x) => s + x[k], 0)
    return {
      seed,
      devices: n,
      ops: log.changes.length,
      healRounds,
      delivered: sum('delivered'),
      duplicated: sum('duplicated'),
      reordered: sum('reordered'),
      dropped: sum('dropped'),
      restarts: world.devices.reduce((x, d) => x + (d.restarts ?? 0), 0),
      fingerprint,
      staleObjects: notes.staleObjects,
    }
  } catch (error) {
    const e = error as Error
    e.message =
      `convergence scenario ${seed} failed: ${e.message}\n` +
      `  re-run it: ORBIT_SEED=${seed} npx vitest run test/convergence\n` +
      `  operations:\n    ${log.trace.slice(-60).join('\n    ')}`
    throw e
  } finally {
    await shutdown(world)
    restoreRandomness()
  }
}

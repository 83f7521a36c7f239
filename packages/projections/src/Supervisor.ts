/**
 * The supervisor of one projection: every `discoveryInterval` it works out which generations this code
 * should run (creating one for a first start or a new version), runs each in a fiber of its own (one per
 * generation, in a `FiberMap`, started again when its run ends), stops the runners of generations no
 * longer wanted, drops retired generations past their grace and applies erasures to generations no runner
 * follows. A failing round is logged and the next one tries again.
 */
import { Clock, type Duration, Effect, FiberMap, Schedule } from "effect"
import type { SqlClient } from "effect/sql/SqlClient"
import * as Erasure from "./Erasure.ts"
import type { Projection } from "./Projection.ts"
import type { Registry } from "./Registry.ts"
import type { Runner } from "./Runner.ts"

/** The generations of `projection` this code should be running now (creating one when needed). */
export const generationsToRun = (registry: Registry, projection: Projection) =>
  Effect.gen(function*() {
    const all = yield* registry.generationsOf(projection.name)
    const active = all.find((g) => g.state === "active")
    const building = all.find((g) => g.state === "building" && g.version === projection.version)
    const wanted: Array<number> = []
    if (active === undefined || (active.version !== projection.version && building === undefined)) {
      // First start, or new code whose version has no generation yet: create one.
      const created = yield* registry.createGeneration(projection)
      wanted.push(created.generation)
    } else if (building !== undefined) {
      wanted.push(building.generation)
    }
    if (active !== undefined && active.version === projection.version && !wanted.includes(active.generation)) {
      wanted.push(active.generation)
    }
    return wanted
  })

export interface SupervisorOptions {
  readonly sql: SqlClient
  readonly registry: Registry
  readonly runner: Runner
  readonly discoveryInterval: Duration.Input
  /** Seconds a retired generation's tables are kept after the switch. */
  readonly graceSeconds: number
}

export const make = ({ discoveryInterval, graceSeconds, registry, runner, sql }: SupervisorOptions) => {
  /**
   * Erasure across generations: drops retired generations past their grace, then applies the erasure
   * events to every generation no runner follows (retired within the grace, abandoned building ones).
   */
  const eraseUnfollowed = (projection: Projection) =>
    Effect.gen(function*() {
      yield* registry.prune(projection.name, graceSeconds)
      if (!Erasure.redacts(projection)) return
      const unfollowed = Erasure.unfollowed(yield* registry.generationsOf(projection.name), yield* Clock.currentTimeMillis)
      for (const g of unfollowed) {
        const applied = yield* Erasure.catchUp(sql, registry, projection, g.generation)
        if (applied > 0) {
          yield* Effect.logInfo("erasures applied to a generation no runner follows", {
            projection: projection.name,
            generation: g.generation,
            applied
          })
        }
      }
    })

  /** Supervises `projection` until interrupted (needs the `EventStore` its runners read and write with). */
  const supervise = (projection: Projection) =>
    Effect.gen(function*() {
      const fibers = yield* FiberMap.make<number>()
      const started = new Set<number>()
      const tick = Effect.gen(function*() {
        const wanted = yield* generationsToRun(registry, projection)
        for (const generation of wanted) {
          yield* FiberMap.run(
            fibers,
            generation,
            runner.run(projection, generation).pipe(
              Effect.tap((outcome) => Effect.logDebug("projection run ended", { projection: projection.name, generation, outcome })),
              Effect.catch((error) => Effect.logWarning("projection run failed", { projection: projection.name, generation, error: error.message }))
            ),
            { onlyIfMissing: true }
          )
          started.add(generation)
        }
        // Generations no longer wanted (retired, or replaced by new code): stop their runners.
        for (const key of started) {
          if (!wanted.includes(key)) {
            yield* FiberMap.remove(fibers, key)
            started.delete(key)
          }
        }
        yield* eraseUnfollowed(projection)
      }).pipe(
        Effect.withSpan("Supervisor.tick", { attributes: { projection: projection.name } }),
        Effect.catch((error) => Effect.logWarning("projection supervisor", { projection: projection.name, error: String(error) }))
      )
      yield* tick.pipe(Effect.repeat(Schedule.spaced(discoveryInterval)))
    }).pipe(Effect.scoped)

  return { supervise, eraseUnfollowed }
}

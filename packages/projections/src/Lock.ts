/**
 * The advisory lock that makes a runner exclusive: one session lock per (projection, generation), held on
 * a reserved connection for as long as the caller's scope. When the holder dies its connection closes and
 * the lock frees; `lost` fails as soon as the holder's own lock connection is gone, so a run never goes on
 * believing it holds a lock the server has already released.
 */
import { type Duration, Effect, Option, Schedule } from "effect"
import type { SqlClient } from "effect/sql/SqlClient"
import { RunnerFailure } from "./Failures.ts"
import type { Projection } from "./Projection.ts"
import type { Registry } from "./Registry.ts"

export const lockKey = (name: string, generation: number) => `verity_projections:${name}:${generation}`

export interface LockOptions {
  /** How often a runner waiting for the lock tries again. */
  readonly retry: Duration.Input
  /** How often the holder checks its lock's connection. */
  readonly heartbeatInterval: Duration.Input
}

export type Lock =
  | { readonly locked: false }
  | { readonly locked: true; readonly lost: Effect.Effect<never, RunnerFailure> }

/**
 * Holds the generation's advisory lock for as long as the surrounding scope, retrying until it is free.
 * Gives up (`locked: false`) when the generation is retired meanwhile, or when `untilActive` and another
 * runner has already made it active or had its switch refused.
 */
export const acquire = Effect.fn("Lock.acquire")(function*(
  sql: SqlClient,
  registry: Registry,
  options: LockOptions,
  projection: Projection,
  generation: number,
  untilActive = false
) {
  const unlocked: Lock = { locked: false }
  const connection = yield* sql.reserve
  const key = lockKey(projection.name, generation)
  while (true) {
    const rows = yield* connection.executeValues("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", [key])
    if (rows[0]?.[0] === true) break
    const current = yield* registry.generation(projection.name, generation)
    if (Option.isNone(current) || current.value.state === "retired") return unlocked
    if (untilActive && (current.value.state === "active" || current.value.refusal !== null)) return unlocked
    yield* Effect.sleep(options.retry)
  }
  yield* Effect.addFinalizer(() => connection.executeValues("SELECT pg_advisory_unlock(hashtextextended($1, 0))", [key]).pipe(Effect.ignore))
  const lost: Effect.Effect<never, RunnerFailure> = connection.executeValues("SELECT 1", []).pipe(
    Effect.repeat(Schedule.spaced(options.heartbeatInterval)),
    Effect.andThen(Effect.never),
    Effect.mapError(() => new RunnerFailure({ reason: "LockLost", projection: projection.name, generation, detail: "its connection closed" }))
  )
  const held: Lock = { locked: true, lost }
  return held
})
